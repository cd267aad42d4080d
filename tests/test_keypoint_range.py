"""Finite but absurd coordinates are refused, by one shared rule.

A probe scaled a file's keypoints by 1e6 and 1e30: MMPose trained with a
loss of 4e5 / 4e29; 1e308 tested as ``NME: inf`` with exit status 0. The
data sets now refuse, at load time, any value beyond ``MAX_ABS_COORDINATE``
and any labelled point further outside the image (or the crop box) than
``max_keypoint_margin`` times its size; the converters apply the same limit
and rule (:mod:`repformer_mmpose.datasets.keypoint_range`), so what a
converter writes a data set loads. The files are made here (no shared data).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

import repformer_mmpose.datasets.validation as validation
from repformer_mmpose.datasets import (AnnotationError, FaceLandmarkDataset,
                                       RePFormer300WDataset)
from repformer_mmpose.datasets import keypoint_range
from repformer_mmpose.datasets.converters import ConversionError, core
from repformer_mmpose.datasets.converters.custom import convert_custom

META_300W = str(
    Path(__import__('mmpose').__file__).parent / '.mim' / 'configs' /
    '_base_' / 'datasets' / '300w.py')
WIDTH, HEIGHT = 320, 240
RECORD = 'annotation id 1 (image face.png)'
IMAGE_RULE = ('lies outside the 320 x 240 image plus a margin of 1 x its '
              'size (allowed: x in [-320, 640], y in [-240, 480]); the '
              'dataset argument max_keypoint_margin sets the margin')


def _points() -> np.ndarray:
    """68 points of a face in the middle of the image."""
    rng = np.random.default_rng(5)
    return rng.uniform([120, 80], [200, 160], (68, 2))


def _write_set(root: Path, points: np.ndarray, sizes: bool = True,
               center=(160.0, 120.0), scale=0.45) -> Path:
    """A 300W-style file: one face, ``center``/``scale`` as given."""
    root.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / 'face.png'), np.zeros((HEIGHT, WIDTH, 3),
                                                 np.uint8))
    image = dict(id=1, file_name='face.png')
    if sizes:
        image.update(width=WIDTH, height=HEIGHT)
    keypoints = np.concatenate([points, np.ones((len(points), 1))], 1)
    coco = dict(images=[image], annotations=[dict(
        id=1, image_id=1, category_id=1, iscrowd=0, num_keypoints=68,
        keypoints=keypoints.reshape(-1).tolist(), center=list(center),
        scale=scale)], categories=[dict(id=1, name='face')])
    path = root / 'faces.json'
    path.write_text(json.dumps(coco))
    return path


def _load(root: Path, **kwargs) -> RePFormer300WDataset:
    return RePFormer300WDataset(
        data_root=str(root), ann_file='faces.json', data_prefix=dict(img=''),
        serialize_data=False, metainfo=dict(from_file=META_300W), **kwargs)


def _refused(root: Path, **kwargs) -> AnnotationError:
    with pytest.raises(AnnotationError) as info:
        _load(root, **kwargs)
    error = info.value
    assert error.ann_file == str(root / 'faces.json')
    assert error.record == RECORD
    assert '\n' not in str(error)
    return error


@pytest.mark.parametrize('factor, message', [
    (1e6, 'point 0 x: value 1.3e+08 out of range (|value| > 1e+06)'),
    (1e30, 'point 0 x: value 1.3e+32 out of range (|value| > 1e+06)'),
])
def test_scaled_keypoints_are_refused(tmp_path, factor, message):
    points = _points()
    points[0] = [130.0, 100.0]
    _write_set(tmp_path, points * factor)
    error = _refused(tmp_path)
    assert (error.field, error.reason) == ('keypoints',
                                           validation.KEYPOINT_RANGE)
    assert str(error) == (f"{tmp_path / 'faces.json'}: {RECORD}: field "
                          f"'keypoints': {message}")


def test_keypoint_at_1e308_is_refused(tmp_path):
    points = _points()
    points[7, 1] = 1e308
    _write_set(tmp_path, points)
    error = _refused(tmp_path)
    assert error.message == ('point 7 y: value 1e+308 out of range '
                             '(|value| > 1e+06)')


def test_point_beyond_the_image_margin(tmp_path):
    points = _points()
    points[3] = [-50000.0, 100.0]
    _write_set(tmp_path, points)
    error = _refused(tmp_path)
    assert error.reason == validation.KEYPOINT_RANGE
    assert error.message == f'point 3 at (-50000, 100) {IMAGE_RULE}'
    # just inside the margin: accepted (the crop box is widened to hold it)
    points[3] = [-319.0, 100.0]
    _write_set(tmp_path, points, center=(0.0, 120.0), scale=3.3)
    assert len(_load(tmp_path)) == 1


def test_point_beyond_the_crop_box_margin(tmp_path):
    """Without image sizes in the file the crop box is the reference."""
    points = _points() * 10  # a scale error: points 1200..2000
    _write_set(tmp_path, points, sizes=False)
    error = _refused(tmp_path)
    x, y = points[0]
    assert error.message == (
        f'point 0 at ({x:.6g}, {y:.6g}) lies outside the crop box '
        '(center/scale) [115, 75, 205, 165] plus a margin of 1 x its size '
        '(allowed: x in [25, 295], y in [-15, 255]); the dataset argument '
        'max_keypoint_margin sets the margin')


def test_margin_is_configurable(tmp_path):
    points = _points()
    points[3] = [-500.0, 100.0]  # 1.56 image widths to the left
    _write_set(tmp_path, points, center=(-150.0, 120.0), scale=4.0)
    assert 'x in [-320, 640]' in _refused(tmp_path).message
    assert len(_load(tmp_path, max_keypoint_margin=2.0)) == 1
    assert len(_load(tmp_path, max_keypoint_margin=None)) == 1
    for bad in (-1, float('nan'), 'wide', True):
        with pytest.raises(ValueError, match='max_keypoint_margin must be '
                           'a finite number >= 0'):
            _load(tmp_path, max_keypoint_margin=bad)


def test_out_of_range_values_are_refused_with_the_margin_off(tmp_path):
    points = _points()
    points[0, 0] = 2e6
    _write_set(tmp_path, points)
    error = _refused(tmp_path, max_keypoint_margin=None)
    assert error.message == ('point 0 x: value 2e+06 out of range '
                             '(|value| > 1e+06)')
    # the crop box's fields too
    _write_set(tmp_path, _points(), center=(160.0, 1e308))
    error = _refused(tmp_path, max_keypoint_margin=None)
    assert (error.field, error.message) == (
        'center', 'value 1e+308 out of range (|value| > 1e+06) at position 1')


def test_skip_invalid_counts_out_of_range(tmp_path):
    points = _points()
    points[0] = [1e5, 1e5]
    path = _write_set(tmp_path, points)
    coco = json.loads(path.read_text())
    good = dict(coco['annotations'][0], id=2,
                keypoints=np.concatenate([_points(), np.ones((68, 1))],
                                         1).reshape(-1).tolist())
    coco['annotations'].append(good)
    path.write_text(json.dumps(coco))
    dataset = _load(tmp_path, skip_invalid=True)
    assert [dataset.get_data_info(i)['id'] for i in range(len(dataset))
            ] == [2]
    assert dataset.invalid_records.counts() == {validation.KEYPOINT_RANGE: 1}


def test_invisible_points_need_no_margin(tmp_path):
    """Missing points (visibility 0) are written as (0, 0) by the custom
    converter; far from a face in a big image, they are not checked."""
    points = _points()
    path = _write_set(tmp_path, points, sizes=False)
    coco = json.loads(path.read_text())
    coco['annotations'][0]['keypoints'][0:3] = [0, 0, 0]
    path.write_text(json.dumps(coco))
    assert len(_load(tmp_path)) == 1


# ----------------------------------------------------------------------
# one definition for the converters and the data sets
# ----------------------------------------------------------------------
def test_converters_and_datasets_share_the_limits():
    assert core.MAX_ABS_VALUE is keypoint_range.MAX_ABS_COORDINATE == 1e6
    with pytest.raises(ConversionError, match=re.escape(
            "out of range (|value| > 1e+06)")):
        core.parse_float('1.5e6', source='a.txt', location='line 1',
                         field='x')


def _custom_set(root: Path, x: float) -> Path:
    """A custom CSV: 5 points in a 320 x 240 image, point 1 at ``x``."""
    (root / 'images').mkdir(parents=True)
    cv2.imwrite(str(root / 'images' / 'im0.png'),
                np.zeros((HEIGHT, WIDTH, 3), np.uint8))
    points = [(100, 100), (x, 110), (150, 120), (130, 150), (120, 90)]
    cells = [f'{v:g}' for point in points for v in point]
    (root / 'faces.csv').write_text('im0.png,' + ','.join(cells) + '\n')
    return root


@pytest.mark.parametrize('margin', [1.0, 0.25])
def test_custom2coco_applies_the_dataset_rule(tmp_path, margin):
    """Just outside the margin: the converter refuses; just inside: it
    converts, and the data set loads what it wrote."""
    limit = -margin * WIDTH
    root = _custom_set(tmp_path / 'out', limit - 1)
    with pytest.raises(ConversionError) as info:
        convert_custom(root, ['faces.csv'], max_keypoint_margin=margin,
                       log=lambda line: None)
    assert str(info.value) == (
        f"{root / 'faces.csv'}, line 1: field 'kpt-1': point 1 at "
        f'({limit - 1:g}, 110) lies outside the 320 x 240 image plus a '
        f'margin of {margin:g} x its size (allowed: x in [{limit:g}, '
        f'{WIDTH - limit:g}], y in [{-margin * HEIGHT:g}, '
        f'{HEIGHT * (1 + margin):g}]); --max-keypoint-margin sets the '
        'margin')
    assert not (root / 'annotations').exists()

    root = _custom_set(tmp_path / 'in', limit + 1)
    convert_custom(root, ['faces.csv'], max_keypoint_margin=margin,
                   log=lambda line: None)
    dataset = FaceLandmarkDataset(
        data_root=str(root), ann_file='annotations/faces.json',
        data_prefix=dict(img='images/'), serialize_data=False,
        metainfo=dict(from_file=str(root / 'annotations' / 'metainfo.py')),
        max_keypoint_margin=margin)
    assert dataset.get_data_info(0)['keypoints'][0, 1, 0] == limit + 1


def test_custom2coco_refuses_minus_50000_in_a_320_px_image(tmp_path):
    root = _custom_set(tmp_path, -50000)
    with pytest.raises(ConversionError, match=r"line 1: field 'kpt-1': "
                       r'point 1 at \(-50000, 110\) lies outside the 320 x '
                       '240 image'):
        convert_custom(root, ['faces.csv'], log=lambda line: None)
