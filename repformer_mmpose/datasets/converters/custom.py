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
naming the file, the line (CSV) or index (JSON) and the field; ``--skip-bad``
reports and skips bad faces instead. Among the checks: a point further
outside its image than ``--max-keypoint-margin`` times the image size (the
data sets' rule), a face with fewer than two distinct visible points
(MMPose would silently drop its empty box), an annotation file without
faces (its empty output would replace a good one; ``--allow-empty`` writes
it).

:mod:`.custom_scheme` reads the point scheme and writes its metainfo file,
:mod:`.custom_table` reads the CSV / JSON rows, :mod:`.custom_records` turns
faces into records; this module runs the conversion.
"""
from __future__ import annotations

import os
import os.path as osp
from collections.abc import Sequence
from typing import Callable

from ...utils.atomic_write import (OutputIsInputError,
                                   refuse_input_as_output, write_text_atomic)
from ..keypoint_range import DEFAULT_KEYPOINT_MARGIN, check_margin
from .core import (BadRecordPolicy, ConversionError, ImageSizeCache,
                   SplitOutput, converter_parser, run_cli, write_outputs)
from .custom_records import make_record, split_by_image
from .custom_scheme import (COMMAND_LINE, NamePair, PointScheme, SchemeSpec,
                            build_scheme, metainfo_source, parse_cli_pairs,
                            read_layout_yaml)
from .custom_table import AnnotationTable, read_table, resolve_names

METAINFO_FILE = 'metainfo.py'


def _resolve(path: str, root: str) -> str:
    """``path`` as given if it exists, else relative to ``root``."""
    if osp.isfile(path) or osp.isabs(path):
        return path
    candidate = osp.join(root, path)
    return candidate if osp.isfile(candidate) else path


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
                   allow_empty: bool = False,
                   max_keypoint_margin: float | None = DEFAULT_KEYPOINT_MARGIN,
                   log: Callable[[str], None] = print) -> PointScheme:
    """Convert annotation files and write the scheme's metainfo file;
    return the validated point scheme.

    Args:
        root: The data set folder (``data_root`` of the config).
        ann_files: CSV / JSON files (as given, else relative to ``root``).
        out_dir: Output folder (default ``root/annotations``).
        image_dir: Folder the ``image`` paths are relative to, itself
            relative to ``root`` (default ``'images'``).
        layout: Scheme YAML file.
        names, flip_pairs, skeleton, norm_points, dataset_name: Command-line
            overrides of the YAML keys (pairs as ``'a:b'`` tokens).
        num_points: Expected point count, checked against everything.
        test_fraction: With one annotation file, the share of its images
            written to ``test.json`` (the rest to ``train.json``), split
            with ``seed``.
        allow_empty: Write an output without faces (by default an error,
            so that a header-only file never replaces a good output).
        max_keypoint_margin: How far a given point may lie outside its
            image, as a fraction of its size; None: no such check.

    Bad input raises a ConversionError and writes nothing (``skip_bad``
    reports and skips bad faces); a missing annotation or layout file
    raises FileNotFoundError.
    """
    root = os.fspath(root)
    out_dir = os.fspath(out_dir or osp.join(root, 'annotations'))
    image_dir = osp.join(root, os.fspath(image_dir or 'images'))
    if not ann_files:
        raise ConversionError(COMMAND_LINE, '--ann', 'ann',
                              'no annotation file given')
    try:
        margin = check_margin('--max-keypoint-margin', max_keypoint_margin)
    except ValueError as err:
        raise ConversionError(COMMAND_LINE, '--max-keypoint-margin',
                              'max_keypoint_margin', str(err)) from None
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
            policy.collect(records, make_record, table, row, ann_id, images,
                           scheme, margin)
        if not records and not allow_empty:
            raise _empty_error(table, stem, out_dir)
        if test_fraction is None:
            outputs.append(SplitOutput(f'{stem}.json', records))
        else:
            train, test = split_by_image(records, test_fraction, seed,
                                         table.path)
            outputs += [SplitOutput('train.json', train),
                        SplitOutput('test.json', test)]
    metainfo_path = osp.join(out_dir, METAINFO_FILE)
    inputs = {f'annotation file {i + 1}': p for i, p in enumerate(paths)}
    inputs['layout file'] = layout
    for written in [*(osp.join(out_dir, o.file_name) for o in outputs),
                    metainfo_path]:
        try:
            refuse_input_as_output(written, inputs)
        except OutputIsInputError as err:
            raise ConversionError(COMMAND_LINE, '--out-dir', 'out_dir',
                                  str(err)) from None
    write_outputs(outputs, out_dir, log=log)
    write_text_atomic(metainfo_source(scheme, origin), metainfo_path)
    policy.report()
    _summary(scheme, outputs, root, image_dir, metainfo_path, log)
    return scheme


def _empty_error(table: AnnotationTable, stem: str,
                 out_dir: str) -> ConversionError:
    """The error for an annotation file that leaves no face to write."""
    what = (f'all {len(table.rows)} faces are bad (skipped)' if table.rows
            else 'no face in the file (only a header or blank lines)')
    return ConversionError(
        table.path, 'file', 'faces',
        f'{what}: refusing to write an empty {stem}.json to {out_dir} '
        '(--allow-empty writes it)')


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


def main(argv: Sequence[str] | None = None) -> int:
    """``tools/dataset_converters/custom2coco.py``; returns the exit status."""
    parser = converter_parser(
        'Convert a custom face-landmark annotation (CSV or JSON, any '
        'number of points) to MMPose JSON plus a metainfo file.',
        'data/custom', 'the data set folder (the config\'s data_root)')
    parser.add_argument(
        '--ann', nargs='+', required=True, metavar='FILE', dest='ann_files',
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
    parser.add_argument(
        '--allow-empty', action='store_true',
        help='write an output without faces (default: an annotation file '
        'without faces is an error and nothing is written)')
    parser.add_argument(
        '--max-keypoint-margin', type=float,
        default=DEFAULT_KEYPOINT_MARGIN, metavar='M',
        help='how far a point may lie outside its image, as a fraction of '
        'the image size; the data sets\' max_keypoint_margin '
        '(default: %(default)s)')
    args = parser.parse_args(argv)
    # every option is named as the argument of convert_custom it sets
    return run_cli(lambda: convert_custom(**vars(args)))

