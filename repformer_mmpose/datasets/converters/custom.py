"""Any N-point face-landmark annotation -> MMPose's JSON + a metainfo file.

Input: a folder of images and one annotation file per split (or one file
and ``--test-fraction``), in either form:

* CSV, one face per row: ``image, x1, y1, x2, y2, ..., xN, yN``. An empty
  ``x, y`` pair is a missing point. An optional header row is recognised
  by a non-numeric second cell; if its columns are ``<name>_x, <name>_y``
  they name the points. Blank lines are skipped.
* JSON, a list of faces: ``[{"image": "a.jpg", "keypoints": [[x, y],
  null, ...]}, ...]``, ``null`` for a missing point.

``image`` is the image path relative to the image folder (default
``ROOT/images``). Several rows may name one image (several faces).

The point scheme -- point names, flip pairs, an optional skeleton and the
two points that normalise the NME -- comes from a small YAML file::

    dataset_name: my_faces            # optional, default 'custom'
    points: [chin, eye_l_outer, ...]  # optional: header names or kpt-<i>
    flip_pairs: [[eye_l_outer, eye_r_outer], ...]
    skeleton: [[eye_l_outer, eye_l_inner], ...]        # optional
    norm_points: [eye_l_outer, eye_r_outer]            # optional

or from the command line (``--names``, ``--flip-pairs a:b``,
``--skeleton a:b``, ``--norm-points a b``), which overrides the file key
by key.

Output, in ``ROOT/annotations`` by default:

* ``<stem>.json`` per annotation file (``train.json`` and ``test.json``
  with ``--test-fraction``), COCO-style like MMPose's face files;
* ``metainfo.py``, the ``dataset_info`` of the scheme that MMPose reads
  with ``metainfo=dict(from_file=...)`` (names, ``swap`` from the flip
  pairs, skeleton, joint weights 1, no OKS sigmas).

Record fields (see :mod:`.core`): a missing point is written as
``[0, 0, 0]`` (visibility 0), so the codec gives it weight 0 in the loss
and MMPose's NME leaves it out; ``num_keypoints`` counts the visible
points. ``bbox`` is the tight box of the visible points (MMPose's
top-down pipeline pads it x1.25, as it pads 300W's boxes);
``center``/``scale`` follow MMPose's 300W convention on the visible
points. ``id`` is the 0-based index of the face in its annotation file.

Bad input stops the conversion with a :class:`~.core.ConversionError`
naming the file, the line (CSV) or index (JSON) and the field: a row
with the wrong number of columns, a half-given point, a non-numeric or
non-finite value, a missing image, a face with fewer than two distinct
visible points (MMPose would silently drop its empty box), a face without
one of its normalisation points, flip pairs or skeleton links naming
unknown points, point counts that disagree. ``--skip-bad`` reports and
skips bad faces instead.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import os.path as osp
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .core import (
    BadRecordPolicy,
    ConversionError,
    FaceRecord,
    ImageSizeCache,
    SplitOutput,
    converter_parser,
    flat_keypoints,
    hrnet_center_scale,
    landmark_box,
    parse_float,
    run_cli,
    write_outputs,
)

METAINFO_FILE = 'metainfo.py'
LAYOUT_KEYS = ('dataset_name', 'points', 'flip_pairs', 'skeleton',
               'norm_points')
#: Data set names for which MMPose's NME picks its own normalisation
#: points (``NME.DEFAULT_KEYPOINT_INDICES``); a custom scheme must not
#: take them.
RESERVED_NAMES = ('300w', 'wflw', 'cofw', 'lapa', 'horse10',
                  'coco_wholebody_face')
COMMAND_LINE = 'command line'


# ----------------------------------------------------------------------
# the point scheme
# ----------------------------------------------------------------------
@dataclass
class NamePair:
    """Two point names as the user wrote them, and where."""

    first: str
    second: str
    source: str
    location: str


@dataclass
class SchemeSpec:
    """The scheme as given (YAML + command line), before validation."""

    dataset_name: str | None = None
    dataset_name_source: str = COMMAND_LINE
    names: list[str] | None = None
    names_source: tuple[str, str] = (COMMAND_LINE, '--names')
    flip_pairs: list[NamePair] = field(default_factory=list)
    skeleton: list[NamePair] = field(default_factory=list)
    norm_points: NamePair | None = None


@dataclass
class PointScheme:
    """A validated point scheme.

    Attributes:
        dataset_name: ``dataset_name`` of the metainfo.
        names: Point names, in annotation column order.
        flip_pairs: Index pairs of left/right counterparts.
        skeleton: Index pairs of drawn links.
        norm_points: The two points whose distance normalises the NME,
            or None.
    """

    dataset_name: str
    names: list[str]
    flip_pairs: list[tuple[int, int]]
    skeleton: list[tuple[int, int]]
    norm_points: tuple[int, int] | None

    @property
    def num_points(self) -> int:
        """Points per face."""
        return len(self.names)

    @property
    def flip_indices(self) -> list[int]:
        """Index of each point's mirror image (itself if unpaired)."""
        indices = list(range(self.num_points))
        for i, j in self.flip_pairs:
            indices[i], indices[j] = j, i
        return indices


def _name(value: Any, source: str, location: str, key: str) -> str:
    """A point name from YAML (strings; numbers are taken as text)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConversionError(source, location, key,
                              f'a point name must be text, got {value!r}')
    text = str(value).strip()
    if not text:
        raise ConversionError(source, location, key, 'empty point name')
    return text


def _yaml_pairs(value: Any, source: str, key: str) -> list[NamePair]:
    if not isinstance(value, list):
        raise ConversionError(source, key, key,
                              f'expected a list of [a, b] pairs, got '
                              f'{value!r}')
    pairs = []
    for i, item in enumerate(value):
        location = f'{key}[{i}]'
        if not isinstance(item, list) or len(item) != 2:
            raise ConversionError(source, location, key,
                                  f'expected a pair [a, b], got {item!r}')
        pairs.append(
            NamePair(_name(item[0], source, location, key),
                     _name(item[1], source, location, key), source,
                     location))
    return pairs


def read_layout_yaml(path: str) -> SchemeSpec:
    """Read a scheme YAML file (keys: see the module docstring).

    Raises:
        ConversionError: Unparsable YAML, an unknown key or a value of the
            wrong form.
    """
    import yaml
    with open(path, encoding='utf-8') as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise ConversionError(path, 'file', 'yaml',
                                  f'not valid YAML: {err}') from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConversionError(path, 'file', 'yaml',
                              'expected a mapping of keys '
                              f'{", ".join(LAYOUT_KEYS)}')
    unknown = sorted(set(map(str, data)) - set(LAYOUT_KEYS))
    if unknown:
        raise ConversionError(path, 'top level', unknown[0],
                              f'unknown key; known keys: '
                              f'{", ".join(LAYOUT_KEYS)}')
    spec = SchemeSpec()
    if 'dataset_name' in data:
        spec.dataset_name = _name(data['dataset_name'], path,
                                  'dataset_name', 'dataset_name')
        spec.dataset_name_source = path
    if 'points' in data:
        points = data['points']
        if not isinstance(points, list) or not points:
            raise ConversionError(path, 'points', 'points',
                                  'expected a non-empty list of names')
        spec.names = [
            _name(p, path, f'points[{i}]', 'points')
            for i, p in enumerate(points)
        ]
        spec.names_source = (path, 'points')
    if 'flip_pairs' in data:
        spec.flip_pairs = _yaml_pairs(data['flip_pairs'], path,
                                      'flip_pairs')
    if 'skeleton' in data:
        spec.skeleton = _yaml_pairs(data['skeleton'], path, 'skeleton')
    if 'norm_points' in data:
        (spec.norm_points, ) = _yaml_pairs([data['norm_points']], path,
                                           'norm_points')
    return spec


def parse_cli_pairs(tokens: Sequence[str], option: str) -> list[NamePair]:
    """``a:b`` tokens of a command-line option as name pairs."""
    pairs = []
    for token in tokens:
        first, sep, second = token.partition(':')
        if not sep or not first or not second or ':' in second:
            raise ConversionError(COMMAND_LINE, option, option,
                                  f'expected name:name, got {token!r}')
        pairs.append(NamePair(first, second, COMMAND_LINE, option))
    return pairs


def _index_pair(pair: NamePair, index: dict[str, int],
                key: str) -> tuple[int, int]:
    ids = []
    for name in (pair.first, pair.second):
        if name not in index:
            known = ', '.join(list(index)[:12])
            more = ', ...' if len(index) > 12 else ''
            raise ConversionError(
                pair.source, pair.location, key,
                f'unknown point {name!r} (points: {known}{more})')
        ids.append(index[name])
    if ids[0] == ids[1]:
        raise ConversionError(pair.source, pair.location, key,
                              f'point {pair.first!r} paired with itself')
    return ids[0], ids[1]


def build_scheme(spec: SchemeSpec, names: list[str],
                 names_source: tuple[str, str] | None = None) -> PointScheme:
    """Validate the names and the spec's pairs.

    Args:
        spec: The scheme as given.
        names: The final point names (see :func:`resolve_names`).
        names_source: Where they come from (default: the spec's names).

    Raises:
        ConversionError: An empty, multi-line or repeated name, a pair
            naming an unknown point or a point with itself, a point in two
            flip pairs, a reserved data set name.
    """
    source, location = names_source or spec.names_source
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        if not name or '\n' in name or name != name.strip():
            raise ConversionError(source, location, 'points',
                                  f'bad point name {name!r} (point {i})')
        if name in index:
            raise ConversionError(source, location, 'points',
                                  f'point name {name!r} given twice '
                                  f'(points {index[name]} and {i})')
        index[name] = i
    flip_pairs: list[tuple[int, int]] = []
    paired: dict[int, NamePair] = {}
    for pair in spec.flip_pairs:
        ids = _index_pair(pair, index, 'flip_pairs')
        for i in ids:
            if i in paired:
                raise ConversionError(
                    pair.source, pair.location, 'flip_pairs',
                    f'point {names[i]!r} is already in the flip pair '
                    f'at {paired[i].location}')
            paired[i] = pair
        flip_pairs.append(ids)
    skeleton = [_index_pair(p, index, 'skeleton') for p in spec.skeleton]
    norm = (None if spec.norm_points is None else _index_pair(
        spec.norm_points, index, 'norm_points'))
    dataset_name = spec.dataset_name or 'custom'
    if dataset_name.lower() in RESERVED_NAMES:
        raise ConversionError(
            spec.dataset_name_source, 'dataset_name', 'dataset_name',
            f'{dataset_name!r} is a data set of MMPose whose NME uses its '
            'own normalisation points; choose another name')
    return PointScheme(dataset_name, list(names), flip_pairs, skeleton,
                       norm)


def metainfo_source(scheme: PointScheme, origin: str) -> str:
    """The text of the metainfo file MMPose reads for ``scheme``."""
    def q(text: str) -> str:
        return repr(str(text))

    swap = scheme.flip_indices
    lines = [
        '# Landmark scheme of a custom face data set, written by',
        '# tools/dataset_converters/custom2coco.py from',
        f'# {origin}.',
        '# Point i is the i-th (x, y) column pair of the annotation. Read by',
        "# MMPose with metainfo=dict(from_file='<this file>').",
        f'# Points: {scheme.num_points}.',
    ]
    if scheme.norm_points is not None:
        a, b = scheme.norm_points
        lines.append(
            f'# NME normalisation: points {a} and {b} '
            f'({scheme.names[a]}, {scheme.names[b]}), i.e. '
            "dict(type='FaceLandmarkMetric', norm_mode='keypoint_distance', "
            f'keypoint_indices=[{a}, {b}]).')
    lines += [
        'dataset_info = dict(',
        f'    dataset_name={q(scheme.dataset_name)},',
        '    paper_info=dict(',
        f'        author={q("")}, title={q("custom landmark set")},',
        f'        container={q("")}, year={q("")}, homepage={q("")}),',
        '    keypoint_info={',
    ]
    for i, name in enumerate(scheme.names):
        mate = '' if swap[i] == i else scheme.names[swap[i]]
        lines.append(f'        {i}: dict(name={q(name)}, id={i}, '
                     f'color=[255, 0, 0], type={q("")}, swap={q(mate)}),')
    lines += ['    },', '    skeleton_info={']
    for i, (a, b) in enumerate(scheme.skeleton):
        lines.append(f'        {i}: dict(link=({q(scheme.names[a])}, '
                     f'{q(scheme.names[b])}), id={i}, '
                     'color=[0, 255, 0]),')
    lines += [
        '    },',
        f'    joint_weights=[1.0] * {scheme.num_points},',
        '    sigmas=[])',
        '',
    ]
    return '\n'.join(lines)


def write_text_atomic(text: str, path: str) -> None:
    """Write a text file via a temporary file + ``os.replace``."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------------
# annotation files
# ----------------------------------------------------------------------
@dataclass
class RawRow:
    """One face as read, before its values are checked."""

    location: str
    image: Any
    values: Any  # CSV: 2N cells; JSON: the "keypoints" entry


@dataclass
class AnnotationTable:
    """The faces of one annotation file.

    Attributes:
        path: The file.
        rows: Its faces, in file order.
        header_names: Point names from a CSV header, or None.
        header_points: Point count of a CSV header, or None.
    """

    path: str
    rows: list[RawRow]
    header_names: list[str] | None = None
    header_points: int | None = None


@dataclass
class Face:
    """One face: its image and ``(N, 2)`` points, NaN where missing."""

    location: str
    image: str
    points: np.ndarray

    @property
    def visible(self) -> np.ndarray:
        """``(N,)`` True where the point is given."""
        return ~np.isnan(self.points[:, 0])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _header_names(cells: list[str]) -> list[str] | None:
    """Names from ``<name>_x, <name>_y`` header cells, else None."""
    names = []
    for x_cell, y_cell in zip(cells[0::2], cells[1::2]):
        if not (x_cell.endswith('_x') and y_cell.endswith('_y')
                and x_cell[:-2] == y_cell[:-2] and x_cell[:-2]):
            return None
        names.append(x_cell[:-2])
    return names


def read_csv_table(path: str) -> AnnotationTable:
    """Rows of a CSV annotation file (values unchecked).

    Raises:
        ConversionError: A header with an even number of columns.
    """
    table = AnnotationTable(path, [])
    with open(path, newline='', encoding='utf-8-sig') as f:
        for line_no, row in enumerate(csv.reader(f), start=1):
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            first_row = table.header_points is None and not table.rows
            if first_row and len(cells) > 1 and cells[1] and not _is_number(
                    cells[1]):
                if len(cells) % 2 == 0:
                    raise ConversionError(
                        path, f'line {line_no}', 'header',
                        f'{len(cells)} columns; expected an image column '
                        'and an x, y pair per point (an odd number)')
                table.header_points = (len(cells) - 1) // 2
                table.header_names = _header_names(cells[1:])
                continue
            table.rows.append(RawRow(f'line {line_no}', cells[0], cells[1:]))
    return table


def read_json_table(path: str) -> AnnotationTable:
    """Faces of a JSON annotation file (values unchecked).

    Raises:
        ConversionError: Not JSON, not a list, an entry that is not an
            object.
    """
    with open(path, encoding='utf-8') as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as err:
            raise ConversionError(path, f'line {err.lineno}', 'json',
                                  f'not valid JSON: {err.msg}') from None
    if not isinstance(data, list):
        raise ConversionError(path, 'top level', 'json',
                              'expected a list of faces '
                              '[{"image": ..., "keypoints": [...]}, ...]')
    rows = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise ConversionError(path, f'index {i}', 'face',
                                  f'expected an object, got {entry!r}')
        rows.append(
            RawRow(f'index {i}', entry.get('image'), entry.get('keypoints')))
    return AnnotationTable(path, rows)


def read_table(path: str) -> AnnotationTable:
    """Read a ``.csv`` or ``.json`` annotation file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file not found: {path}')
    ext = osp.splitext(path)[1].lower()
    if ext == '.csv':
        return read_csv_table(path)
    if ext == '.json':
        return read_json_table(path)
    raise ConversionError(path, 'file', 'format',
                          f'unknown extension {ext!r}; use .csv or .json')


def _row_points(table: AnnotationTable, row: RawRow) -> int:
    """Point count a row implies.

    Raises:
        ConversionError: A CSV row with an even number of columns, a JSON
            face without a keypoint list.
    """
    if table.path.lower().endswith('.csv'):
        if len(row.values) % 2:
            raise ConversionError(
                table.path, row.location, 'columns',
                f'{len(row.values) + 1} columns; expected an image column '
                'and an x, y pair per point (an odd number)')
        return len(row.values) // 2
    if not isinstance(row.values, list):
        raise ConversionError(table.path, row.location, 'keypoints',
                              'expected a list of [x, y] or null entries, '
                              f'got {row.values!r}')
    return len(row.values)


def parse_face(table: AnnotationTable, row: RawRow,
               names: list[str]) -> Face:
    """Check one row's image and values against the scheme's point names.

    Raises:
        ConversionError: Wrong column / point count, a half-given point, a
            non-numeric or non-finite value, no image.
    """
    path, loc, num = table.path, row.location, len(names)
    if not isinstance(row.image, str) or not row.image.strip():
        raise ConversionError(path, loc, 'image',
                              f'no image path (got {row.image!r})')
    points = np.full((num, 2), np.nan)
    if path.lower().endswith('.csv'):
        if len(row.values) != 2 * num:
            raise ConversionError(
                path, loc, 'columns',
                f'{len(row.values) + 1} columns, expected {2 * num + 1} '
                f'(image, then x, y for each of {num} points)')
        pairs = list(zip(row.values[0::2], row.values[1::2]))
    else:
        if not isinstance(row.values, list) or len(row.values) != num:
            got = (f'{len(row.values)} entries' if isinstance(
                row.values, list) else repr(row.values))
            raise ConversionError(
                path, loc, 'keypoints',
                f'expected a list of {num} [x, y] or null entries, got '
                f'{got}')
        pairs = []
        for i, entry in enumerate(row.values):
            if entry is None:
                pairs.append(('', ''))
            elif (isinstance(entry, list) and len(entry) == 2 and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool)
                    for v in entry)):
                pairs.append(tuple(str(v) for v in entry))
            else:
                raise ConversionError(
                    path, loc, f'keypoints[{i}] ({names[i]})',
                    f'expected [x, y] numbers or null, got {entry!r}')
    for i, (x, y) in enumerate(pairs):
        if not x and not y:
            continue
        if not x or not y:
            raise ConversionError(
                path, loc, f'{names[i]}_{"y" if x else "x"}',
                'empty while the other coordinate is given; leave both '
                'empty for a missing point')
        points[i] = [
            parse_float(value, source=path, location=loc,
                        field=f'{names[i]}_{axis}')
            for value, axis in ((x, 'x'), (y, 'y'))
        ]
    return Face(loc, row.image.strip().replace('\\', '/'), points)


class CustomFaceRecord(FaceRecord):
    """A face whose ``num_keypoints`` counts its visible points only."""

    @property
    def num_keypoints(self) -> int:
        return sum(1 for v in self.keypoints[2::3] if v > 0)


def make_record(face: Face, ann_id: int, source: str,
                images: ImageSizeCache,
                scheme: PointScheme) -> CustomFaceRecord:
    """One checked face as a record (see the module docstring).

    Raises:
        ConversionError: The image is missing or unreadable, the visible
            points span no box, a normalisation point is missing.
    """
    visible = face.visible
    shown = face.points[visible]
    if len(shown) < 2 or np.ptp(shown[:, 0]) <= 0 or np.ptp(
            shown[:, 1]) <= 0:
        raise ConversionError(
            source, face.location, 'keypoints',
            f'{len(shown)} visible point(s) spanning no box: a face needs '
            'at least two points that differ in x and in y')
    if scheme.norm_points is not None:
        for i in scheme.norm_points:
            if not visible[i]:
                raise ConversionError(
                    source, face.location, scheme.names[i],
                    'missing, but it is a normalisation point '
                    '(norm_points): the NME of this face would be '
                    'undefined')
    height, width = images.size(face.image, source=source,
                                location=face.location)
    x0, y0, x1, y1 = landmark_box(shown)
    center, scale = hrnet_center_scale(shown)
    bbox = [x0, y0, x1 - x0, y1 - y0]
    return CustomFaceRecord(
        ann_id=ann_id,
        file_name=face.image,
        height=height,
        width=width,
        keypoints=flat_keypoints(
            np.where(visible[:, None], face.points, 0.0),
            visible.astype(float).tolist()),
        bbox=bbox,
        area=bbox[2] * bbox[3],
        center=center,
        scale=scale)


# ----------------------------------------------------------------------
# conversion
# ----------------------------------------------------------------------
def _resolve(path: str, root: str) -> str:
    """``path`` as given if it exists, else relative to ``root``."""
    if osp.isfile(path) or osp.isabs(path):
        return path
    candidate = osp.join(root, path)
    return candidate if osp.isfile(candidate) else path


def resolve_names(spec: SchemeSpec, tables: Sequence[AnnotationTable],
                  num_points: int | None
                  ) -> tuple[list[str], tuple[str, str]]:
    """The point names and where they come from; every source of a point
    count must agree.

    Sources, in order: ``num_points`` (``--num-points``), the scheme's
    names, each CSV header, else the first face of the first file.

    Raises:
        ConversionError: Two sources disagree, or nothing tells the count.
    """
    claims: list[tuple[str, str, int]] = []
    if num_points is not None:
        claims.append((COMMAND_LINE, '--num-points', num_points))
    if spec.names is not None:
        claims.append((*spec.names_source, len(spec.names)))
    for table in tables:
        if table.header_points is not None:
            claims.append((table.path, 'header', table.header_points))
    if not claims:
        first = next((t for t in tables if t.rows), None)
        if first is not None:
            claims.append((first.path, first.rows[0].location,
                           _row_points(first, first.rows[0])))
    if not claims:
        raise ConversionError(tables[0].path if tables else COMMAND_LINE,
                              'file', 'points',
                              'no faces: cannot tell the point count')
    source, location, count = claims[0]
    for other_source, other_location, other in claims[1:]:
        if other != count:
            raise ConversionError(
                other_source, other_location, 'points',
                f'{other} points, but {source} ({location}) gives {count}')
    named = [t for t in tables if t.header_names is not None]
    if spec.names is not None:
        names, names_source = list(spec.names), spec.names_source
    elif named:
        names, names_source = named[0].header_names, (named[0].path,
                                                      'header')
    else:
        names = [f'kpt-{i}' for i in range(count)]
        names_source = (source, location)
    for table in named:
        if table.header_names != names:
            raise ConversionError(
                table.path, 'header', 'points',
                'the header names the points differently from '
                f'{names_source[0]}: {table.header_names} vs {names}')
    return names, names_source


def split_by_image(records: list[CustomFaceRecord], test_fraction: float,
                   seed: int, source: str
                   ) -> tuple[list[CustomFaceRecord], list[CustomFaceRecord]]:
    """A seeded random train/test split; an image's faces stay together.

    Raises:
        ConversionError: The fraction is not in (0, 1) or leaves a split
            without images.
    """
    images = list(dict.fromkeys(r.file_name for r in records))
    num_test = int(round(test_fraction * len(images)))
    if not 0 < test_fraction < 1 or not 0 < num_test < len(images):
        raise ConversionError(
            COMMAND_LINE, '--test-fraction', 'test_fraction',
            f'{test_fraction} of the {len(images)} images of {source} '
            'leaves the train or the test split empty')
    order = np.random.default_rng(seed).permutation(len(images))
    test_images = {images[i] for i in order[:num_test]}
    train = [r for r in records if r.file_name not in test_images]
    test = [r for r in records if r.file_name in test_images]
    return train, test


def convert_custom(root: str | os.PathLike,
                   ann_files: Sequence[str | os.PathLike],
                   out_dir: str | os.PathLike | None = None,
                   image_dir: str | os.PathLike | None = None,
                   layout: str | os.PathLike | None = None,
                   names: Sequence[str] | None = None,
                   flip_pairs: Sequence[str] | None = None,
                   skeleton: Sequence[str] | None = None,
                   norm_points: Sequence[str] | None = None,
                   dataset_name: str | None = None,
                   num_points: int | None = None,
                   test_fraction: float | None = None,
                   seed: int = 0,
                   skip_bad: bool = False,
                   log: Callable[[str], None] = print) -> PointScheme:
    """Convert annotation files and write the scheme's metainfo file.

    Args:
        root: The data set folder (``data_root`` of the config).
        ann_files: CSV / JSON files (as given, else relative to ``root``).
        out_dir: Output folder (default ``root/annotations``).
        image_dir: Image folder the ``image`` paths are relative to,
            relative to ``root`` (default ``'images'``).
        layout: Scheme YAML file.
        names, flip_pairs, skeleton, norm_points, dataset_name: Command-line
            overrides of the YAML keys (pairs as ``'a:b'`` tokens).
        num_points: Expected point count, checked against everything.
        test_fraction: With one annotation file, the share of its images
            written to ``test.json`` (the rest to ``train.json``).
        seed: Seed of that split.
        skip_bad: Report and skip bad faces instead of stopping.
        log: Where the summary is printed.

    Returns:
        The validated point scheme.

    Raises:
        ConversionError: Bad input (nothing is written then).
        FileNotFoundError: An annotation or layout file is missing.
    """
    root = os.fspath(root)
    out_dir = os.fspath(out_dir or osp.join(root, 'annotations'))
    image_dir = osp.join(root, os.fspath(image_dir or 'images'))
    if not ann_files:
        raise ConversionError(COMMAND_LINE, '--ann', 'ann',
                              'no annotation file given')
    spec = SchemeSpec()
    origin = 'the command line'
    if layout is not None:
        layout = _resolve(os.fspath(layout), root)
        if not osp.isfile(layout):
            raise FileNotFoundError(f'layout file not found: {layout}')
        spec = read_layout_yaml(layout)
        origin = layout
    if names is not None:
        spec.names = [str(n) for n in names]
        spec.names_source = (COMMAND_LINE, '--names')
    if flip_pairs is not None:
        spec.flip_pairs = parse_cli_pairs(flip_pairs, '--flip-pairs')
    if skeleton is not None:
        spec.skeleton = parse_cli_pairs(skeleton, '--skeleton')
    if norm_points is not None:
        if len(norm_points) != 2:
            raise ConversionError(COMMAND_LINE, '--norm-points',
                                  'norm_points', 'expected two names')
        spec.norm_points = NamePair(*norm_points, COMMAND_LINE,
                                    '--norm-points')
    if dataset_name is not None:
        spec.dataset_name = dataset_name
        spec.dataset_name_source = COMMAND_LINE

    paths = [_resolve(os.fspath(p), root) for p in ann_files]
    stems = [osp.splitext(osp.basename(p))[0] for p in paths]
    if test_fraction is not None and len(paths) != 1:
        raise ConversionError(COMMAND_LINE, '--test-fraction',
                              'test_fraction',
                              'splits exactly one annotation file, got '
                              f'{len(paths)}')
    if len(set(stems)) != len(stems):
        raise ConversionError(COMMAND_LINE, '--ann', 'ann',
                              'two annotation files with one name: '
                              f'{stems} (outputs are named after them)')
    tables = [read_table(p) for p in paths]
    scheme = build_scheme(spec, *resolve_names(spec, tables, num_points))

    policy = BadRecordPolicy(skip_bad)
    images = ImageSizeCache(image_dir)
    outputs = []
    for stem, table in zip(stems, tables):
        records = []
        for ann_id, row in enumerate(table.rows):
            try:
                face = parse_face(table, row, scheme.names)
                records.append(
                    make_record(face, ann_id, table.path, images, scheme))
            except ConversionError as err:
                policy.handle(err)
        if test_fraction is None:
            outputs.append(SplitOutput(f'{stem}.json', records))
        else:
            train, test = split_by_image(records, test_fraction, seed,
                                         table.path)
            outputs += [SplitOutput('train.json', train),
                        SplitOutput('test.json', test)]
    write_outputs(outputs, out_dir, log=log)
    metainfo_path = osp.join(out_dir, METAINFO_FILE)
    write_text_atomic(metainfo_source(scheme, origin), metainfo_path)
    policy.report()
    _summary(scheme, outputs, root, image_dir, metainfo_path, log)
    return scheme


def _summary(scheme: PointScheme, outputs: Sequence[SplitOutput], root: str,
             image_dir: str, metainfo_path: str,
             log: Callable[[str], None]) -> None:
    """Print the missing points and what to put in the config."""
    for out in outputs:
        total = len(out.records) * scheme.num_points
        shown = sum(r.num_keypoints for r in out.records)
        log(f'{out.file_name}: {total - shown} of {total} points missing '
            '(visibility 0: no loss, not in the NME)')
    log(f'{METAINFO_FILE}: {scheme.num_points} points, '
        f'{len(scheme.flip_pairs)} flip pairs, {len(scheme.skeleton)} '
        'skeleton links')
    prefix = osp.relpath(image_dir, root).replace(os.sep, '/')
    log('config (configs/repformer/custom/): '
        f"data_root = '{root.rstrip('/')}/', "
        f'num_keypoints = {scheme.num_points}, '
        f"metainfo = dict(from_file='{metainfo_path}')"
        + ('' if prefix == 'images' else
           f", data_prefix = dict(img='{prefix}/')"))
    if scheme.norm_points is not None:
        a, b = scheme.norm_points
        log("inter-point NME: val_evaluator = dict(type='FaceLandmarkMetric', "
            f"norm_mode='keypoint_distance', keypoint_indices=[{a}, {b}])")


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of ``tools/dataset_converters/custom2coco.py``."""
    parser = converter_parser(
        'Convert a custom face-landmark annotation (CSV or JSON, any '
        'number of points) to MMPose JSON plus a metainfo file.',
        'data/custom', 'the data set folder (the config\'s data_root)')
    parser.add_argument(
        '--ann', nargs='+', required=True, metavar='FILE',
        help='annotation file(s), .csv or .json; each gives <stem>.json')
    parser.add_argument(
        '--image-dir', help='folder the image paths are relative to, '
        'itself relative to ROOT (default: images)')
    parser.add_argument(
        '--layout', metavar='YAML', help='point scheme: dataset_name, '
        'points, flip_pairs, skeleton, norm_points')
    parser.add_argument('--names', nargs='+', metavar='NAME',
                        help='point names in column order')
    parser.add_argument('--flip-pairs', nargs='*', metavar='A:B',
                        help='left/right counterparts, by name')
    parser.add_argument('--skeleton', nargs='*', metavar='A:B',
                        help='links to draw, by name')
    parser.add_argument('--norm-points', nargs=2, metavar='NAME',
                        help='the two points that normalise the NME '
                        '(every face must have them)')
    parser.add_argument('--dataset-name',
                        help="metainfo dataset_name (default: 'custom')")
    parser.add_argument('--num-points', type=int,
                        help='expected points per face (checked)')
    parser.add_argument(
        '--test-fraction', type=float, help='split one annotation file: '
        'this share of its images goes to test.json, the rest to '
        'train.json')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the split (default: 0)')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (1 on bad input)."""
    args = build_parser().parse_args(argv)
    return run_cli(lambda: convert_custom(
        args.root, args.ann, out_dir=args.out_dir,
        image_dir=args.image_dir, layout=args.layout, names=args.names,
        flip_pairs=args.flip_pairs, skeleton=args.skeleton,
        norm_points=args.norm_points, dataset_name=args.dataset_name,
        num_points=args.num_points, test_fraction=args.test_fraction,
        seed=args.seed, skip_bad=args.skip_bad))
