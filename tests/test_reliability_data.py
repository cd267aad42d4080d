"""Bad data gets an error naming the file, the record and the field.

Real MMPose annotation files and images (the conftest fixtures) are copied
into ``tmp_path`` and broken one way at a time: wrong keypoint count,
NaN/inf coordinates, a box outside the image, a missing field, an empty or
malformed file, an annotation without an image entry, records MMPose's own
filter would drop silently, a missing or corrupt image, an unknown type in a
config. Each gives a clear error; with ``skip_invalid=True`` the bad records
are skipped and counted per reason in a logged report, never silently.
"""
from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mmpose.datasets.datasets.face import (AFLWDataset, COFWDataset,
                                           Face300WDataset, WFLWDataset)
from mmpose.datasets.transforms import GetBBoxCenterScale, LoadImage
from mmpose.registry import DATASETS

import repformer_mmpose.datasets.validation as validation
from repformer_mmpose.datasets import (AnnotationError, FaceLandmarkDataset,
                                       RePFormer300WDataset,
                                       RePFormerAFLWDataset,
                                       RePFormerCOFWDataset,
                                       RePFormerWFLWDataset)
from repformer_mmpose.datasets.transforms import (ImageLoadError,
                                                  LoadFaceImage)
from repformer_mmpose.engine import UnknownTypeError

REPO = Path(__file__).resolve().parents[1]
MMPOSE_META = Path(
    __import__('mmpose').__file__).parent / '.mim' / 'configs' / '_base_' / (
        'datasets')
# the fixture's records (test_300w.json): annotation id -> image
REC_197 = 'annotation id 197 (image indoor_029.png)'


@pytest.fixture
def face300w(tmp_path, fixture_dir) -> tuple[Path, dict]:
    """A writable copy of the 300W fixture and its parsed JSON."""
    root = tmp_path / '300w'
    shutil.copytree(fixture_dir('300w'), root)
    data = json.loads((root / 'test_300w.json').read_text())
    return root, data


def _write(root: Path, data, name: str = 'bad.json') -> Path:
    path = root / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def _build(cls, root: Path, ann_file: str = 'bad.json', **kwargs):
    kwargs.setdefault('metainfo', dict(
        from_file=str(MMPOSE_META / Path(cls.METAINFO['from_file']).name))
        if cls.METAINFO else None)
    return cls(data_root=str(root), ann_file=ann_file,
               data_prefix=dict(img=''), serialize_data=False, **kwargs)


def _ann(data: dict, ann_id: int = 197) -> dict:
    (ann, ) = [a for a in data['annotations'] if a['id'] == ann_id]
    return ann


def _expect(root: Path, data, match: str, cls=RePFormer300WDataset,
            **kwargs) -> AnnotationError:
    path = _write(root, data)
    with pytest.raises(AnnotationError) as info:
        _build(cls, root, **kwargs)
    error = info.value
    assert error.ann_file == str(path)
    assert str(path) in str(error)
    assert re.search(match, str(error)), str(error)
    return error


# ----------------------------------------------------------------------
# one bad record each
# ----------------------------------------------------------------------
def test_wrong_keypoint_count_names_file_record_field(face300w):
    root, data = face300w
    _ann(data)['keypoints'] = _ann(data)['keypoints'][:-3]
    error = _expect(root, data, '67 points, the dataset has 68')
    assert (error.record, error.field) == (REC_197, 'keypoints')
    assert error.reason == validation.KEYPOINT_COUNT


@pytest.mark.parametrize('value, shown', [(float('nan'), 'nan'),
                                          (float('inf'), 'inf'),
                                          (float('-inf'), '-inf')])
def test_non_finite_coordinate_names_the_point(face300w, value, shown):
    root, data = face300w
    _ann(data)['keypoints'][3 * 5 + 1] = value  # point 5, y
    # json writes NaN / Infinity literals, which json (and MMPose) read
    error = _expect(root, data, rf'point 5 y is {shown}$')
    assert (error.record, error.field) == (REC_197, 'keypoints')
    assert error.reason == validation.NON_FINITE


def test_non_finite_scale_is_refused(face300w):
    root, data = face300w
    _ann(data)['scale'] = float('nan')
    error = _expect(root, data, "field 'scale': non-finite value nan")
    assert error.record == REC_197


def test_box_outside_the_image(face300w):
    root, data = face300w
    _ann(data)['center'] = [5000.0, 400.0]  # the image is 960 x 845
    error = _expect(root, data, 'lies outside the 960 x 845 image')
    assert (error.record, error.field) == (REC_197, 'center/scale')
    assert error.reason == validation.BOX_OUTSIDE_IMAGE


def test_crop_bbox_outside_the_image(face300w):
    root, data = face300w
    for ann in data['annotations']:
        ann['crop_bbox'] = [100.0, 100.0, 300.0, 300.0]
    _ann(data)['crop_bbox'] = [-400.0, 10.0, 350.0, 300.0]  # x1 = -50
    error = _expect(root, data, r'\[-400.0, 10.0, -50.0, 310.0\] lies '
                    'outside', bbox_field='crop_bbox')
    assert (error.record, error.field) == (REC_197, 'crop_bbox')


def test_missing_crop_bbox_field(face300w):
    root, data = face300w
    error = _expect(root, data, "field 'crop_bbox': missing",
                    bbox_field='crop_bbox')
    assert error.reason == validation.MISSING_FIELD


def test_missing_center_is_named_not_a_bare_keyerror(face300w):
    root, data = face300w
    del _ann(data)['center']
    _expect(root, data, f"{re.escape(REC_197)}: field 'center': missing")


def test_annotation_without_image_entry(face300w):
    root, data = face300w
    _ann(data)['image_id'] = 12345
    path = _write(root, data)
    # MMPose walks the images: it never sees this record, and says nothing
    assert len(_build(Face300WDataset, root)) == 1
    error = _expect(root, data, "no entry with id 12345 in \"images\"")
    assert error.field == 'image_id' and str(path) in str(error)


def test_record_mmpose_would_drop_silently(face300w):
    root, data = face300w
    _ann(data)['num_keypoints'] = 0
    assert len(_build(Face300WDataset, _write(root, data).parent)) == 1
    _expect(root, data, r'annotation id 197 \(image .*indoor_029.png\): '
            "field 'record': MMPose would drop it: num_keypoints is 0")


@pytest.mark.parametrize('field, value, match', [
    ('image_id', [197], r"field 'image_id': no entry with id \[197\]"),
    ('keypoints', {'x': 1}, "field 'keypoints': expected a flat list"),
    ('keypoints', [10**400] * 204, "field 'keypoints': value out of float "
     'range'),
    ('keypoints', ['1'] * 204, "field 'keypoints': expected numbers"),
    ('scale', -1.0, "field 'scale': not positive"),
    ('center', [1.0], "field 'center': 1 values, expected 2"),
])
def test_malformed_values_are_named(face300w, field, value, match):
    root, data = face300w
    _ann(data)[field] = value
    _expect(root, data, match)


def test_duplicate_annotation_id_is_a_file_error(face300w):
    root, data = face300w
    data['annotations'][1]['id'] = data['annotations'][0]['id']
    _expect(root, data, 'duplicate annotation id')


# ----------------------------------------------------------------------
# the file
# ----------------------------------------------------------------------
@pytest.mark.parametrize('text, match', [
    ('', 'the file is empty'),
    ('   \n', 'the file is empty'),
    ('{"images": [], "annotations": []}', 'holds no annotation'),
    ('{"images": [', r'not valid JSON: .* line 1 column'),
    ('[1, 2]', 'expected a JSON object, got list'),
    ('{"annotations": [{"id": 1}]}', "field 'images': missing or not a list"),
    ('{"images": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1}]}',
     "images\\[0\\]: field 'file_name': missing or not a non-empty "
     'string'),
    ('{"images": [{"id": "a", "file_name": "x.png"}], "annotations": '
     '[{"id": 1}]}', 'not an object with an integer "id"'),
])
def test_bad_annotation_file(face300w, text, match):
    root, _ = face300w
    error = _expect(root, text, match)
    assert error.reason == validation.FILE


def test_bad_file_is_not_skipped(face300w):
    root, _ = face300w
    _expect(root, '', 'the file is empty', skip_invalid=True)


def test_missing_annotation_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.json'):
        _build(RePFormer300WDataset, tmp_path, 'nope.json')


# ----------------------------------------------------------------------
# images
# ----------------------------------------------------------------------
def test_missing_image_file_at_load_time(face300w):
    root, data = face300w
    (root / 'indoor_029.png').unlink()
    error = _expect(root, data, 'image file not found: .*indoor_029.png')
    assert (error.record, error.field) == (REC_197, 'file_name')


def test_corrupt_image_found_by_decode_check(face300w):
    root, data = face300w
    (root / 'indoor_029.png').write_bytes(b'\x89PNG\r\n\x1a\n garbage')
    # 'exists' (the default) does not read images
    assert len(_build(RePFormer300WDataset, _write(root, data).parent)) == 2
    error = _expect(root, data, 'image file cannot be decoded: '
                    '.*indoor_029.png', check_images='decode')
    assert error.record == REC_197


def test_image_size_mismatch_found_by_decode_check(face300w):
    root, data = face300w
    data['images'][0]['width'] += 1
    name = data['images'][0]['file_name']
    _expect(root, data, rf'{name} is \d+ x \d+, the image entry says',
            check_images='decode')


def _sample(root: Path, ann_id: int = 197) -> dict:
    dataset = _build(RePFormer300WDataset, root, 'test_300w.json')
    (info, ) = [dataset.get_data_info(i) for i in range(len(dataset))
                if dataset.get_data_info(i)['id'] == ann_id]
    return info


def test_mmpose_load_image_names_the_file(face300w):
    """Pins what MMPose's LoadImage says (why LoadFaceImage exists): the
    path, but an AssertionError for a corrupt file and no record."""
    root, _ = face300w
    info = _sample(root)
    Path(info['img_path']).unlink()
    with pytest.raises(FileNotFoundError, match='indoor_029.png'):
        LoadImage()(dict(info))
    Path(info['img_path']).write_bytes(b'not an image')
    with pytest.raises(AssertionError, match='failed to load image'):
        LoadImage()(dict(info))


def test_load_face_image_names_file_and_record(face300w):
    root, _ = face300w
    info = _sample(root)
    results = LoadFaceImage()(dict(info))
    assert results['img'].shape == (845, 960, 3)
    Path(info['img_path']).unlink()
    with pytest.raises(ImageLoadError) as missing:
        LoadFaceImage()(dict(info))
    assert str(missing.value) == (f'image {info["img_path"]} (annotation '
                                  'id 197, image id 197): file not found')
    Path(info['img_path']).write_bytes(b'not an image')
    with pytest.raises(ImageLoadError, match=r'\(annotation id 197, image '
                       r'id 197\): cannot be decoded \(12 bytes'):
        LoadFaceImage()(dict(info))
    with pytest.raises(ValueError, match='ignore_empty'):
        LoadFaceImage(ignore_empty=True)


# ----------------------------------------------------------------------
# skipping, counted
# ----------------------------------------------------------------------
def test_skip_invalid_counts_per_reason_and_logs(face300w, monkeypatch):
    root, data = face300w
    original_ids = sorted(a['id'] for a in data['annotations'])
    good = _ann(data, 197)
    extra = []
    for new_id, change in ((1, 'nan'), (2, 'count'), (3, 'orphan'),
                           (4, 'outside')):
        ann = copy.deepcopy(good)
        ann['id'] = new_id
        if change == 'nan':
            ann['keypoints'][0] = float('nan')
        elif change == 'count':
            ann['keypoints'] = ann['keypoints'][:6]
        elif change == 'orphan':
            ann['image_id'] = 999
        else:
            ann['center'] = [-900.0, -900.0]
        extra.append(ann)
    data['annotations'] += extra
    logged = []
    monkeypatch.setattr(validation, 'print_log',
                        lambda text, **kw: logged.append((text, kw)))
    _write(root, data)
    dataset = _build(RePFormer300WDataset, root, skip_invalid=True)
    assert sorted(dataset.get_data_info(i)['id']
                  for i in range(len(dataset))) == original_ids
    assert dataset.invalid_records.counts() == {
        validation.NON_FINITE: 1,
        validation.KEYPOINT_COUNT: 1,
        validation.NO_IMAGE_ENTRY: 1,
        validation.BOX_OUTSIDE_IMAGE: 1,
    }
    (text, kwargs), = logged
    assert kwargs['level'] == 30  # WARNING
    assert text.startswith('RePFormer300WDataset: skipped 4 invalid '
                           f'record(s) of {root / "bad.json"}')
    for line in ('  non-finite value: 1', '  wrong keypoint count: 1',
                 '  no image entry: 1', '  box outside the image: 1',
                 '    annotation id 1 (image indoor_029.png): field '
                 "'keypoints': point 0 x is nan"):
        assert line in text.splitlines(), line


def test_skip_everything_is_still_an_error(face300w):
    root, data = face300w
    for ann in data['annotations']:
        ann['keypoints'] = ann['keypoints'][:3]
    _expect(root, data, 'no valid record left', skip_invalid=True)


# ----------------------------------------------------------------------
# the crop box, and sameness with MMPose
# ----------------------------------------------------------------------
def test_crop_bbox_is_the_crop_box(face300w):
    root, data = face300w
    for ann in data['annotations']:
        ann['crop_bbox'] = [10.0, 20.0, 300.0, 200.0]
    _write(root, data)
    # an arbitrary box, not around the faces: the range check is off
    dataset = _build(RePFormer300WDataset, root, bbox_field='crop_bbox',
                     max_keypoint_margin=None)
    info = dataset.get_data_info(0)
    np.testing.assert_array_equal(info['bbox'], [[10., 20., 310., 220.]])
    assert 'bbox_center' not in info and 'bbox_scale' not in info
    # GetBBoxCenterScale derives them from the box, as for detections
    out = GetBBoxCenterScale(padding=1.25)(info)
    np.testing.assert_allclose(out['bbox_center'], [[160., 120.]])
    np.testing.assert_allclose(out['bbox_scale'], [[375., 250.]])


@pytest.mark.parametrize('name, ours, theirs', [
    ('300w', RePFormer300WDataset, Face300WDataset),
    ('wflw', RePFormerWFLWDataset, WFLWDataset),
    ('cofw', RePFormerCOFWDataset, COFWDataset),
    ('aflw', RePFormerAFLWDataset, AFLWDataset),
])
def test_default_matches_mmpose_sample_for_sample(fixture_dir, name, ours,
                                                  theirs):
    root = fixture_dir(name)
    kwargs = dict(ann_file=f'test_{name}.json', test_mode=True)
    a, b = _build(ours, root, **kwargs), _build(theirs, root, **kwargs)
    assert len(a) == len(b) > 0
    assert a.metainfo['num_keypoints'] == b.metainfo['num_keypoints']
    for i in range(len(a)):
        x, y = a.get_data_info(i), b.get_data_info(i)
        assert set(x) == set(y)
        for key in x:
            if isinstance(x[key], np.ndarray):
                np.testing.assert_array_equal(x[key], y[key], err_msg=key)
            else:
                assert x[key] == y[key], key


def test_face_landmark_dataset_reads_any_layout(face300w):
    root, _ = face300w
    meta = dict(from_file=str(MMPOSE_META / '300w.py'))
    dataset = FaceLandmarkDataset(
        data_root=str(root), ann_file='test_300w.json',
        data_prefix=dict(img=''), metainfo=meta)
    assert len(dataset) == 2
    assert dataset.get_data_info(0)['keypoints'].shape == (1, 68, 2)
    with pytest.raises(ValueError, match='metainfo=dict\\(from_file'):
        FaceLandmarkDataset(data_root=str(root), ann_file='test_300w.json')


def test_face_landmark_dataset_checks_against_its_layout(face300w):
    root, data = face300w
    # a 19-point layout (AFLW's) on 68-point records
    error = _expect(root, data, '68 points, the dataset has 19',
                    cls=FaceLandmarkDataset,
                    metainfo=dict(from_file=str(MMPOSE_META / 'aflw.py')))
    assert error.field == 'keypoints'


def test_registered_in_mmpose():
    for name in ('RePFormer300WDataset', 'RePFormerWFLWDataset',
                 'RePFormerCOFWDataset', 'RePFormerAFLWDataset',
                 'FaceLandmarkDataset'):
        assert DATASETS.get(name) is not None, name


# ----------------------------------------------------------------------
# an unknown type in a config
# ----------------------------------------------------------------------
def test_mmengine_registry_message_is_what_we_parse():
    """Pins mmengine's wording, which UnknownTypeError relies on."""
    with pytest.raises(KeyError) as info:
        DATASETS.build(dict(type='NoSuchFaceDataset'))
    assert re.match(r'NoSuchFaceDataset is not in the mmpose::dataset '
                    r'registry', info.value.args[0])


@pytest.mark.parametrize('key, value, registry', [
    ('train_dataloader.dataset.type', 'NoSuchFaceDataset', 'mmpose::dataset'),
    ('model.neck.type', 'CrossScaleNek', 'mmpose::model'),
])
def test_unknown_type_names_config_file_and_key(tmp_path, load_tool, key,
                                                value, registry):
    config = tmp_path / 'typo.py'
    config.write_text(
        f"_base_ = ['{REPO}/configs/repformer/synthface/"
        "repformer_res18-d128_1xb16-6e_synthface-128x128.py']\n"
        "val_dataloader = None\nval_cfg = None\nval_evaluator = None\n"
        "test_dataloader = None\ntest_cfg = None\ntest_evaluator = None\n")
    train = load_tool('train')
    with pytest.raises(UnknownTypeError) as info:
        train.main([str(config), '--work-dir', str(tmp_path / 'work'),
                    '--cfg-options', f'{key}={value}',
                    'visualizer.name=vis_typo_' + value])
    error = info.value
    assert isinstance(error, KeyError)
    assert (error.config_file, error.type_name, error.registry,
            error.keys) == (str(config), value, registry, [key])
    # the value came from --cfg-options, not from the file: said so
    assert error.options == [f'{key}={value}']
    assert str(error).startswith(
        f'--cfg-options {key}={value} (on top of {config}): {key} = '
        f'{value!r} is not in the {registry} registry')


def test_unknown_type_in_test_config_names_file_and_key(tmp_path, load_tool):
    config = tmp_path / 'typo_test.py'
    config.write_text(
        f"_base_ = ['{REPO}/configs/repformer/synthface/"
        "repformer_res18-d128_1xb16-6e_synthface-128x128.py']\n"
        "model = dict(head=dict(type='PTHHeed'))\n"
        "visualizer = dict(name='vis_typo_test_head')\n")
    checkpoint = tmp_path / 'empty.pth'
    checkpoint.write_bytes(b'')  # never read: the build fails first
    test = load_tool('test')
    with pytest.raises(UnknownTypeError) as info:
        test.main([str(config), str(checkpoint),
                   '--work-dir', str(tmp_path / 'work')])
    error = info.value
    assert (error.config_file, error.type_name, error.keys) == (
        str(config), 'PTHHeed', ['model.head.type'])


# ----------------------------------------------------------------------
# any one field of a record replaced by any JSON value
# ----------------------------------------------------------------------
JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**3, 10**3),
    st.just(10**400), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5), st.lists(st.floats(-10, 10), max_size=5),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
ANN_KEYS = ['id', 'image_id', 'keypoints', 'num_keypoints', 'bbox',
            'iscrowd', 'area', 'category_id', 'center', 'scale']
IMG_KEYS = ['id', 'file_name', 'height', 'width']


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(['annotations', 'images']),
       ann_key=st.sampled_from(ANN_KEYS), img_key=st.sampled_from(IMG_KEYS),
       value=JSON_VALUES, delete=st.booleans())
def test_any_broken_field_is_loaded_or_named(face300w, where, ann_key,
                                             img_key, value, delete):
    root, data = face300w
    data = copy.deepcopy(data)
    key = ann_key if where == 'annotations' else img_key
    entry = data[where][0]
    if delete:
        entry.pop(key, None)
    else:
        entry[key] = value
    path = _write(root, data, 'fuzzed.json')
    try:
        dataset = _build(RePFormer300WDataset, root, 'fuzzed.json')
    except AnnotationError as error:
        assert error.ann_file == str(path) and error.field
        return
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert info['keypoints'].shape == (1, 68, 2)
        assert np.isfinite(info['keypoints']).all()
        assert np.isfinite(info['bbox']).all()
