"""Per-face results of a test run and their statistics.

One implementation serves the ``FaceLandmarkMetric`` (during a test run),
the report tool (from MMPose/mmengine ``DumpResults`` pickles) and the
ablation runner: a data sample (the dict mmengine hands to metrics and
dumps) becomes a :class:`FaceResult`, and :func:`evaluate_faces` computes
NME, FR, AUC, the CED, the subsets and the refinement stages from a list
of them.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .face_alignment import (BOX_NORMALISED, CED_STEP, FR_THRESHOLD,
                             INTEROCULAR_INDICES, ced_curve, dataset_nme,
                             face_nmes, point_errors, summarize)
from .subsets import SubsetFace, subset_masks
from .uncertainty_metrics import UncertaintyResult, evaluate_uncertainty

NORM_MODES = ('auto', 'keypoint_distance', 'box_size', 'use_norm_item')
#: How each normalisation source is described in tables.
NORM_DESCRIPTIONS = {
    'box_size': "the annotation's box_size (prior work's AFLW protocol)",
    'bbox': 'the longer side of the center/scale box (MMPose 1.x)',
}


@dataclass
class FaceResult:
    """One evaluated face, everything in image coordinates."""

    img_path: str
    pred: np.ndarray  # (K, 2)
    gt: np.ndarray  # (K, 2)
    visible: np.ndarray  # (K,)
    norm: float
    norm_source: str
    stages: np.ndarray | None = None  # (S, K, 2), L^first..L^K
    scales: np.ndarray | None = None  # (K,) predicted error scales, pixels
    scores: np.ndarray | None = None  # (K,) keypoint_scores (confidence)
    occluded: np.ndarray | None = None  # (K,) 1 occluded, 0 not, NaN unknown


def resolve_norm_mode(norm_mode: str, dataset_name: str | None) -> str:
    """``'auto'``: box size for AFLW, inter-ocular for the others."""
    if norm_mode not in NORM_MODES:
        raise ValueError(f'norm_mode must be one of {NORM_MODES}, got '
                         f'{norm_mode!r}')
    if norm_mode != 'auto':
        return norm_mode
    return ('box_size'
            if dataset_name in BOX_NORMALISED else 'keypoint_distance')


def _array(container: Mapping, key: str, where: str) -> np.ndarray:
    if key not in container:
        raise KeyError(f'{where}: no "{key}"')
    value = container[key]
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value, np.float64)


def _longer_box_side(gt: Mapping, where: str) -> float:
    """MMPose's ``bbox_size``: the longer side of ``gt_instances.bboxes``
    (the box built from the annotation's center/scale)."""
    box = _array(gt, 'bboxes', f'{where} gt_instances').reshape(-1)[:4]
    return float(np.max(box[2:] - box[:2]))


def face_norm(sample: Mapping,
              norm_mode: str,
              keypoint_indices: Sequence[int] | None = None,
              norm_item: str | None = None,
              dataset_name: str | None = None) -> tuple[float, str]:
    """The normalising distance of one data sample and where it came from
    (the modes: :class:`~.face_landmark_metric.FaceLandmarkMetric`;
    ``'use_norm_item'`` reads any other ``norm_item`` from
    ``gt_instances``).

    Returns:
        ``(distance, source)``, source one of ``'inter-ocular I/J'``,
        ``'box_size'``, ``'bbox'`` or the ``norm_item``.

    Raises:
        KeyError: a field the mode needs is missing.
        ValueError: the distance is not a positive finite number.
    """
    where = sample.get('img_path', '<data sample without img_path>')
    name = dataset_name or sample.get('dataset_name')
    mode = resolve_norm_mode(norm_mode, name)
    gt = sample['gt_instances']
    if mode == 'keypoint_distance':
        indices = keypoint_indices or INTEROCULAR_INDICES.get(name)
        if indices is None:
            raise KeyError(f'{where}: no inter-ocular keypoint indices for '
                           f'data set {name!r}; give keypoint_indices')
        points = _array(gt, 'keypoints', f'{where} gt_instances')
        points = points.reshape(-1, 2)
        if max(indices) >= len(points):
            raise ValueError(f'{where}: keypoint_indices {tuple(indices)} '
                             f'out of range for {len(points)} keypoints')
        norm = float(np.linalg.norm(points[indices[0]] - points[indices[1]]))
        source = f'inter-ocular {indices[0]}/{indices[1]}'
    elif mode == 'box_size':
        value = sample.get('box_size', gt.get('box_size'))
        if value is not None:
            norm, source = float(np.asarray(value).reshape(-1)[0]), 'box_size'
        else:
            norm, source = _longer_box_side(gt, where), 'bbox'
    else:
        if not norm_item:
            raise KeyError('norm_mode "use_norm_item" needs norm_item')
        if norm_item == 'bbox_size':
            norm, source = _longer_box_side(gt, where), 'bbox'
        else:
            value = _array(gt, norm_item, f'{where} gt_instances')
            norm, source = float(value.reshape(-1)[0]), norm_item
    if not (np.isfinite(norm) and norm > 0):
        raise ValueError(f'{where}: normalising distance ({source}) is '
                         f'{norm}, not a positive number')
    return norm, source


def face_from_sample(sample: Mapping,
                     norm_mode: str = 'auto',
                     keypoint_indices: Sequence[int] | None = None,
                     norm_item: str | None = None,
                     dataset_name: str | None = None) -> FaceResult:
    """A :class:`FaceResult` from a top-down data sample dict (one face:
    ``pred_instances.keypoints`` ``(1, K, 2)``, optionally
    ``pred_instances.stage_keypoints`` ``(1, S, K, 2)``)."""
    where = sample.get('img_path', '<data sample without img_path>')
    for key in ('gt_instances', 'pred_instances'):
        if key not in sample:
            raise KeyError(f'{where}: data sample has no "{key}"')
    gt_inst, pred_inst = sample['gt_instances'], sample['pred_instances']
    gt = _array(gt_inst, 'keypoints', f'{where} gt_instances')
    pred = _array(pred_inst, 'keypoints', f'{where} pred_instances')
    if gt.ndim != 3 or gt.shape[0] != 1 or pred.shape != gt.shape:
        raise ValueError(f'{where}: expected one face, keypoints (1, K, 2); '
                         f'got gt {gt.shape}, pred {pred.shape}')
    if 'keypoints_visible' in gt_inst:
        visible = _array(gt_inst, 'keypoints_visible',
                         f'{where} gt_instances').reshape(-1)
    else:
        visible = np.ones(gt.shape[1])
    if visible.shape != (gt.shape[1], ):
        raise ValueError(f'{where}: keypoints_visible has {visible.size} '
                         f'values for {gt.shape[1]} keypoints')
    stages = None
    if 'stage_keypoints' in pred_inst:
        stages = _array(pred_inst, 'stage_keypoints',
                        f'{where} pred_instances')
        if stages.ndim != 4 or stages.shape[0] != 1 or \
                stages.shape[2:] != gt.shape[1:]:
            raise ValueError(f'{where}: stage_keypoints {stages.shape} is '
                             f'not (1, S, {gt.shape[1]}, 2)')
        stages = stages[0]
    norm, source = face_norm(sample, norm_mode, keypoint_indices,
                             norm_item, dataset_name)
    return FaceResult(
        img_path=str(where),
        pred=pred[0],
        gt=gt[0],
        visible=visible,
        norm=norm,
        norm_source=source,
        stages=stages,
        scales=_per_point(pred_inst, 'keypoint_scales', gt.shape[1], where),
        scores=_per_point(pred_inst, 'keypoint_scores', gt.shape[1], where),
        occluded=_per_point(sample.get('raw_ann_info') or {},
                            'keypoints_occluded', gt.shape[1], where))


def _per_point(container: Mapping, key: str, num_keypoints: int,
               where: str) -> np.ndarray | None:
    """``container[key]`` as ``(K,)`` floats, or None if absent."""
    if key not in container or container[key] is None:
        return None
    values = _array(container, key, where).reshape(-1)
    if values.shape != (num_keypoints, ):
        raise ValueError(f'{where}: {key} has {values.size} values for '
                         f'{num_keypoints} keypoints')
    return values


@dataclass
class SetResult:
    """Statistics of one set of faces (the full test set or a subset).

    ``nme`` is MMPose's (mean over scored points); FR, AUC and the CED use
    the per-face NMEs of the faces with at least one scored point.
    """

    faces: int
    nme: float
    face_nmes: np.ndarray
    fr: float
    auc: float

    def ced(self, threshold: float = FR_THRESHOLD,
            step: float = CED_STEP) -> tuple[np.ndarray, np.ndarray]:
        return ced_curve(self.face_nmes, threshold, step)


@dataclass
class FaceEvaluation:
    """What :func:`evaluate_faces` computes."""

    full: SetResult
    subsets: dict[str, SetResult]
    stage_nmes: list[float]
    norm_sources: dict[str, int]
    unscored: list[str] = field(default_factory=list)
    threshold: float = FR_THRESHOLD
    step: float = CED_STEP
    uncertainty: UncertaintyResult | None = None

    def metrics(self, first_stage: int = 0) -> dict[str, float]:
        """Flat metric dict (fractions, not %): ``NME``, ``FR@t``,
        ``AUC@t``, ``NME/stage<i>`` (``i`` from ``first_stage``) and
        ``NME/<subset>``, ``FR@t/<subset>``, ``AUC@t/<subset>`` for every
        non-empty subset."""
        fr_key, auc_key = (f'FR@{self.threshold:.2f}',
                           f'AUC@{self.threshold:.2f}')
        out = {'NME': self.full.nme, fr_key: self.full.fr,
               auc_key: self.full.auc}
        for index, nme in enumerate(self.stage_nmes):
            out[f'NME/stage{first_stage + index}'] = nme
        for name, result in self.subsets.items():
            if result.faces:
                out[f'NME/{name}'] = result.nme
                out[f'{fr_key}/{name}'] = result.fr
                out[f'{auc_key}/{name}'] = result.auc
        if self.uncertainty is not None:
            out.update(self.uncertainty.metrics())
        return out

    def normalisation(self) -> str:
        """How the faces were normalised; with several sources, how many
        faces each."""
        described = [describe_norm(k) for k in self.norm_sources]
        if len(described) == 1:
            return described[0]
        return ', '.join(f'{text} ({n} faces)' for text, n in zip(
            described, self.norm_sources.values()))


def describe_norm(source: str) -> str:
    """Table text for a :func:`face_norm` source."""
    if source.startswith('inter-ocular '):
        first, second = source.split()[1].split('/')
        return (f'the inter-ocular distance (points {first} and {second}, '
                'the outer eye corners)')
    return NORM_DESCRIPTIONS.get(source, source)


def _set_result(errors: np.ndarray, threshold: float,
                step: float) -> SetResult:
    nmes = face_nmes(errors)
    nmes = nmes[~np.isnan(nmes)]
    if len(nmes) == 0:
        nan = float('nan')
        return SetResult(len(errors), nan, nmes, nan, nan)
    stats = summarize(nmes, threshold, step)
    return SetResult(
        len(errors), dataset_nme(errors), nmes, stats['FR'], stats['AUC'])


def evaluate_faces(faces: Sequence[FaceResult],
                   subsets: Mapping[str, Sequence[SubsetFace]] | None = None,
                   threshold: float = FR_THRESHOLD,
                   step: float = CED_STEP,
                   distribution: str = 'laplace') -> FaceEvaluation:
    """NME, FR, AUC of the faces, of each subset and of each stage; where
    every face has predicted ``scales``, the uncertainty statistics of
    :func:`evaluate_uncertainty` (``distribution``: the head's error
    model).

    Raises:
        ValueError: no faces; faces disagree on keypoint or stage count;
            a subset face is not among ``faces``.
    """
    if not faces:
        raise ValueError('no faces to evaluate')
    shapes = {f.gt.shape for f in faces}
    if len(shapes) > 1:
        raise ValueError(f'faces have different keypoint counts: {shapes}')
    pred = np.stack([f.pred for f in faces])
    gt = np.stack([f.gt for f in faces])
    visible = np.stack([f.visible for f in faces])
    norm = np.array([f.norm for f in faces])
    errors = point_errors(pred, gt, visible, norm)
    unscored = [f.img_path for f, v in zip(faces, visible) if not v.any()]

    stage_shapes = {None if f.stages is None else f.stages.shape
                    for f in faces}
    if len(stage_shapes) > 1:
        raise ValueError('some faces have stage_keypoints, some do not, or '
                         f'their shapes differ: {stage_shapes}')
    stage_nmes = []
    if faces[0].stages is not None:
        stages = np.stack([f.stages for f in faces])
        stage_nmes = [
            dataset_nme(point_errors(stages[:, s], gt, visible, norm))
            for s in range(stages.shape[1])
        ]

    subset_results, masks = {}, {}
    if subsets:
        masks = subset_masks([f.img_path for f in faces],
                             [f.gt for f in faces], subsets)
        subset_results = {
            name: _set_result(errors[mask], threshold, step)
            for name, mask in masks.items()
        }
    uncertainty = None
    if all(f.scales is not None for f in faces):
        occluded = None
        if any(f.occluded is not None for f in faces):
            unknown = np.full(len(faces[0].visible), np.nan)
            occluded = np.stack([unknown if f.occluded is None
                                 else f.occluded for f in faces])
        scores = None
        if all(f.scores is not None for f in faces):
            scores = np.stack([f.scores for f in faces])
        uncertainty = evaluate_uncertainty(
            errors, np.stack([f.scales for f in faces]) / norm[:, None],
            distribution, occluded, masks, scores)
    return FaceEvaluation(
        full=_set_result(errors, threshold, step),
        subsets=subset_results,
        stage_nmes=stage_nmes,
        norm_sources=dict(Counter(f.norm_source for f in faces)),
        unscored=unscored,
        threshold=threshold,
        step=step,
        uncertainty=uncertainty)
