"""Inter-ocular NME per image source, from a predictions dump.

Test sets assembled from several sources name their images
``<source>_...`` (e.g. ``helen_...`` and ``lfpw_...`` in the 300W common
set); this splits the NME by that prefix::

    python tools/analysis/nme_by_source.py \
        work_dirs/<run>/test_predictions.pkl --eyes 36 45
"""
from __future__ import annotations

import argparse
import os.path as osp
from collections import defaultdict

import numpy as np

from repformer_mmpose.evaluation.report import load_dump


def per_face_nme(pred: np.ndarray, gt: np.ndarray, eyes: tuple[int, int],
                 visible: np.ndarray | None = None) -> float:
    """Mean error over the visible points, over the distance of the two
    ``eyes`` points."""
    ocular = np.linalg.norm(gt[eyes[0]] - gt[eyes[1]])
    errors = np.linalg.norm(pred - gt, axis=-1)
    if visible is not None:
        errors = errors[np.asarray(visible) > 0]
    return float(errors.mean() / ocular)


def nme_by_source(samples: list[dict], eyes: tuple[int, int]
                  ) -> dict[str, tuple[int, float]]:
    """``{source: (faces, NME)}`` plus ``'all'``."""
    errors: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        source = osp.basename(sample['img_path']).split('_')[0]
        visible = sample['gt_instances'].get('keypoints_visible')
        nme = per_face_nme(
            np.asarray(sample['pred_instances']['keypoints'])[0],
            np.asarray(sample['gt_instances']['keypoints'])[0], eyes,
            None if visible is None else np.asarray(visible)[0])
        errors[source].append(nme)
        errors['all'].append(nme)
    return {k: (len(v), float(np.mean(v))) for k, v in errors.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('dump', help='DumpResults pickle of a test run')
    parser.add_argument('--eyes', type=int, nargs=2, default=(36, 45))
    args = parser.parse_args(argv)
    samples = load_dump(args.dump)  # refuses pickles that would run code
    print('| source | faces | NME (%) |\n| --- | ---: | ---: |')
    for source, (faces, nme) in sorted(
            nme_by_source(samples, tuple(args.eyes)).items()):
        print(f'| {source} | {faces} | {100 * nme:.2f} |')


if __name__ == '__main__':
    main()
