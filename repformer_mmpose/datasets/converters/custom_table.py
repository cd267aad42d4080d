"""Reading the CSV / JSON annotation files of a custom landmark set (the
formats: see :mod:`.custom`).

:func:`read_table` reads a file's rows unchecked, :func:`resolve_names`
settles the point names and count, :func:`parse_face` checks one row.
"""
from __future__ import annotations

import csv
import json
import os.path as osp
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from mmengine import fileio

from .core import ConversionError, is_number, parse_float
from .custom_scheme import COMMAND_LINE, SchemeSpec

#: Delimiters other than ',' that a CSV export may use; found in the first
#: row, they are reported as the file's delimiter.
FOREIGN_DELIMITERS = (';', '\t', '|')


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


def _header_names(cells: list[str]) -> list[str] | None:
    """Names from ``<name>_x, <name>_y`` header cells, else None."""
    names = []
    for x_cell, y_cell in zip(cells[0::2], cells[1::2]):
        if not (x_cell.endswith('_x') and y_cell.endswith('_y')
                and x_cell[:-2] == y_cell[:-2] and x_cell[:-2]):
            return None
        names.append(x_cell[:-2])
    return names


def _check_delimiter(cells: list[str], first_row: bool, path: str,
                     line_no: int) -> None:
    """Refuse a row that is not comma-separated: a row of one cell (no comma
    at all) cannot hold a face, and a first row (header or face) with a cell
    holding another usual delimiter means the file uses that one."""
    candidates = FOREIGN_DELIMITERS + ((' ', ) if len(cells) == 1 else ())
    if len(cells) > 1 and not first_row:
        return
    for delimiter in candidates:
        count = sum(cell.count(delimiter) for cell in cells)
        if count:
            raise ConversionError(
                path, f'line {line_no}', 'delimiter',
                f'not comma-separated: found the delimiter {delimiter!r} '
                f'{count} time(s) ({len(cells)} column(s) when split at '
                "','); write the CSV with ',' between cells: image, x1, "
                'y1, ..., xN, yN')
    if len(cells) == 1:
        raise ConversionError(
            path, f'line {line_no}', 'columns',
            f'1 column ({cells[0]!r:.60}): expected an image column and an '
            "x, y pair per point, separated by ','")


def read_csv_table(path: str) -> AnnotationTable:
    """Rows of a CSV annotation file (values unchecked)."""
    table = AnnotationTable(path, [])
    with open(path, newline='', encoding='utf-8-sig') as f:
        for line_no, row in enumerate(csv.reader(f), start=1):
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            first_row = table.header_points is None and not table.rows
            _check_delimiter(cells, first_row, path, line_no)
            if first_row and len(cells) > 1 and cells[1] and not is_number(
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
    """Faces of a JSON annotation file (values unchecked)."""
    try:
        data = fileio.load(path, file_format='json')
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
    """Point count a row implies."""
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
    """Check one row's image and values against the scheme's point names."""
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


def resolve_names(spec: SchemeSpec, tables: Sequence[AnnotationTable],
                  num_points: int | None
                  ) -> tuple[list[str], tuple[str, str]]:
    """The point names and where they come from. Every source of a point
    count must agree: ``num_points`` (``--num-points``), the scheme's
    names, each CSV header, else the first face of the first file."""
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
