"""How far can per-point confidence go on a test set? The NME drop of the
branch's scales against rankings that know the test errors.

Reads a predictions dump of a model with the uncertainty branch
(``tools/test.py CONFIG CKPT --report DIR`` writes ``DIR/predictions.pkl``)
and prints, for dropping the share ``--fraction`` of points:

- the branch's scales (what ``FaceLandmarkMetric`` reports);
- the drop the scales promise: what they would give if every error
  followed its predicted distribution;
- rankings that use the test errors: each landmark's mean error, each
  face's NME, their product, and the oracle (the point's own error).

::

    python tools/analysis/confidence_bounds.py \\
        work_dirs/<run>/predictions.pkl --eyes 36 45
"""
from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import spearmanr

from repformer_mmpose.evaluation.face_alignment import point_errors
from repformer_mmpose.evaluation.face_results import face_from_sample
from repformer_mmpose.evaluation.report import load_dump
from repformer_mmpose.evaluation.uncertainty_metrics import (
    nme_drop, promised_drop, reference_rankings)


def errors_and_scales(samples: list[dict], eyes: tuple[int, int]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Point errors and predicted scales ``(F, K)``, both over each face's
    inter-ocular distance (points ``eyes``); NaN errors are not scored."""
    faces = [face_from_sample(sample, 'keypoint_distance', eyes)
             for sample in samples]
    missing = [face.img_path for face in faces if face.scales is None]
    if missing:
        raise ValueError(f'{missing[0]}: no keypoint_scales (a model '
                         'without the uncertainty branch?)')
    norm = np.array([face.norm for face in faces])
    errors = point_errors(np.stack([face.pred for face in faces]),
                          np.stack([face.gt for face in faces]),
                          np.stack([face.visible for face in faces]), norm)
    scales = np.stack([face.scales for face in faces]) / norm[:, None]
    return errors, scales


def bounds_table(errors: np.ndarray, scales: np.ndarray,
                 fraction: float = 0.1) -> list[tuple[str, float, float]]:
    """``(ranking, Spearman with the error, NME drop)`` rows; the
    promised drop has no Spearman (NaN)."""
    scored = ~np.isnan(errors)
    point_errors_ = errors[scored]

    def row(name: str, order_by: np.ndarray) -> tuple[str, float, float]:
        values = order_by[scored]
        return (name, float(spearmanr(values, point_errors_)[0]),
                nme_drop(values, point_errors_, fraction))

    rows = [row('predicted scale (the branch)', scales),
            ('predicted scale, were the errors as predicted', float('nan'),
             promised_drop(scales[scored], fraction))]
    rows += [row(f'{name} (knows the test errors)', ranking)
             for name, ranking in reference_rankings(errors).items()]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('predictions', help='a DumpResults pickle')
    parser.add_argument('--eyes', type=int, nargs=2, default=(36, 45),
                        help='the normalising points (default: 300W outer '
                        'eye corners)')
    parser.add_argument('--fraction', type=float, default=0.1,
                        help='share of points dropped (default 0.1)')
    args = parser.parse_args()
    errors, scales = errors_and_scales(load_dump(args.predictions),
                                       tuple(args.eyes))
    print(f'{int((~np.isnan(errors)).sum())} points of {len(errors)} faces; '
          f'dropping {100 * args.fraction:g} %\n')
    print('| ranking | Spearman(ranking, error) | NME drop |')
    print('| --- | ---: | ---: |')
    for name, spearman, drop in bounds_table(errors, scales, args.fraction):
        shown = '-' if np.isnan(spearman) else f'{spearman:.3f}'
        print(f'| {name} | {shown} | {100 * drop:.1f} % |')


if __name__ == '__main__':
    main()
