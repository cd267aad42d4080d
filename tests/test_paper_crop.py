"""The paper's crop: ``bbox_field='crop_bbox'`` + ``bbox_padding=1.0``.

A record's ``crop_bbox`` (what our converters write) becomes the crop
unpadded; MMPose's ``GetBBoxCenterScale``, which would ignore the
padding, is refused.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from mmengine.registry import DefaultScope
from mmpose.registry import DATASETS, TRANSFORMS

import repformer_mmpose  # noqa: F401

PIPELINE = [dict(type='LoadFaceImage'), dict(type='GetFaceBBoxCenterScale')]


@pytest.fixture
def crop_annotations(face300w_fixture, tmp_path):
    """The 300W fixture with a hand-made ``crop_bbox`` on every face."""
    with open(face300w_fixture / 'test_300w.json') as f:
        data = json.load(f)
    boxes = {}
    for index, ann in enumerate(data['annotations']):
        box = [10. + index, 20., 100. + 10 * index, 80.]  # x, y, w, h
        ann['crop_bbox'] = box
        boxes[ann['id']] = box
    path = tmp_path / 'crop.json'
    path.write_text(json.dumps(data))
    return path, boxes


def _build(path, root, **options):
    # the hand-made boxes do not hold the faces: the landmark range check
    # (tests/test_keypoint_range.py) would refuse them
    options.setdefault('max_keypoint_margin', None)
    cfg = dict(
        type='RePFormer300WDataset',
        data_root=str(root),
        ann_file=str(path),
        data_prefix=dict(img=''),
        test_mode=True,
        pipeline=options.pop('pipeline', PIPELINE),
        **options)
    with DefaultScope.overwrite_default_scope('mmpose'):
        return DATASETS.build(cfg)


@pytest.mark.parametrize('padding, factor', [(1.0, 1.0), (None, 1.25)])
def test_crop_box_is_the_protocol_box(crop_annotations, face300w_fixture,
                                      padding, factor):
    path, boxes = crop_annotations
    dataset = _build(
        path, face300w_fixture, bbox_field='crop_bbox', bbox_padding=padding)
    assert len(dataset) == len(boxes)
    for index in range(len(dataset)):
        sample = dataset[index]
        x, y, w, h = boxes[sample['id']]
        np.testing.assert_allclose(sample['bbox_center'][0],
                                   [x + w / 2, y + h / 2])
        np.testing.assert_allclose(sample['bbox_scale'][0],
                                   [w * factor, h * factor])


def test_mmpose_box_is_unchanged_without_options(crop_annotations,
                                                 face300w_fixture):
    """Default: the file's center/scale, padded x1.25, as MMPose."""
    path, _ = crop_annotations
    with open(path) as f:
        anns = {a['id']: a for a in json.load(f)['annotations']}
    sample = _build(path, face300w_fixture)[0]
    ann = anns[sample['id']]
    np.testing.assert_allclose(sample['bbox_center'][0], ann['center'])
    np.testing.assert_allclose(sample['bbox_scale'][0],
                               [ann['scale'] * 200 * 1.25] * 2, rtol=1e-6)


def test_mmpose_transform_is_refused_with_a_padding(crop_annotations,
                                                    face300w_fixture):
    path, _ = crop_annotations
    with pytest.raises(ValueError, match='GetFaceBBoxCenterScale'):
        _build(
            path,
            face300w_fixture,
            bbox_field='crop_bbox',
            bbox_padding=1.0,
            pipeline=[dict(type='GetBBoxCenterScale')])
    with pytest.raises(ValueError, match='positive'):
        _build(path, face300w_fixture, bbox_padding=0.)


def test_missing_crop_box_names_the_field(face300w_fixture):
    """MMPose's own files have no crop_bbox: a named error."""
    with pytest.raises(ValueError, match='crop_bbox'):
        _build(face300w_fixture / 'test_300w.json', face300w_fixture,
               bbox_field='crop_bbox', bbox_padding=1.0)


def test_transform_uses_the_record_padding_once():
    transform = TRANSFORMS.build(dict(type='GetFaceBBoxCenterScale'))
    box = np.array([[0., 0., 40., 20.]], dtype=np.float32)
    padded = transform(dict(bbox=box.copy()))
    exact = transform(dict(bbox=box.copy(), bbox_padding=1.0))
    np.testing.assert_allclose(padded['bbox_scale'][0], [50., 25.])
    np.testing.assert_allclose(exact['bbox_scale'][0], [40., 20.])
    assert transform.padding == 1.25  # the record did not change it
