"""Tests of the face-landmark converters (official releases -> MMPose JSON).

Each test writes a small release in the official format into ``tmp_path``
from the images and keypoints of MMPose's own test annotations (the
"fixtures": 2 real images per data set, 4 faces for WFLW), runs the
converter, and checks that the output reproduces MMPose's records field by
field. Faces of no interest ("fillers", on one tiny image) pad the releases
so that the fixture faces sit where their MMPose ids say they sat in the
official release.

The fixtures are looked up in ``$MMPOSE_FIXTURES``, then in
``shared/data/mmpose-fixtures`` in or beside the repository, then in
``/work/shared/data/mmpose-fixtures``; the tests are skipped without them.
"""
from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from repformer_mmpose.datasets.converters import (
    ConversionError,
    convert_300w,
    convert_aflw,
    convert_cofw,
    convert_wflw,
)
from repformer_mmpose.datasets.converters import wflw as wflw_module

from conftest import FIXTURE_ROOT, missing_data

REPO = Path(__file__).resolve().parents[1]


def _fixture_dir() -> Path | None:
    if (FIXTURE_ROOT / 'wflw' / 'test_wflw.json').is_file():
        return FIXTURE_ROOT
    return None


FIXTURE_DIR = _fixture_dir()
FILLER_SIZE = (48, 40)  # height, width of the filler image


@pytest.fixture
def fixtures() -> Path:
    """The folder of MMPose's test annotations, or skip."""
    if FIXTURE_DIR is None:
        missing_data(f'MMPose fixture annotations not found in '
                     f'{FIXTURE_ROOT}; set MMPOSE_FIXTURES to their folder')
    return FIXTURE_DIR


def load_fixture(fixtures: Path, name: str) -> dict[str, Any]:
    """MMPose's ``test_<name>.json``."""
    with open(fixtures / name / f'test_{name}.json') as f:
        return json.load(f)


def load_json(path: Path) -> dict[str, Any]:
    with open(path) as f:
        return json.load(f)


def points_of(ann: dict[str, Any]) -> np.ndarray:
    """``(K, 3)`` keypoints of an annotation."""
    return np.array(ann['keypoints'], dtype=np.float64).reshape(-1, 3)


def write_filler_image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full(FILLER_SIZE + (3, ), 127,
                                          np.uint8))


def filler_points(rng: np.random.Generator, num: int) -> np.ndarray:
    """``num`` points inside the filler image."""
    return rng.uniform(5, 35, size=(num, 2))


def assert_record_matches(ours: dict[str, Any], theirs: dict[str, Any], *,
                          extras: set[str], check_ids: bool = True,
                          skip: tuple[str, ...] = ()) -> None:
    """Field-by-field comparison of one annotation with MMPose's."""
    assert set(theirs) <= set(ours), set(theirs) - set(ours)
    assert set(ours) - set(theirs) == extras
    kp, their_kp = points_of(ours), points_of(theirs)
    assert kp.shape == their_kp.shape
    np.testing.assert_allclose(kp[:, :2], their_kp[:, :2], atol=1e-3)
    np.testing.assert_array_equal(kp[:, 2], their_kp[:, 2])
    for key in ('num_keypoints', 'iscrowd', 'category_id'):
        assert ours[key] == theirs[key], key
    if check_ids:
        assert ours['id'] == theirs['id']
        assert ours['image_id'] == theirs['image_id']
    for i, name in enumerate(('bbox_x', 'bbox_y', 'bbox_w', 'bbox_h')):
        if name not in skip:
            assert ours['bbox'][i] == pytest.approx(
                theirs['bbox'][i], abs=1e-6), name
    if 'area' not in skip:
        assert ours['area'] == pytest.approx(theirs['area'], rel=1e-9)
    # center / scale / box_size are stored as exact short decimals
    for key in ('center', 'scale', 'box_size'):
        if key in theirs:
            assert ours[key] == theirs[key], key


def assert_image_matches(ours: dict[str, Any], theirs: dict[str, Any], *,
                         check_id: bool = True) -> None:
    """Image entry: same image (fixtures store bare names), same size."""
    assert Path(ours['file_name']).name == theirs['file_name']
    assert (ours['height'], ours['width']) == (theirs['height'],
                                               theirs['width'])
    if check_id:
        assert ours['id'] == theirs['id']


def by_id(items: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {item['id']: item for item in items}


def no_json_left(folder: Path) -> bool:
    """No JSON file (nor a temporary one) in ``folder``."""
    return not folder.exists() or not any(
        p.name.endswith(('.json', '.tmp')) for p in folder.iterdir())


# --------------------------------------------------------------------------
# MMPose's dataset classes read the output unchanged


def load_with_mmpose(cls_name: str, ann_file: Path,
                     image_root: Path) -> list[dict[str, Any]]:
    """All data infos of an output file, through MMPose's dataset class."""
    import mmpose
    from mmpose.datasets.datasets import face

    cls = getattr(face, cls_name)
    # MMPose's own metainfo file, by absolute path: the relative default
    # would resolve against the working directory (and this repo's configs)
    meta = Path(mmpose.__file__).parent / '.mim' / 'configs' / '_base_' / (
        'datasets') / Path(cls.METAINFO['from_file']).name
    dataset = cls(
        ann_file=str(ann_file),
        metainfo=dict(from_file=str(meta)),
        data_root='',
        data_prefix=dict(img=str(image_root) + os.sep),
        test_mode=True,
        pipeline=[],
        serialize_data=False)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    for info in infos:
        assert os.path.isfile(info['img_path']), info['img_path']
    return infos


# --------------------------------------------------------------------------
# WFLW

WFLW_ATTRS = wflw_module.ATTRIBUTES
# WFLW event folders of the fixture images (the official nested layout).
WFLW_FOLDERS = {
    '36_Football_americanfootball_ball_36_415.jpg': '36--Football',
    '7_Cheering_Cheering_7_16.jpg': '7--Cheering',
}
# MMPose's bbox of WFLW face 40 ends at y = 768 exactly, though the image is
# 1024 pixels high and the face reaches y = 842: the box was cut at a wrong
# image height upstream. Its x, w, y, center and scale agree; its h and area
# are checked against the landmark box instead.
WFLW_DEFECTS = {40: ('bbox_h', 'area')}


def wflw_line(points: np.ndarray, rect: list[int], flags: list[int],
              path: str) -> str:
    """One line of a WFLW list file, official number format."""
    coords = ' '.join(f'{v:.6f}' for v in points.reshape(-1))
    return (f'{coords} {" ".join(map(str, rect))} '
            f'{" ".join(map(str, flags))} {path}\n')


def wflw_rect(points: np.ndarray) -> list[int]:
    """A plausible official rectangle (the real ones are not in fixtures)."""
    x0, y0 = np.floor(points.min(0)).astype(int) - [6, 9]
    x1, y1 = np.ceil(points.max(0)).astype(int) + [4, 3]
    return [int(x0), int(y0), int(x1), int(y1)]


def make_wflw_release(tmp_path: Path, fixtures: Path,
                      fix: dict[str, Any]) -> tuple[Path, Path, dict]:
    """A WFLW release whose test list holds the fixture faces at the line
    indices of their MMPose ids; returns (ann dir, image dir, plan)."""
    rng = np.random.default_rng(0)
    ann_dir = tmp_path / 'WFLW_annotations'
    list_dir = ann_dir / 'list_98pt_rect_attr_train_test'
    list_dir.mkdir(parents=True)
    image_root = tmp_path / 'WFLW_images'
    write_filler_image(image_root / '0--Parade' / 'filler.jpg')
    images = by_id(fix['images'])
    for img in fix['images']:
        dst = image_root / WFLW_FOLDERS[img['file_name']] / img['file_name']
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(fixtures / 'wflw' / img['file_name'], dst)

    faces = {ann['id']: ann for ann in fix['annotations']}
    plan = {}  # id -> (rect, flags)
    lines = []
    for idx in range(max(faces) + 1):
        if idx in faces:
            ann = faces[idx]
            pts = points_of(ann)[:, :2]
            rect = wflw_rect(pts)
            flags = [0] * 6
            flags[len(plan) % 6] = 1  # each face in a different subset
            flags[5] = 1 if idx == 1169 else flags[5]
            name = images[ann['image_id']]['file_name']
            path = f'{WFLW_FOLDERS[name]}/{name}'
            plan[idx] = (rect, flags)
        else:
            pts = filler_points(rng, 98)
            rect, flags, path = [4, 4, 36, 36], [0] * 6, '0--Parade/filler.jpg'
        lines.append(wflw_line(pts, rect, flags, path))
    (list_dir / 'list_98pt_rect_attr_test.txt').write_text(''.join(lines))
    train = [
        wflw_line(filler_points(rng, 98), [4, 4, 36, 36], [0] * 6,
                  '0--Parade/filler.jpg') for _ in range(3)
    ]
    (list_dir / 'list_98pt_rect_attr_train.txt').write_text(''.join(train))
    return ann_dir, image_root, plan


def test_wflw_reproduces_mmpose_records(tmp_path: Path,
                                        fixtures: Path) -> None:
    fix = load_fixture(fixtures, 'wflw')
    ann_dir, image_root, plan = make_wflw_release(tmp_path, fixtures, fix)
    out_dir = tmp_path / 'annotations'
    counts = convert_wflw(ann_dir, image_root, out_dir)

    n_test = max(plan) + 1
    assert counts['face_landmarks_wflw_train.json'] == 3
    assert counts['face_landmarks_wflw_test.json'] == n_test
    test = load_json(out_dir / 'face_landmarks_wflw_test.json')
    assert test['categories'] == fix['categories']
    anns = by_id(test['annotations'])
    assert sorted(anns) == list(range(n_test))
    for theirs in fix['annotations']:
        ours = anns[theirs['id']]
        skip = WFLW_DEFECTS.get(theirs['id'], ())
        assert_record_matches(ours, theirs, extras={'crop_bbox',
                                                    'attributes'}, skip=skip)
        if skip:  # the consistent box: landmark box x 1.2
            pts = points_of(theirs)[:, :2]
            h = pts[:, 1].max() - pts[:, 1].min()
            assert ours['bbox'][3] == pytest.approx(1.2 * h, abs=1e-5)
            assert ours['area'] == pytest.approx(
                ours['bbox'][2] * ours['bbox'][3])
        rect, flags = plan[theirs['id']]
        cx, cy = (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2
        w, h = 1.2 * (rect[2] - rect[0]), 1.2 * (rect[3] - rect[1])
        assert ours['crop_bbox'] == pytest.approx(
            [cx - w / 2, cy - h / 2, w, h])
        assert ours['attributes'] == dict(zip(WFLW_ATTRS, flags))

    ours_images = by_id(test['images'])
    for theirs in fix['images']:
        assert_image_matches(ours_images[theirs['id']], theirs)
        folder = WFLW_FOLDERS[theirs['file_name']]
        assert ours_images[theirs['id']]['file_name'] == (
            f'{folder}/{theirs["file_name"]}')
    # the filler image is listed once, under the id of its first face
    assert len(test['images']) == 3
    assert by_id(test['images'])[0]['file_name'] == '0--Parade/filler.jpg'

    # the six subsets hold exactly the flagged test faces, ids kept
    for attr, suffix in wflw_module.SUBSET_NAMES.items():
        subset = load_json(out_dir / f'face_landmarks_wflw_test_{suffix}.json')
        want = sorted(i for i, (_, flags) in plan.items()
                      if flags[WFLW_ATTRS.index(attr)])
        assert sorted(a['id'] for a in subset['annotations']) == want
        for ann in subset['annotations']:
            assert ann == anns[ann['id']]

    # MMPose's own dataset class reads the file and crops as MMPose does
    infos = by_id(
        load_with_mmpose('WFLWDataset',
                         out_dir / 'face_landmarks_wflw_test.json',
                         image_root))
    for theirs in fix['annotations']:
        info = infos[theirs['id']]
        np.testing.assert_allclose(info['bbox_center'][0], theirs['center'])
        np.testing.assert_allclose(info['bbox_scale'][0],
                                   [theirs['scale'] * 200] * 2)


def _wflw_error_release(tmp_path: Path, bad_line: str,
                        with_image: bool = True) -> tuple[Path, Path]:
    """A release whose test list has one good line, then ``bad_line``."""
    rng = np.random.default_rng(1)
    list_dir = tmp_path / 'ann' / 'list_98pt_rect_attr_train_test'
    list_dir.mkdir(parents=True)
    image_root = tmp_path / 'images'
    if with_image:
        write_filler_image(image_root / 'a' / 'filler.jpg')
    good = wflw_line(filler_points(rng, 98), [4, 4, 36, 36], [0] * 6,
                     'a/filler.jpg')
    (list_dir / 'list_98pt_rect_attr_train.txt').write_text(good)
    (list_dir / 'list_98pt_rect_attr_test.txt').write_text(good + bad_line +
                                                           good)
    return tmp_path / 'ann', image_root


def _good_tokens() -> list[str]:
    rng = np.random.default_rng(2)
    return wflw_line(filler_points(rng, 98), [4, 4, 36, 36], [0] * 6,
                     'a/filler.jpg').split()


def _bad_wflw_lines() -> dict[str, tuple[str, str]]:
    """name -> (bad line, text its error must contain)."""
    tokens = _good_tokens()
    short = tokens[:195] + tokens[196:]  # 195 coordinates
    non_numeric = list(tokens)
    non_numeric[17] = '12.3abc'
    nan = list(tokens)
    nan[40] = 'nan'
    missing = tokens[:-1] + ['a/missing.jpg']
    far = list(tokens)
    far[6] = '-50000'  # point 3 x, in the 40 x 48 filler image
    return {
        'short': (' '.join(short) + '\n', "field 'keypoints': 195 "
                  'coordinates, expected 196'),
        'non_numeric': (' '.join(non_numeric) + '\n',
                        "field 'keypoints[17] (point 8 y)': non-numeric "
                        "value '12.3abc'"),
        'nan': (' '.join(nan) + '\n', "'keypoints[40] (point 20 x)': "
                "non-finite value 'nan'"),
        'missing_image': (' '.join(missing) + '\n',
                          "field 'image': image file not found"),
        # was reported as "195 coordinates, expected 196"
        'no_image_path': (' '.join(tokens[:-1]) + '\n',
                          "field 'image': no image path: the line ends with "
                          "the number '0' (the image path, relative to "
                          'WFLW_images, must be its last field; 206 fields, '
                          'expected 207)'),
        'far_point': (' '.join(far) + '\n',
                      "field 'keypoints': point 3 at (-50000, "),
    }


@pytest.mark.parametrize('kind', sorted(_bad_wflw_lines()))
def test_wflw_bad_record_stops_with_file_line_field(tmp_path: Path,
                                                    kind: str) -> None:
    bad_line, expected = _bad_wflw_lines()[kind]
    ann_dir, image_root = _wflw_error_release(tmp_path, bad_line)
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    (out_dir / 'face_landmarks_wflw_train.json').write_text('{"old": 1}')
    with pytest.raises(ConversionError) as info:
        convert_wflw(ann_dir, image_root, out_dir)
    err = info.value
    test_list = str(ann_dir / 'list_98pt_rect_attr_train_test' /
                    'list_98pt_rect_attr_test.txt')
    assert err.source == test_list
    assert err.location == 'line 2'
    assert str(err).startswith(f'{test_list}, line 2: ')
    assert expected in str(err)
    # nothing written: the old file is untouched, no new or temporary file
    assert sorted(p.name for p in out_dir.iterdir()) == [
        'face_landmarks_wflw_train.json'
    ]
    assert (out_dir / 'face_landmarks_wflw_train.json').read_text() == (
        '{"old": 1}')


def test_wflw_cli_reports_error_and_exit_status(tmp_path: Path,
                                                capsys) -> None:
    bad_line, expected = _bad_wflw_lines()['short']
    ann_dir, image_root = _wflw_error_release(tmp_path, bad_line)
    out_dir = tmp_path / 'out'
    status = wflw_module.main([
        '--ann-dir', str(ann_dir), '--image-root',
        str(image_root), '--out-dir',
        str(out_dir)
    ])
    assert status == 1
    err = capsys.readouterr().err
    assert 'list_98pt_rect_attr_test.txt, line 2' in err
    assert expected in err
    assert no_json_left(out_dir)


def test_wflw_skip_bad_skips_and_counts(tmp_path: Path, capsys) -> None:
    bad = _bad_wflw_lines()
    lines = ''.join(line for line, _ in bad.values())
    ann_dir, image_root = _wflw_error_release(tmp_path, lines)
    out_dir = tmp_path / 'out'
    status = wflw_module.main([
        '--ann-dir',
        str(ann_dir), '--image-root',
        str(image_root), '--out-dir',
        str(out_dir), '--skip-bad'
    ])
    assert status == 0
    captured = capsys.readouterr()
    assert captured.err.count('skipping bad record: ') == len(bad)
    for _, expected in bad.values():
        assert expected in captured.err
    assert f'skipped {len(bad)} bad record(s)' in captured.out
    assert 'face_landmarks_wflw_test.json: 2 faces, 1 images' in (
        captured.out)
    test = load_json(out_dir / 'face_landmarks_wflw_test.json')
    # the good faces keep the ids of their places in the list
    assert [a['id'] for a in test['annotations']] == [0, len(bad) + 1]
    assert not any(p.name.endswith('.tmp') for p in out_dir.iterdir())


def test_wflw_unreadable_image(tmp_path: Path) -> None:
    tokens = _good_tokens()
    tokens[-1] = 'a/broken.jpg'
    ann_dir, image_root = _wflw_error_release(tmp_path,
                                              ' '.join(tokens) + '\n')
    (image_root / 'a' / 'broken.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(ConversionError, match=r"line 2: field 'image': "
                       'image cannot be read'):
        convert_wflw(ann_dir, image_root, tmp_path / 'out')
    assert no_json_left(tmp_path / 'out')


def test_wflw_far_point_names_the_image_rule(tmp_path: Path) -> None:
    """The data sets' margin rule, message and all (issue 13, item 5)."""
    bad_line, _ = _bad_wflw_lines()['far_point']
    ann_dir, image_root = _wflw_error_release(tmp_path, bad_line)
    with pytest.raises(ConversionError) as info:
        convert_wflw(ann_dir, image_root, tmp_path / 'out')
    y = float(_good_tokens()[7])
    assert info.value.message == (
        f'point 3 at (-50000, {y:.6g}) lies outside the 40 x 48 image plus '
        'a margin of 1 x its size (allowed: x in [-40, 80], y in [-48, '
        '96])')


def test_wflw_truncated_image(tmp_path: Path) -> None:
    """Half a JPEG decodes grey in OpenCV; the converter refuses it."""
    tokens = _good_tokens()
    tokens[-1] = 'a/half.jpg'
    ann_dir, image_root = _wflw_error_release(tmp_path,
                                              ' '.join(tokens) + '\n')
    data = (image_root / 'a' / 'filler.jpg').read_bytes()
    (image_root / 'a' / 'half.jpg').write_bytes(data[:len(data) // 2])
    with pytest.raises(ConversionError, match=r"line 2: field 'image': "
                       r'image .*half\.jpg: truncated: JPEG without its '
                       r'end-of-image marker \(FF D9\)'):
        convert_wflw(ann_dir, image_root, tmp_path / 'out')
    assert no_json_left(tmp_path / 'out')


# --------------------------------------------------------------------------
# 300W


def write_pts(path: Path, points: np.ndarray) -> None:
    """A ``.pts`` file as iBUG writes them."""
    body = ''.join(f'{x:.3f} {y:.3f}\n' for x, y in points)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'version: 1\nn_points:  {len(points)}\n{{\n{body}}}\n')


def make_300w_release(tmp_path: Path, fixtures: Path,
                      fix: dict[str, Any]) -> Path:
    """One filler face per train/valid folder; the fixture faces (300W's
    indoor test images) in 300W/01_Indoor, a filler in 02_Outdoor."""
    rng = np.random.default_rng(3)
    root = tmp_path / 'images'
    folders = ('lfpw/trainset', 'helen/trainset', 'afw', 'lfpw/testset',
               'helen/testset', 'ibug', '300W/02_Outdoor')
    for i, folder in enumerate(folders):
        ext = '.png' if folder.startswith(('lfpw', '300W')) else '.jpg'
        write_filler_image(root / folder / f'face_{i}{ext}')
        write_pts(root / folder / f'face_{i}.pts', filler_points(rng, 68))
    images = by_id(fix['images'])
    for ann in fix['annotations']:
        name = images[ann['image_id']]['file_name']
        dst = root / '300W' / '01_Indoor' / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(fixtures / '300w' / name, dst)
        write_pts(dst.with_suffix('.pts'), points_of(ann)[:, :2])
    return root


def test_300w_reproduces_mmpose_records(tmp_path: Path,
                                        fixtures: Path) -> None:
    fix = load_fixture(fixtures, '300w')
    root = make_300w_release(tmp_path, fixtures, fix)
    out_dir = tmp_path / 'annotations'
    counts = convert_300w(root, out_dir)
    assert counts == {
        'face_landmarks_300w_train.json': 3,
        'face_landmarks_300w_valid.json': 3,
        'face_landmarks_300w_valid_common.json': 2,
        'face_landmarks_300w_valid_challenge.json': 1,
        'face_landmarks_300w_test.json': 3,
    }
    train = load_json(out_dir / 'face_landmarks_300w_train.json')
    assert [i['file_name'] for i in train['images']] == [
        'lfpw/trainset/face_0.png', 'helen/trainset/face_1.jpg',
        'afw/face_2.jpg'
    ]
    valid = load_json(out_dir / 'face_landmarks_300w_valid.json')
    common = load_json(out_dir / 'face_landmarks_300w_valid_common.json')
    challenge = load_json(out_dir /
                          'face_landmarks_300w_valid_challenge.json')
    assert valid['annotations'] == (common['annotations'] +
                                    challenge['annotations'])
    assert [a['id'] for a in valid['annotations']] == [0, 1, 2]
    assert challenge['images'][0]['file_name'] == 'ibug/face_5.jpg'

    test = load_json(out_dir / 'face_landmarks_300w_test.json')
    assert test['categories'] == fix['categories']
    ours_images = {Path(i['file_name']).name: i for i in test['images']}
    ours_anns = by_id(test['annotations'])
    their_images = by_id(fix['images'])
    for theirs in fix['annotations']:
        their_image = their_images[theirs['image_id']]
        ours_image = ours_images[their_image['file_name']]
        assert ours_image['file_name'] == (
            f'300W/01_Indoor/{their_image["file_name"]}')
        # MMPose's ids follow HRNet's CSV order, which the release does not
        # give; ours follow sorted file order, one image per face
        assert_image_matches(ours_image, their_image, check_id=False)
        ours = ours_anns[ours_image['id']]
        assert ours['image_id'] == ours['id']
        assert_record_matches(ours, theirs, extras={'crop_bbox'},
                              check_ids=False)
        pts = points_of(theirs)[:, :2]
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        w, h = 1.1 * (x1 - x0), 1.1 * (y1 - y0)
        assert ours['crop_bbox'] == pytest.approx(
            [(x0 + x1) / 2 - w / 2, (y0 + y1) / 2 - h / 2, w, h])

    infos = load_with_mmpose('Face300WDataset',
                             out_dir / 'face_landmarks_300w_test.json', root)
    assert len(infos) == 3


def test_300w_pts_offset_and_bad_pts(tmp_path: Path, fixtures: Path) -> None:
    fix = load_fixture(fixtures, '300w')
    root = make_300w_release(tmp_path, fixtures, fix)
    convert_300w(root, tmp_path / 'a', coord_offset=-1)
    convert_300w(root, tmp_path / 'b')
    shifted = load_json(tmp_path / 'a' / 'face_landmarks_300w_test.json')
    plain = load_json(tmp_path / 'b' / 'face_landmarks_300w_test.json')
    for a, b in zip(shifted['annotations'], plain['annotations']):
        np.testing.assert_allclose(points_of(a)[:, :2],
                                   points_of(b)[:, :2] - 1)
        assert a['center'] == [b['center'][0] - 1, b['center'][1] - 1]
        assert a['scale'] == b['scale']

    bad = root / 'ibug' / 'face_5.pts'
    write_pts(bad, filler_points(np.random.default_rng(4), 67))
    with pytest.raises(ConversionError,
                       match=r"face_5.pts, header: field 'n_points': 67"):
        convert_300w(root, tmp_path / 'c')
    assert no_json_left(tmp_path / 'c')
    text = bad.read_text().replace('n_points:  67', 'n_points:  68')
    bad.write_text(text)
    with pytest.raises(ConversionError,
                       match=r"points: field 'points': 67 points"):
        convert_300w(root, tmp_path / 'c')
    (root / 'ibug' / 'face_5.jpg').unlink()
    write_pts(bad, filler_points(np.random.default_rng(4), 68))
    with pytest.raises(ConversionError, match=r"file: field 'image'"):
        convert_300w(root, tmp_path / 'c')
    counts = convert_300w(root, tmp_path / 'c', skip_bad=True)
    assert counts['face_landmarks_300w_valid_challenge.json'] == 0


# --------------------------------------------------------------------------
# COFW (MATLAB v7.3 = HDF5, written the way MATLAB lays it out)

COFW_TRAIN = 1345  # faces in the official train file


def write_v73_mat(path: Path, image_field: str, images: list[np.ndarray],
                  fields: dict[str, np.ndarray]) -> None:
    """A MATLAB v7.3 file: an N x 1 cell array of RGB (H x W x 3) or grey
    images plus N x k double matrices, stored transposed as MATLAB does,
    the images as object references into ``#refs#``."""
    h5py = pytest.importorskip('h5py')
    with h5py.File(path, 'w', userblock_size=512) as f:
        refs_group = f.create_group('#refs#')
        refs = np.empty((1, len(images)), dtype=h5py.ref_dtype)
        for i, img in enumerate(images):
            data = img.transpose(2, 1, 0) if img.ndim == 3 else img.T
            dset = refs_group.create_dataset(f'i{i}', data=data)
            dset.attrs['MATLAB_class'] = np.bytes_('uint8')
            refs[0, i] = dset.ref
        dset = f.create_dataset(image_field, data=refs)
        dset.attrs['MATLAB_class'] = np.bytes_('cell')
        for name, matrix in fields.items():
            dset = f.create_dataset(name, data=np.asarray(matrix).T)
            dset.attrs['MATLAB_class'] = np.bytes_('double')
    with open(path, 'r+b') as f:  # MATLAB's text header in the user block
        f.write(b'MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: '
                b'Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .'.ljust(116))


def cofw_phis(points_xyv: np.ndarray) -> np.ndarray:
    """MMPose's (x, y, visibility) back to a COFW row: 1-based x, y and
    occlusion flags."""
    x, y, v = points_xyv.T
    return np.concatenate([x + 1, y + 1, 2 - v])


def make_cofw_release(tmp_path: Path, fixtures: Path, fix: dict[str, Any],
                      n_test: int | None = None,
                      n_train: int = COFW_TRAIN) -> Path:
    """Train: ``n_train`` filler faces (ids 1..1345 with the official
    count). Test: fillers with the fixture faces at the indices of their
    ids (id - 1346)."""
    rng = np.random.default_rng(5)
    mat_dir = tmp_path / 'cofw'
    mat_dir.mkdir()
    grey = np.full((9, 7), 90, np.uint8)  # COFW has grey images too

    def filler_row() -> np.ndarray:
        pts = filler_points(rng, 29) / 6  # inside 7 x 9 pixels
        return np.concatenate([pts[:, 0], pts[:, 1], np.zeros(29)])

    def filler_box() -> list[float]:
        return [1.0, 1.0, 6.0, 8.0]

    write_v73_mat(
        mat_dir / 'COFW_train_color.mat', 'IsTr', [grey] * n_train, {
            'phisTr': np.stack([filler_row() for _ in range(n_train)]),
            'bboxesTr': np.array([filler_box()] * n_train)
        })
    faces = {ann['id'] - COFW_TRAIN - 1: ann for ann in fix['annotations']}
    if n_test is None:
        n_test = max(faces) + 1
    images, phis, boxes = [], [], []
    for idx in range(n_test):
        if idx in faces:
            ann = faces[idx]
            bgr = cv2.imread(str(fixtures / 'cofw' / f'{ann["id"]:06d}.jpg'))
            images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            phis.append(cofw_phis(points_of(ann)))
            boxes.append(ann['bbox'])
        else:
            images.append(grey)
            phis.append(filler_row())
            boxes.append(filler_box())
    write_v73_mat(mat_dir / 'COFW_test_color.mat', 'IsT', images, {
        'phisT': np.stack(phis),
        'bboxesT': np.array(boxes, dtype=np.float64)
    })
    return mat_dir


def test_cofw_reproduces_mmpose_records(tmp_path: Path,
                                        fixtures: Path) -> None:
    fix = load_fixture(fixtures, 'cofw')
    mat_dir = make_cofw_release(tmp_path, fixtures, fix)
    image_dir, out_dir = tmp_path / 'images', tmp_path / 'annotations'
    counts = convert_cofw(mat_dir, image_dir, out_dir)
    n_test = max(a['id'] for a in fix['annotations']) - COFW_TRAIN
    assert counts == {'cofw_train.json': COFW_TRAIN, 'cofw_test.json': n_test}

    train = load_json(out_dir / 'cofw_train.json')
    assert [a['id'] for a in train['annotations']] == list(
        range(1, COFW_TRAIN + 1))
    assert train['images'][0] == {
        'id': 1,
        'file_name': '000001.jpg',
        'height': 9,
        'width': 7
    }
    test = load_json(out_dir / 'cofw_test.json')
    assert set(test) == set(fix)  # info, categories, images, annotations
    assert set(test['info']) == set(fix['info'])
    assert test['categories'] == fix['categories']
    assert test['annotations'][0]['id'] == COFW_TRAIN + 1
    anns, images = by_id(test['annotations']), by_id(test['images'])
    for theirs in fix['annotations']:
        ours = anns[theirs['id']]
        assert_record_matches(ours, theirs,
                              extras={'crop_bbox', 'keypoints_occluded'})
        assert ours['bbox'] == theirs['bbox']
        x, y, w, h = theirs['bbox']
        assert ours['crop_bbox'] == [x - 1, y - 1, w, h]
        # COFW's occlusion flags, kept: MMPose's visibility is 2 - flag
        assert ours['keypoints_occluded'] == [
            2 - int(v) for v in points_of(theirs)[:, 2]]
    for theirs in fix['images']:
        assert images[theirs['id']] == theirs
        written = cv2.imread(str(image_dir / theirs['file_name']))
        original = cv2.imread(str(fixtures / 'cofw' / theirs['file_name']))
        assert written.shape == original.shape
        # the same picture, re-encoded (channel order kept: BGR on disk)
        diff = np.abs(written.astype(int) - original.astype(int)).mean()
        assert diff < 3

    infos = by_id(
        load_with_mmpose('COFWDataset', out_dir / 'cofw_test.json',
                         image_dir))
    for theirs in fix['annotations']:
        x, y, w, h = theirs['bbox']
        np.testing.assert_allclose(infos[theirs['id']]['bbox'][0],
                                   [x, y, x + w, y + h])


def test_cofw_bad_values(tmp_path: Path, fixtures: Path) -> None:
    h5py = pytest.importorskip('h5py')
    fix = load_fixture(fixtures, 'cofw')
    mat_dir = make_cofw_release(tmp_path, fixtures, fix, n_test=3,
                                n_train=2)
    path = mat_dir / 'COFW_test_color.mat'
    with h5py.File(path, 'r+') as f:
        phis = f['phisT'][()]
        phis[4, 1] = np.nan  # x of point 4 of face 1
        f['phisT'][...] = phis
    with pytest.raises(ConversionError) as info:
        convert_cofw(mat_dir, tmp_path / 'images', tmp_path / 'out')
    assert str(info.value).startswith(
        f"{path}, index 1 (MATLAB 2): field 'phisT': non-finite value nan")
    assert no_json_left(tmp_path / 'out')
    counts = convert_cofw(mat_dir, tmp_path / 'images', tmp_path / 'out',
                          skip_bad=True)
    assert counts == {'cofw_train.json': 2, 'cofw_test.json': 2}
    test = load_json(tmp_path / 'out' / 'cofw_test.json')
    # ids count on from the train faces and skip nothing: 3, (4), 5
    assert [a['id'] for a in test['annotations']] == [3, 5]
    assert [i['file_name'] for i in test['images']] == [
        '000003.jpg', '000005.jpg'
    ]


# --------------------------------------------------------------------------
# AFLW (AFLWinfo_release.mat is a MATLAB v5 file: scipy.io.savemat/loadmat)

AFLW_TRAIN = 2  # num_train of the small release (20000 in the real one)


def make_aflw_release(tmp_path: Path, fixtures: Path,
                      fix: dict[str, Any]) -> tuple[Path, Path, dict]:
    """Fixture faces at the test positions of their ids; rows of the .mat
    file shuffled through ``ra`` as in the real release."""
    from scipy.io import savemat

    rng = np.random.default_rng(6)
    root = tmp_path / 'aflw'
    write_filler_image(root / 'flickr' / '2' / 'filler.jpg')
    faces = {ann['id']: ann for ann in fix['annotations']}
    images = by_id(fix['images'])
    n_test = max(faces) + 1
    num = AFLW_TRAIN + n_test
    data = np.zeros((num, 38))
    mask = np.ones((num, 19))
    bbox = np.zeros((num, 4))
    names = np.empty((num, 1), dtype=object)
    ra = rng.permutation(num) + 1  # position -> 1-based row
    folders = {'image22568.jpg': '3', 'image04476.jpg': '0'}
    plan = {}
    for pos in range(num):
        row = ra[pos] - 1
        test_pos = pos - AFLW_TRAIN
        if test_pos in faces:
            ann = faces[test_pos]
            pts = points_of(ann)[:, :2]
            (cx, cy), s = ann['center'], ann['box_size']
            bbox[row] = [cx - s / 2, cx + s / 2, cy - s / 2, cy + s / 2]
            name = images[ann['image_id']]['file_name']
            names[row, 0] = f'{folders[name]}/{name}'
            dst = root / 'flickr' / folders[name] / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(fixtures / 'aflw' / name, dst)
            if test_pos == max(faces):
                mask[row, 7] = 0  # one point hidden: not frontal
        else:
            pts = filler_points(rng, 19)
            bbox[row] = [2, 38, 4, 40]
            names[row, 0] = '2/filler.jpg'
            mask[row, rng.integers(19)] = int(test_pos % 5 == 0)
        data[row] = np.concatenate([pts[:, 0], pts[:, 1]])
        plan[test_pos] = bool(mask[row].all())
    savemat(str(root / 'AFLWinfo_release.mat'), {
        'data': data,
        'mask_new': mask,
        'bbox': bbox,
        'nameList': names,
        'ra': ra[None, :].astype(np.float64),
    })
    return root, root / 'AFLWinfo_release.mat', plan


def test_aflw_reproduces_mmpose_records(tmp_path: Path,
                                        fixtures: Path) -> None:
    fix = load_fixture(fixtures, 'aflw')
    root, mat, plan = make_aflw_release(tmp_path, fixtures, fix)
    out_dir = tmp_path / 'annotations'
    counts = convert_aflw(mat, root / 'flickr', out_dir,
                          num_train=AFLW_TRAIN)
    n_test = len(plan) - AFLW_TRAIN
    frontal_ids = sorted(p for p, ok in plan.items() if p >= 0 and ok)
    assert counts == {
        'face_landmarks_aflw_train.json': AFLW_TRAIN,
        'face_landmarks_aflw_test.json': n_test,
        'face_landmarks_aflw_test_frontal.json': len(frontal_ids),
    }
    test = load_json(out_dir / 'face_landmarks_aflw_test.json')
    assert test['categories'] == fix['categories']
    anns, images = by_id(test['annotations']), by_id(test['images'])
    for theirs in fix['annotations']:
        ours = anns[theirs['id']]
        assert_record_matches(ours, theirs,
                              extras={'crop_bbox', 'visible_mask'})
        assert ours['box_size'] == theirs['box_size']
        s = theirs['box_size']
        (cx, cy) = theirs['center']
        assert ours['crop_bbox'] == [cx - s / 2, cy - s / 2, s, s]
    for theirs in fix['images']:
        assert_image_matches(images[theirs['id']], theirs)
    frontal = load_json(out_dir / 'face_landmarks_aflw_test_frontal.json')
    assert [a['id'] for a in frontal['annotations']] == frontal_ids
    assert 3 in frontal_ids and 68 not in frontal_ids
    for ann in frontal['annotations']:
        assert ann == anns[ann['id']]

    infos = by_id(
        load_with_mmpose('AFLWDataset',
                         out_dir / 'face_landmarks_aflw_test.json',
                         root / 'flickr'))
    for theirs in fix['annotations']:
        assert infos[theirs['id']]['box_size'] == theirs['box_size']


def test_aflw_name_prefix_and_bad_values(tmp_path: Path,
                                         fixtures: Path) -> None:
    from scipy.io import loadmat, savemat

    fix = load_fixture(fixtures, 'aflw')
    root, mat, plan = make_aflw_release(tmp_path, fixtures, fix)
    convert_aflw(mat, root, tmp_path / 'a', num_train=AFLW_TRAIN,
                 name_prefix='flickr')
    test = load_json(tmp_path / 'a' / 'face_landmarks_aflw_test.json')
    assert by_id(test['images'])[3]['file_name'] == (
        'flickr/3/image22568.jpg')

    content = loadmat(str(mat))
    row = int(content['ra'][0, AFLW_TRAIN + 3]) - 1
    content['data'][row, 20] = np.nan
    savemat(str(mat), {k: v for k, v in content.items()
                       if not k.startswith('__')})
    with pytest.raises(ConversionError) as info:
        convert_aflw(mat, root / 'flickr', tmp_path / 'b',
                     num_train=AFLW_TRAIN)
    assert str(info.value).startswith(
        f"{mat}, index {row} (MATLAB {row + 1}): field 'data': non-finite")
    assert no_json_left(tmp_path / 'b')
    counts = convert_aflw(mat, root / 'flickr', tmp_path / 'b',
                          num_train=AFLW_TRAIN, skip_bad=True)
    assert counts['face_landmarks_aflw_test.json'] == len(plan) - 1 - (
        AFLW_TRAIN)


def test_write_json_atomic_leaves_nothing_on_failure(tmp_path: Path) -> None:
    from repformer_mmpose.datasets.converters import write_json_atomic

    target = tmp_path / 'x.json'
    with pytest.raises(TypeError):
        write_json_atomic({'bad': object()}, target)
    assert list(tmp_path.iterdir()) == []
    write_json_atomic({'ok': math.pi}, target)
    assert load_json(target) == {'ok': math.pi}
    assert [p.name for p in tmp_path.iterdir()] == ['x.json']
