"""Face-landmark results of several models and data sets in one report.

Table 1's layout (rows = models, columns = data sets and subsets, NME %),
FR@0.10 / AUC@0.10 per set, NME per refinement stage, and a CED plot per
data set, from test runs of ``tools/test.py CONFIG CKPT --report DIR``::

    python tools/analysis/report.py work_dirs/table1 \
        --run work_dirs/eval_r18_wflw --run work_dirs/eval_r18_300w

or from any ``DumpResults`` pickle (MMPose's ``tools/test.py --dump``)::

    python tools/analysis/report.py work_dirs/table1 \
        --result RePFormer-R18 WFLW wflw_r18.pkl \
        --subsets WFLW data/wflw/annotations/face_landmarks_wflw_test.json

``--subsets DATASET ANN_FILE``: the data set's test file; its subsets are
the files beside it (``<stem>_largepose.json``, ...) or the attribute flags
in its records. The NME normalisation follows the data set named in the
dump (inter-ocular; AFLW: the record's ``box_size`` if the dump has it,
else MMPose's box side); each table says which was used.
"""
from __future__ import annotations

import repformer_mmpose  # noqa: F401  (first: registers the plugin, quiets mmengine)
import argparse
import json
import os.path as osp

from repformer_mmpose.evaluation import report
from repformer_mmpose.evaluation.subsets import (find_subset_files,
                                                 has_attributes,
                                                 load_subsets)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('out_dir', help='folder for the report files')
    parser.add_argument(
        '--run', action='append', default=[], metavar='DIR',
        help='a tools/test.py --report folder (holds run.json)')
    parser.add_argument(
        '--result', action='append', default=[], nargs=3,
        metavar=('MODEL', 'DATASET', 'DUMP'),
        help='a DumpResults pickle of MODEL on DATASET')
    parser.add_argument(
        '--subsets', action='append', default=[], nargs=2,
        metavar=('DATASET', 'ANN_FILE'),
        help='the test annotation file of DATASET (for --result)')
    parser.add_argument(
        '--first-stage', action='append', default=[], nargs=2,
        metavar=('MODEL', 'N'),
        help='index of MODEL\'s first stage_keypoints entry (default 0: '
        'L^0; 1 for a PTHHead without DLR)')
    parser.add_argument('--title', default='Face landmark results')
    args = parser.parse_args(argv)
    if not args.run and not args.result:
        parser.error('give at least one --run or --result')
    return args


def subsets_of(ann_file: str) -> dict:
    """The subsets of a test file: files beside it, else its flags."""
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'--subsets: file not found: {ann_file}')
    files = find_subset_files(ann_file)
    if files:
        return load_subsets(files)
    if has_attributes(ann_file):
        return load_subsets(attribute_file=ann_file)
    return {}


def from_run(folder: str) -> report.ModelResult:
    """The result of a ``tools/test.py --report`` folder."""
    path = osp.join(folder, 'run.json')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found: --run takes a folder '
                                'written by tools/test.py --report')
    with open(path) as f:
        run = json.load(f)
    metric = run['metric']
    subsets = load_subsets(metric.get('subset_files'),
                           metric.get('attribute_file'))
    # the predictions beside run.json: a copied or moved folder reports
    # its own, not whatever now lies where they were first written
    predictions = osp.join(folder, osp.basename(run['predictions']))
    evaluation = report.evaluate_dump(
        predictions, subsets, metric.get('norm_mode', 'auto'),
        metric.get('keypoint_indices'),
        threshold=metric.get('fr_threshold', 0.1),
        step=metric.get('ced_step', 1e-4))
    return report.ModelResult(run['model'], run['dataset'], evaluation,
                              int(run.get('first_stage', 0)))


def main(argv: list[str] | None = None) -> dict[str, str]:
    args = parse_args(argv)
    results = [from_run(folder) for folder in args.run]
    subsets = {name: subsets_of(path) for name, path in args.subsets}
    first = {model: int(n) for model, n in args.first_stage}
    for model, dataset, dump in args.result:
        evaluation = report.evaluate_dump(dump, subsets.get(dataset))
        results.append(
            report.ModelResult(model, dataset, evaluation,
                               first.get(model, 0)))
    written = report.write_report(results, args.out_dir, title=args.title)
    for path in written.values():
        print(f'report: {path}')
    return written


if __name__ == '__main__':
    main()
