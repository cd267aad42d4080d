"""How well predicted per-point error scales mean something.

For a test set with per-point normalised errors ``e`` (the NME's point
errors) and predicted scales ``b`` (``keypoint_scales`` divided by the
same normalising distance):

- Spearman's rank correlation of ``b`` and ``e`` over all scored points;
- the sparsification curve: NME of the points that remain after dropping
  the fraction ``f`` with the largest ``b`` (least confident first),
  divided by the NME of all points; the oracle drops the largest errors
  instead. AUSE is the area between the two curves over ``f`` in
  ``[0, 1)``; ``NME drop @10%`` is ``1 - curve(0.1)``;
- calibration: the share of points inside the central 50 % and 90 %
  regions of the predicted distribution (``||e|| <= q_p b``, ``q_p`` from
  :func:`~repformer_mmpose.models.heads.uncertainty.interval_radius`); a
  calibrated model covers 0.5 and 0.9;
- occlusion AUROC, where the records carry per-point occlusion labels:
  the probability that an occluded point gets a lower confidence
  (``keypoint_scores``; a larger scale where no scores are given) than a
  visible one.

:func:`reference_rankings` and :func:`promised_drop` put the NME drop in
context (``tools/analysis/confidence_bounds.py``): what rankings that know
the test errors reach, and what the scales would reach if the errors
followed the predicted distributions exactly.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import mannwhitneyu, spearmanr

from ..models.heads.uncertainty import interval_radius

COVERAGE_LEVELS = (0.5, 0.9)
SPARSIFICATION_STEP = 0.01


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Area under the ROC curve of scores (Mann-Whitney U / n+ n-); ties
    count one half. NaN if a class is empty."""
    positive = np.asarray(positive, np.float64).ravel()
    negative = np.asarray(negative, np.float64).ravel()
    if not len(positive) or not len(negative):
        return float('nan')
    u = mannwhitneyu(positive, negative, method='asymptotic').statistic
    return float(u / (len(positive) * len(negative)))


def sparsification_curve(order_by: np.ndarray, errors: np.ndarray,
                         step: float = SPARSIFICATION_STEP
                         ) -> tuple[np.ndarray, np.ndarray]:
    """``(fractions, remaining NME / full NME)``: points dropped in
    decreasing ``order_by``, fractions ``0, step, ..., < 1``."""
    errors = np.asarray(errors, np.float64)
    order = np.argsort(-np.asarray(order_by, np.float64), kind='stable')
    kept_errors = errors[order][::-1]  # most confident first
    # mean of the first n most-confident points, for every n
    running_mean = np.cumsum(kept_errors) / np.arange(1, len(errors) + 1)
    fractions = np.arange(0, 1 - 1e-9, step)
    kept = np.maximum(1, np.round((1 - fractions) * len(errors))).astype(int)
    return fractions, running_mean[kept - 1] / errors.mean()


def nme_drop(order_by: np.ndarray, errors: np.ndarray,
             fraction: float = 0.1) -> float:
    """``1 - curve(fraction)`` of :func:`sparsification_curve`: how much
    dropping the share ``fraction`` of points with the largest
    ``order_by`` lowers the mean error (arrays of any shape, flattened)."""
    return drop_at(*sparsification_curve(np.ravel(order_by),
                                         np.ravel(errors)), fraction)


def drop_at(fractions: np.ndarray, curve: np.ndarray,
            fraction: float) -> float:
    """``1 - curve(fraction)``, interpolated on a sparsification curve."""
    return float(1 - np.interp(fraction, fractions, curve))


def promised_drop(scales: np.ndarray, fraction: float = 0.1) -> float:
    """The NME drop the scales would give if every error followed its
    predicted distribution: a point's expected error is proportional to
    its scale (``2 b`` Laplace, ``sqrt(pi / 2) b`` Gaussian), so dropping
    the largest scales lowers the expected mean error by
    ``1 - mean(kept b) / mean(b)``."""
    scales = np.asarray(scales, np.float64).ravel()
    return nme_drop(scales, scales, fraction)


def reference_rankings(errors: np.ndarray) -> dict[str, np.ndarray]:
    """Rankings ``(F, K)`` of the points of ``errors`` ``(F, K)`` (NaN: not
    scored) that use the test errors themselves, for comparison:

    - ``'landmark prior'``: each landmark's mean error over the faces;
    - ``'face NME'``: each face's NME (the points of a face tie);
    - ``'face NME x landmark prior'``: their product;
    - ``'oracle'``: the point's own error.
    """
    errors = np.asarray(errors, np.float64)
    landmark = np.nanmean(errors, axis=0, keepdims=True)
    face = np.nanmean(errors, axis=1, keepdims=True)
    return {
        'landmark prior': np.broadcast_to(landmark, errors.shape),
        'face NME': np.broadcast_to(face, errors.shape),
        'face NME x landmark prior': face * landmark,
        'oracle': errors,
    }


@dataclass
class UncertaintyResult:
    """What :func:`evaluate_uncertainty` computes."""

    points: int
    spearman: float
    fractions: np.ndarray
    sparsification: np.ndarray
    oracle: np.ndarray
    ause: float
    coverage: dict[float, float]
    occlusion_auroc: dict[str, float]  # '' = all faces, else a subset

    @property
    def nme_drop_at_10(self) -> float:
        return drop_at(self.fractions, self.sparsification, 0.1)

    def metrics(self) -> dict[str, float]:
        out = {'Unc/Spearman': self.spearman, 'Unc/AUSE': self.ause,
               'Unc/NMEdrop@10%': self.nme_drop_at_10}
        for level, value in self.coverage.items():
            out[f'Unc/coverage@{100 * level:.0f}%'] = value
        for subset, value in self.occlusion_auroc.items():
            key = 'Unc/occlusion_AUROC' + (f'/{subset}' if subset else '')
            out[key] = value
        return out


def evaluate_uncertainty(errors: np.ndarray, scales: np.ndarray,
                         distribution: str = 'laplace',
                         occluded: np.ndarray | None = None,
                         subset_masks: Mapping[str, np.ndarray] | None = None,
                         confidence: np.ndarray | None = None
                         ) -> UncertaintyResult:
    """Statistics of normalised ``errors`` ``(F, K)`` (NaN: not scored)
    against normalised ``scales`` ``(F, K)``.

    Args:
        distribution (str): The head's error model, for the coverage.
        occluded (np.ndarray, optional): ``(F, K)`` 1 where a point is
            occluded, 0 where not, NaN where unknown.
        subset_masks (Mapping[str, np.ndarray], optional): Face masks
            ``(F,)`` of subsets to report the occlusion AUROC on too.
        confidence (np.ndarray, optional): ``(F, K)`` scores that rank the
            points for the occlusion AUROC (lower: more likely occluded);
            without them, the scales do (larger: more likely).
    """
    errors = np.asarray(errors, np.float64)
    scales = np.asarray(scales, np.float64)
    if errors.shape != scales.shape:
        raise ValueError(f'errors {errors.shape} and scales {scales.shape} '
                         'differ in shape')
    scored = ~np.isnan(errors)
    if not np.isfinite(scales[scored]).all() or (scales[scored] <= 0).any():
        raise ValueError('predicted scales must be positive and finite')
    point_errors, point_scales = errors[scored], scales[scored]
    fractions, curve = sparsification_curve(point_scales, point_errors)
    _, oracle = sparsification_curve(point_errors, point_errors)
    coverage = {
        level: float(np.mean(point_errors <= interval_radius(
            level, distribution) * point_scales))
        for level in COVERAGE_LEVELS
    }
    aurocs = {}
    if occluded is not None:
        occluded = np.asarray(occluded, np.float64)
        doubt = scales if confidence is None else -np.asarray(
            confidence, np.float64)
        groups = {'': np.ones(len(errors), bool), **(subset_masks or {})}
        for name, faces in groups.items():
            labelled = scored & ~np.isnan(occluded) & faces[:, None]
            labels = occluded[labelled] > 0
            aurocs[name] = auroc(doubt[labelled][labels],
                                 doubt[labelled][~labels])
    return UncertaintyResult(
        points=int(scored.sum()),
        spearman=float(spearmanr(point_scales, point_errors)[0]),
        fractions=fractions,
        sparsification=curve,
        oracle=oracle,
        ause=float(np.mean(curve - oracle)),
        coverage=coverage,
        occlusion_auroc=aurocs)
