"""Face-alignment error statistics: NME, failure rate, CED and its AUC.

Conventions (the paper's Table 1 and its lineage, HRNet and PIPNet):

* point error: ``||p_j - g_j||_2 / d``, ``d`` the face's normalising
  distance: inter-ocular (the outer eye corners MMPose's ``NME`` metric
  uses: WFLW 60/72, 300W 36/45, COFW 8/9) or the face box size (AFLW);
* only visible ground-truth points are scored (``keypoints_visible != 0``,
  as MMPose);
* NME of a set: the mean point error over every scored point of every face
  -- MMPose's ``keypoint_nme``, so the figure equals MMPose's ``NME``
  metric. With all points visible (WFLW, 300W, AFLW's protocol) it is also
  the mean of the per-face NMEs;
* per-face NME: the mean point error over the face's scored points; FR,
  CED and AUC are computed from these;
* ``FR@t``: the fraction of faces with per-face NME ``> t`` (a face exactly
  at ``t`` is not a failure);
* CED: ``ced(x)`` = fraction of faces with per-face NME ``<= x`` on the grid
  ``x = 0, step, ..., t`` (``t / step + 1`` points);
* ``AUC@t`` = ``simpson(ced, x) / t`` (Simpson's rule), PIPNet's
  ``compute_fr_and_auc`` with ``t = 0.1``, ``step = 1e-4``. The grid is
  built with ``linspace`` so that it ends exactly at ``t``.
"""
from __future__ import annotations

import numpy as np
from mmpose.evaluation.metrics import NME
from scipy.integrate import simpson

#: Outer eye corners of each data set, by MMPose's ``dataset_name``: the
#: table MMPose's ``NME`` metric uses (300W 36/45, WFLW 60/72, COFW 8/9).
INTEROCULAR_INDICES: dict[str, tuple[int, int]] = {
    name: tuple(indices)
    for name, indices in NME.DEFAULT_KEYPOINT_INDICES.items()
}
#: Data sets normalised by the face box (HRNet's and PIPNet's protocol).
BOX_NORMALISED = ('aflw', )
FR_THRESHOLD = 0.1
CED_STEP = 1e-4


def point_errors(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray,
                 norm: np.ndarray) -> np.ndarray:
    """Normalised point errors ``(F, K)``, NaN where a point is not scored.

    Args:
        pred, gt: ``(F, K, 2)`` keypoints in the same (image) frame.
        visible: ``(F, K)``; a point is scored where it is not 0.
        norm: ``(F,)`` positive normalising distances.

    Raises:
        ValueError: shapes disagree or a normalising distance is not a
            positive finite number (the message gives the face's index).
    """
    pred = np.asarray(pred, np.float64)
    gt = np.asarray(gt, np.float64)
    visible = np.asarray(visible).reshape(gt.shape[:2]) != 0
    norm = np.asarray(norm, np.float64).reshape(-1)
    if pred.shape != gt.shape or pred.ndim != 3:
        raise ValueError(f'pred {pred.shape} and gt {gt.shape} must both '
                         'be (faces, keypoints, 2)')
    if len(norm) != len(gt):
        raise ValueError(f'{len(norm)} normalising distances for '
                         f'{len(gt)} faces')
    bad = np.flatnonzero(~(np.isfinite(norm) & (norm > 0)))
    if len(bad):
        raise ValueError(f'face {int(bad[0])}: normalising distance '
                         f'{norm[bad[0]]} is not positive')
    errors = np.linalg.norm(pred - gt, axis=-1) / norm[:, None]
    return np.where(visible, errors, np.nan)


def dataset_nme(errors: np.ndarray) -> float:
    """Mean over every scored point (MMPose's ``keypoint_nme``)."""
    scored = errors[~np.isnan(errors)]
    return float(scored.mean()) if scored.size else float('nan')


def face_nmes(errors: np.ndarray) -> np.ndarray:
    """``(F,)`` per-face NME, NaN for a face without a scored point."""
    counts = (~np.isnan(errors)).sum(-1)
    sums = np.nansum(errors, axis=-1)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _checked(nmes: np.ndarray) -> np.ndarray:
    nmes = np.asarray(nmes, np.float64).reshape(-1)
    if nmes.size == 0:
        raise ValueError('no faces to compute FR / CED / AUC from')
    if np.isnan(nmes).any():
        raise ValueError('per-face NME contains NaN (a face without any '
                         'scored point): drop such faces first')
    return nmes


def failure_rate(nmes: np.ndarray, threshold: float = FR_THRESHOLD) -> float:
    """Fraction of faces with NME ``> threshold``."""
    return float((_checked(nmes) > threshold).mean())


def ced_curve(nmes: np.ndarray,
              threshold: float = FR_THRESHOLD,
              step: float = CED_STEP) -> tuple[np.ndarray, np.ndarray]:
    """The cumulative error distribution on ``0, step, ..., threshold``.

    Returns:
        ``(x, ced)``: ``ced[i]`` is the fraction of faces with
        NME ``<= x[i]``.
    """
    nmes = np.sort(_checked(nmes))
    intervals = int(round(threshold / step))
    if intervals < 2 or not np.isclose(intervals * step, threshold):
        raise ValueError(f'threshold {threshold} must be a multiple (>= 2) '
                         f'of step {step}')
    x = np.linspace(0., threshold, intervals + 1)
    ced = np.searchsorted(nmes, x, side='right') / len(nmes)
    return x, ced


def auc(nmes: np.ndarray,
        threshold: float = FR_THRESHOLD,
        step: float = CED_STEP) -> float:
    """Area under the CED up to ``threshold``, divided by ``threshold``
    (Simpson's rule, as PIPNet)."""
    x, ced = ced_curve(nmes, threshold, step)
    return float(simpson(ced, x=x) / threshold)


def summarize(nmes: np.ndarray,
              threshold: float = FR_THRESHOLD,
              step: float = CED_STEP) -> dict[str, float]:
    """``{'FR': ..., 'AUC': ...}`` of per-face NMEs (fractions)."""
    return dict(
        FR=failure_rate(nmes, threshold), AUC=auc(nmes, threshold, step))
