"""The point scheme of a custom landmark set (see :mod:`.custom`): names,
flip pairs, skeleton, normalisation points.

:func:`read_layout_yaml` reads the YAML file, :func:`parse_cli_pairs` the
command-line pairs that override it, :func:`build_scheme` validates both
against the final point names and :func:`metainfo_source` writes the
``dataset_info`` file MMPose reads with ``metainfo=dict(from_file=...)``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .core import ConversionError

LAYOUT_KEYS = ('dataset_name', 'points', 'flip_pairs', 'skeleton',
               'norm_points')
#: Data set names for which MMPose's NME picks its own normalisation
#: points (``NME.DEFAULT_KEYPOINT_INDICES``); a custom scheme must not
#: take them.
RESERVED_NAMES = ('300w', 'wflw', 'cofw', 'lapa', 'horse10',
                  'coco_wholebody_face')
COMMAND_LINE = 'command line'


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
    """A validated point scheme; pairs are point indices."""

    dataset_name: str
    names: list[str]  # in annotation column order
    flip_pairs: list[tuple[int, int]]  # left/right counterparts
    skeleton: list[tuple[int, int]]  # drawn links
    norm_points: tuple[int, int] | None  # their distance normalises the NME

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
    """Read a scheme YAML file (keys: :data:`LAYOUT_KEYS`)."""
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
    """Validate the final point ``names`` (from ``names_source``, by
    default the spec's) and the spec's pairs."""
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
