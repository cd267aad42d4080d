"""Fuzzing the converters: malformed input never crashes them with an
exception that hides the cause, and never leaves a partial JSON file.

Hypothesis generates WFLW list lines, 300W ``.pts`` files and AFLW / COFW
records, from near-valid (one token off, NaN/inf, huge or negative values,
wrong counts) to arbitrary text and bytes. The properties:

* a record is either converted, with finite values and the right number of
  points, or refused with :class:`ConversionError` naming the source file
  and the line / index -- never another exception type;
* a whole conversion either writes every output file completely, as strict
  JSON (no ``NaN``/``Infinity`` literals) that parses, or raises
  ``ConversionError`` and writes no JSON file at all (no temporary file
  left behind either);
* the command line turns a bad record into ``error: <file>, line N: ...``
  on stderr and exit status 1, not a traceback.

Runs are bounded (``max_examples``) and derandomised, so CI is repeatable.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repformer_mmpose.datasets.converters import (ConversionError,
                                                  convert_300w,
                                                  convert_wflw)
from repformer_mmpose.datasets.converters import aflw as aflw_module
from repformer_mmpose.datasets.converters import cofw as cofw_module
from repformer_mmpose.datasets.converters import face300w as w300_module
from repformer_mmpose.datasets.converters import wflw as wflw_module
from repformer_mmpose.datasets.converters.core import ImageSizeCache

FUZZ = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow,
                           HealthCheck.function_scoped_fixture])
IMAGE_SIZE = (48, 64)  # height, width


def _write_image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((*IMAGE_SIZE, 3), 127, np.uint8))


def _strict_json(path: Path) -> dict:
    """Parse a file as standard JSON: NaN / Infinity literals refused."""

    def refuse(name):
        raise ValueError(f'{path}: non-standard JSON constant {name}')

    return json.loads(path.read_text(encoding='utf-8'),
                      parse_constant=refuse)


def _assert_all_or_nothing(out_dir: Path, raised: bool) -> list[dict]:
    files = sorted(p for p in out_dir.glob('*') if p.is_file())
    leftovers = [p.name for p in files if p.name.startswith('.')]
    assert not leftovers, f'temporary files left: {leftovers}'
    if raised:
        assert not files, f'JSON written despite the error: {files}'
        return []
    assert files, 'no JSON written and no error raised'
    return [_strict_json(p) for p in files]


def _assert_names_source(error: ConversionError, source: str,
                         where: str) -> None:
    message = str(error)
    assert message.startswith(f'{source}, {where}'), message
    assert error.source == source and error.field


# ----------------------------------------------------------------------
# token strategies
# ----------------------------------------------------------------------
def _number_text(value: float) -> str:
    return repr(value) if math.isfinite(value) else str(value)


NUMBERS = st.one_of(
    st.floats(0, 60, allow_nan=False).map(lambda v: f'{v:.3f}'),
    st.floats(allow_nan=True, allow_infinity=True).map(_number_text),
    st.sampled_from(['nan', 'NaN', '-inf', 'Infinity', '1e400', '-1e309',
                     '1e308', '-1.7e308', '0x10', '1_0', '--1', '', '.',
                     'e5', '١٢', '½']),
)
EXTREMES = st.sampled_from(['1.7e308', '1e308', '9e307', '1e200', '1e7'])
GARBAGE = st.text(
    alphabet=st.characters(blacklist_categories=['Cs']), max_size=8)
TOKEN = st.one_of(NUMBERS, NUMBERS, GARBAGE.filter(lambda t: t.strip()))


def _good_coords(count: int) -> list[str]:
    rng = np.random.default_rng(count)
    return [f'{v:.3f}' for v in rng.uniform(5, 40, size=count)]


@st.composite
def wflw_lines(draw) -> str:
    """A WFLW list line with one part broken, or arbitrary text."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=300))
    coords = _good_coords(2 * wflw_module.NUM_POINTS)
    count = draw(st.sampled_from([196, 196, 196, 194, 198, 0, 1]))
    coords = (coords * 2)[:count]
    for _ in range(draw(st.integers(0, 3))):
        if coords:
            coords[draw(st.integers(0, len(coords) - 1))] = draw(TOKEN)
    if len(coords) > 4 and draw(st.integers(0, 3)) == 0:
        # finite values whose box overflows: x0 -> -big, x1 -> +big
        big = draw(EXTREMES)
        coords[0], coords[2] = f'-{big}', big
    rect = draw(st.one_of(
        st.just(['2', '3', '50', '45']),
        st.lists(TOKEN, min_size=4, max_size=4)))
    flags = draw(st.lists(st.sampled_from(['0', '1', '0', '1', '2', 'x']),
                          min_size=6, max_size=6))
    name = draw(st.sampled_from(['ok.jpg', 'ok.jpg', 'missing.jpg',
                                 'corrupt.jpg']))
    tokens = coords + rect + flags + [name]
    if draw(st.booleans()):
        del tokens[draw(st.integers(0, len(tokens) - 1))]
    return ' '.join(tokens)


@st.composite
def pts_files(draw) -> bytes:
    """A ``.pts`` file with one part broken, or arbitrary bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=400))
    n_points = draw(st.sampled_from(['68', '68', '68', '67', '69', 'x',
                                     '', '6.8', ' 68 ', '1e2']))
    lines = [f'{x} {y}' for x, y in zip(*[iter(_good_coords(136))] * 2)]
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        lines[at] = ' '.join(draw(st.lists(TOKEN, min_size=0, max_size=3)))
    if draw(st.integers(0, 3)) == 0:
        big = draw(EXTREMES)
        lines[0], lines[1] = f'-{big} 10', f'{big} 10'
    if draw(st.booleans()):
        del lines[draw(st.integers(0, len(lines) - 1)):]
    header = ['version: 1', f'n_points: {n_points}', '{']
    if draw(st.integers(0, 5)) == 0:
        del header[draw(st.integers(0, 2))]
    closing = draw(st.sampled_from(['}', '}', '', '} trailing']))
    text = '\n'.join(header + lines + [closing]) + '\n'
    return text.encode('utf-8', errors='surrogatepass')


# ----------------------------------------------------------------------
# WFLW
# ----------------------------------------------------------------------
@pytest.fixture(scope='module')
def wflw_images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('wflw_images')
    _write_image(root / 'ok.jpg')
    (root / 'corrupt.jpg').write_bytes(b'\xff\xd8\xff not a jpeg')
    return root


@FUZZ
@given(line=wflw_lines())
def test_wflw_line_converts_or_names_file_and_line(line, wflw_images):
    source = '/data/list_98pt_rect_attr_test.txt'
    try:
        record = wflw_module.parse_line(
            line, source=source, line_no=7, ann_id=0,
            images=ImageSizeCache(wflw_images))
    except ConversionError as error:
        _assert_names_source(error, source, 'line 7')
        return
    assert record.num_keypoints == wflw_module.NUM_POINTS
    values = (record.keypoints + record.bbox + record.center +
              [record.scale, record.area] + record.extra['crop_bbox'])
    assert all(math.isfinite(v) for v in values), values


def _wflw_release(root: Path, bad_line: str, images: Path) -> Path:
    list_dir = root / 'ann'
    list_dir.mkdir(parents=True)
    good = ' '.join(_good_coords(196) + ['2', '3', '50', '45'] +
                    ['0'] * 6 + ['ok.jpg'])
    (list_dir / 'list_98pt_rect_attr_train.txt').write_text(good + '\n')
    (list_dir / 'list_98pt_rect_attr_test.txt').write_text(
        f'{good}\n{bad_line}\n{good}\n', encoding='utf-8',
        errors='surrogatepass')
    return list_dir


@FUZZ
@given(line=wflw_lines(), skip=st.booleans())
def test_wflw_conversion_writes_all_or_nothing(line, skip, wflw_images):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ann_dir = _wflw_release(root, line, wflw_images)
        out_dir = root / 'out'
        out_dir.mkdir()
        try:
            convert_wflw(ann_dir, wflw_images, out_dir, skip_bad=skip)
        except ConversionError as error:
            assert not skip
            _assert_names_source(
                error, str(ann_dir / 'list_98pt_rect_attr_test.txt'),
                'line 2')
            _assert_all_or_nothing(out_dir, raised=True)
            return
        files = _assert_all_or_nothing(out_dir, raised=False)
        assert len(files) == 8  # train, test, 6 attribute subsets


@FUZZ
@given(line=wflw_lines())
def test_wflw_cli_reports_instead_of_traceback(line, wflw_images, capsys):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ann_dir = _wflw_release(root, line, wflw_images)
        status = wflw_module.main([
            '--ann-dir', str(ann_dir), '--image-root', str(wflw_images),
            '--out-dir', str(root / 'out')
        ])
        err = capsys.readouterr().err
        assert status in (0, 1)
        if status:
            source = ann_dir / 'list_98pt_rect_attr_test.txt'
            assert err.startswith(f'error: {source}, line 2: field '), err
            assert 'Traceback' not in err
            assert not (root / 'out').exists() or not any(
                (root / 'out').iterdir())


# ----------------------------------------------------------------------
# 300W
# ----------------------------------------------------------------------
@FUZZ
@given(content=pts_files())
def test_pts_file_reads_or_names_file_and_line(content):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'face.pts')
        with open(path, 'wb') as f:
            f.write(content)
        try:
            points = w300_module.read_pts(path)
        except ConversionError as error:
            assert str(error).startswith(f'{path}, '), str(error)
            assert error.location.startswith(('line ', 'header', 'points'))
            return
    assert points.shape == (w300_module.NUM_POINTS, 2)
    assert np.isfinite(points).all()


def _300w_release(root: Path, content: bytes) -> Path:
    release = root / 'images'
    for folder in ('lfpw/trainset', 'helen/trainset', 'afw',
                   'lfpw/testset', 'helen/testset', 'ibug'):
        (release / folder).mkdir(parents=True)
    good = '\n'.join(
        ['version: 1', 'n_points: 68', '{'] +
        [f'{x} {y}' for x, y in zip(*[iter(_good_coords(136))] * 2)] +
        ['}']) + '\n'
    for folder, stem in (('afw', 'a_good'), ('ibug', 'b_good')):
        _write_image(release / folder / f'{stem}.png')
        (release / folder / f'{stem}.pts').write_text(good)
    _write_image(release / 'afw' / 'b_fuzzed.png')
    (release / 'afw' / 'b_fuzzed.pts').write_bytes(content)
    return release


@FUZZ
@given(content=pts_files(), skip=st.booleans())
def test_300w_conversion_writes_all_or_nothing(content, skip):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        release = _300w_release(root, content)
        out_dir = root / 'annotations'
        out_dir.mkdir()
        try:
            convert_300w(release, out_dir, skip_bad=skip)
        except ConversionError as error:
            assert not skip
            assert str(error).startswith(
                f'{release / "afw" / "b_fuzzed.pts"}, '), str(error)
            _assert_all_or_nothing(out_dir, raised=True)
            return
        files = _assert_all_or_nothing(out_dir, raised=False)
        assert len(files) == 4  # train, valid, common, challenge
        for data in files:
            for ann in data['annotations']:
                assert len(ann['keypoints']) == 3 * 68


# ----------------------------------------------------------------------
# AFLW and COFW records (MATLAB arrays)
# ----------------------------------------------------------------------
ARRAY_VALUES = st.one_of(
    st.floats(0, 60, allow_nan=False),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, 2.0, -1.0, 1e308, -1e308]))


@st.composite
def aflw_releases(draw) -> dict:
    n = aflw_module.NUM_POINTS
    data = np.array(draw(st.lists(ARRAY_VALUES, min_size=2 * n,
                                  max_size=2 * n)))
    if draw(st.booleans()):  # mostly plausible points
        data = np.where(np.isfinite(data) & (np.abs(data) < 100), data,
                        10.0) if draw(st.booleans()) else data
    mask = np.array(draw(st.lists(st.sampled_from([0, 1, 1, 2, 0.5]),
                                  min_size=n, max_size=n)), dtype=float)
    bbox = np.array(draw(st.one_of(
        st.just([2.0, 50.0, 3.0, 40.0]),
        EXTREMES.map(lambda big: [-float(big), float(big), 3.0, 40.0]),
        st.lists(ARRAY_VALUES, min_size=4, max_size=4))))
    name = draw(st.sampled_from(['ok.jpg', 'missing.jpg', '',
                                 np.array(['ok.jpg']),
                                 np.array([1.0, 2.0])]))
    names = np.empty(1, dtype=object)
    names[0] = name
    return dict(data=data[None], mask_new=mask[None], bbox=bbox[None],
                nameList=names, ra=np.array([0]))


@FUZZ
@given(release=aflw_releases())
def test_aflw_record_converts_or_names_index(release, wflw_images):
    source = '/data/AFLWinfo_release.mat'
    try:
        record = aflw_module.make_record(release, 0, 0, source,
                                         ImageSizeCache(wflw_images))
    except ConversionError as error:
        _assert_names_source(error, source, 'index 0 (MATLAB 1)')
        return
    values = (record.keypoints + record.bbox + record.center +
              [record.scale, record.area, record.extra['box_size']] +
              record.extra['crop_bbox'])
    assert all(math.isfinite(v) for v in values), values


class _FakeMat(dict):
    """Stands in for an h5py file: dereferences image references."""


@st.composite
def cofw_faces(draw) -> tuple:
    n = cofw_module.NUM_POINTS
    xy = draw(st.lists(ARRAY_VALUES, min_size=2 * n, max_size=2 * n))
    occluded = draw(st.lists(st.sampled_from([0.0, 1.0, 1.0, 2.0]),
                             min_size=n, max_size=n))
    box = draw(st.one_of(st.just([3.0, 4.0, 30.0, 30.0]),
                         EXTREMES.map(lambda big: [3.0, 4.0, float(big),
                                                   float(big)]),
                         st.lists(ARRAY_VALUES, min_size=4, max_size=4)))
    image = draw(st.sampled_from([
        np.full((3, 20, 16), 100, np.uint8),  # MATLAB-transposed RGB
        np.full((20, 16), 100, np.uint8),  # grey
        np.full((3, 20, 16), 0.5, np.float32),  # not 8-bit
        np.zeros((2, 2, 2, 2), np.uint8),  # not an image
        None,  # broken reference
    ]))
    return np.array(xy + occluded), np.array(box), image


@FUZZ
@given(face=cofw_faces())
def test_cofw_record_converts_or_names_index(face):
    phis, box, image = face
    mat = _FakeMat({'ref': image} if image is not None else {})
    source = '/data/COFW_test_color.mat'
    with tempfile.TemporaryDirectory() as tmp:
        try:
            record = cofw_module._make_record(
                mat, 'ref', phis, box, source, 'index 0 (MATLAB 1)', 'IsT',
                'phisT', 'bboxesT', tmp, 1)
        except ConversionError as error:
            _assert_names_source(error, source, 'index 0 (MATLAB 1)')
            assert not [p for p in os.listdir(tmp) if p.startswith('.')]
            return
        assert os.path.isfile(os.path.join(tmp, record.file_name))
    values = record.keypoints + record.bbox + [record.area]
    assert all(math.isfinite(v) for v in values), values
