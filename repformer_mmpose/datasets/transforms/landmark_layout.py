"""Landmark layouts in the data pipeline: map one annotation scheme onto
another (:class:`MapLandmarks`) and check a sample's point count against
the config (:class:`CheckNumKeypoints`).

The one mapping defined, ``'wflw98_to_ibug68'``, takes the 98 points of
WFLW (Wu et al., "Look at Boundary", CVPR 2018) to the 68 points of the
iBUG / 300W mark-up (Sagonas et al., IMAVIS 2016), both in MMPose's point
order and flip pairs. The index map, its source and the lid-third
interpolation (PIPNet's weights) are in ``docs/data_preparation.md``,
"WFLW's 98 points as 300W's 68".
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS

from ..synthface.layouts import FLIP_INDICES_68, FLIP_INDICES_98

MAPPING_MODES = ('index', 'interpolate')

#: 300W index -> WFLW index (the table in docs/data_preparation.md).
WFLW98_TO_IBUG68_INDEX: tuple[int, ...] = (
    *range(0, 33, 2),             # 0-16 contour
    *range(33, 38),               # 17-21 left brow
    *range(42, 47),               # 22-26 right brow
    *range(51, 60),               # 27-35 nose
    60, 61, 63, 64, 65, 67,       # 36-41 left eye
    68, 69, 71, 72, 73, 75,       # 42-47 right eye
    *range(76, 96),               # 48-67 lips
)

#: The lid points at thirds: 300W index -> (WFLW quarter point, WFLW
#: mid-lid point); the point is 2/3 of the first plus 1/3 of the second.
WFLW98_TO_IBUG68_LID_THIRDS: dict[int, tuple[int, int]] = {
    37: (61, 62), 38: (63, 62), 40: (65, 66), 41: (67, 66),
    43: (69, 70), 44: (71, 70), 46: (73, 74), 47: (75, 74),
}


@dataclass(frozen=True)
class LandmarkMapping:
    """A linear map from one landmark layout to another.

    Each target point is a weighted mean of source points (rows of
    ``weights`` sum to 1), so the map commutes with any affine transform
    of the image, flips included.

    Attributes:
        name: The mapping's name, e.g. ``'wflw98_to_ibug68'``.
        mode: ``'index'`` or ``'interpolate'``.
        weights: ``(T, S)`` weights of the source points.
        source_flip_indices: Flip indices of the source layout.
        target_flip_indices: Flip indices of the target layout.
    """

    name: str
    mode: str
    weights: np.ndarray
    source_flip_indices: tuple[int, ...]
    target_flip_indices: tuple[int, ...]

    @property
    def num_source(self) -> int:
        """Points of the source layout."""
        return self.weights.shape[1]

    @property
    def num_target(self) -> int:
        """Points of the target layout."""
        return self.weights.shape[0]

    def map_points(self, points: np.ndarray) -> np.ndarray:
        """``(..., S, D)`` source points -> ``(..., T, D)`` target points."""
        points = self._checked(points, 2)
        return np.einsum('ts,...sd->...td', self.weights, points)

    def map_visibility(self, visible: np.ndarray) -> np.ndarray:
        """``(..., S)`` -> ``(..., T)``: 1 where every source point with a
        weight is visible (an interpolated point needs both), else 0."""
        hidden = (self._checked(visible, 1) <= 0).astype(np.float64)
        used = (self.weights > 0).astype(np.float64)
        return (np.einsum('ts,...s->...t', used, hidden) == 0).astype(
            np.float32)

    def map_scores(self, scores: np.ndarray) -> np.ndarray:
        """``(..., S)`` -> ``(..., T)`` scores, weighted like the points."""
        return np.einsum('ts,...s->...t', self.weights,
                         self._checked(scores, 1))

    def _checked(self, values, axis_from_end: int) -> np.ndarray:
        """``values`` as an array whose ``-axis_from_end`` axis holds the
        source layout's points."""
        values = np.asarray(values)
        count = values.shape[-axis_from_end] if values.ndim >= axis_from_end \
            else -1
        if count != self.num_source:
            raise ValueError(
                f'landmark mapping {self.name!r} takes {self.num_source} '
                f'points, got {count}')
        return values


@functools.cache
def get_landmark_mapping(name: str = 'wflw98_to_ibug68',
                         mode: str = 'interpolate') -> LandmarkMapping:
    """The named mapping in ``mode``.

    Raises:
        ValueError: Unknown name or mode.
    """
    if name != 'wflw98_to_ibug68':
        raise ValueError(f"unknown landmark mapping {name!r}; known: "
                         "'wflw98_to_ibug68'")
    if mode not in MAPPING_MODES:
        raise ValueError(f'mapping mode must be one of {MAPPING_MODES}, '
                         f'got {mode!r}')
    weights = np.zeros((68, 98))
    weights[np.arange(68), WFLW98_TO_IBUG68_INDEX] = 1.0
    if mode == 'interpolate':
        for target, (quarter, middle) in (
                WFLW98_TO_IBUG68_LID_THIRDS.items()):
            weights[target] = 0.0
            weights[target, quarter] = 2 / 3
            weights[target, middle] = 1 / 3
    weights.flags.writeable = False
    return LandmarkMapping(name, mode, weights, FLIP_INDICES_98,
                           FLIP_INDICES_68)


def _where(results: dict) -> str:
    """Names a sample in an error message: image path and annotation id."""
    path = results.get('img_path', '<unknown image>')
    ann_id = results.get('id')
    return f'{path} (annotation id {ann_id})' if ann_id is not None \
        else str(path)


@TRANSFORMS.register_module()
class MapLandmarks(BaseTransform):
    """Map a sample's annotated landmarks to another layout.

    E.g. WFLW's 98 points to the 68-point 300W layout, to test a 300W
    model on WFLW images (PIPNet's "WFLW-68" protocol) or to train a
    68-point model on WFLW. Put it right after ``LoadImage``: the flip
    pairs that ``RandomFlip`` and the flip test use become the target
    layout's. To score a 98-point *model* on 68-point data, map its
    predictions instead, with the ``MappedNME`` metric
    (:mod:`repformer_mmpose.evaluation.landmark_mapping`).

    The evaluator's normalisation refers to the target layout: for 300W,
    ``dict(type='NME', norm_mode='keypoint_distance',
    keypoint_indices=[36, 45])`` (the dataset's own name would pick
    WFLW's 60, 72).

    Required Keys:

        - keypoints ``(N, S, 2)``
        - keypoints_visible ``(N, S)``

    Modified Keys:

        - keypoints, keypoints_visible, transformed_keypoints (if
          present), flip_indices, flip_pairs, dataset_keypoint_weights
          (if present, all 1), num_keypoints (if present, the visible
          mapped points)

    ``raw_ann_info`` keeps the source annotation.

    Args:
        mapping: Name of the mapping (see :func:`get_landmark_mapping`).
        mode: ``'interpolate'`` (default) or ``'index'``.
    """

    def __init__(self, mapping: str = 'wflw98_to_ibug68',
                 mode: str = 'interpolate') -> None:
        super().__init__()
        self.mapping = get_landmark_mapping(mapping, mode)

    def transform(self, results: dict) -> dict:
        mapping = self.mapping
        keypoints = np.asarray(results['keypoints'])
        if keypoints.ndim != 3 or keypoints.shape[1] != mapping.num_source:
            raise ValueError(
                f'{_where(results)}: MapLandmarks({mapping.name!r}) needs '
                f'keypoints of shape (N, {mapping.num_source}, 2), got '
                f'{keypoints.shape}')
        results['keypoints'] = mapping.map_points(keypoints).astype(
            np.float32)
        if 'transformed_keypoints' in results and np.ndim(
                results['transformed_keypoints']) == 3:
            results['transformed_keypoints'] = mapping.map_points(
                results['transformed_keypoints']).astype(np.float32)
        visible = np.asarray(results['keypoints_visible'])
        if visible.ndim == 3:  # (N, S, 1) as some loaders give it
            visible = visible[..., 0]
        visible = mapping.map_visibility(visible)
        results['keypoints_visible'] = visible
        flips = mapping.target_flip_indices
        results['flip_indices'] = list(flips)
        results['flip_pairs'] = [(i, int(j)) for i, j in enumerate(flips)
                                 if i < j]
        if 'dataset_keypoint_weights' in results:
            results['dataset_keypoint_weights'] = np.ones(
                mapping.num_target, dtype=np.float32)
        if 'num_keypoints' in results:
            results['num_keypoints'] = int(np.count_nonzero(visible))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mapping={self.mapping.name!r}, '
                f'mode={self.mapping.mode!r})')


@TRANSFORMS.register_module()
class CheckNumKeypoints(BaseTransform):
    """Stop with a clear error when a sample's landmark count is not the
    config's.

    A config for a custom layout (``configs/repformer/custom/``) sets the
    point count once, for the head and for this check; the annotation
    file and the dataset's metainfo file must agree with it. Without the
    check a mismatch surfaces as a tensor-shape error deep inside the loss
    or the metric. Put it right after ``LoadImage``.

    Required Keys:

        - keypoints ``(N, K, 2)``
        - flip_indices (optional; the dataset metainfo's point count)

    Args:
        num_keypoints: The point count of the config (the head's).

    Raises:
        ValueError: From :meth:`transform`, naming the image, the
            annotation id and the three counts.
    """

    def __init__(self, num_keypoints: int) -> None:
        super().__init__()
        if (not isinstance(num_keypoints, int)
                or isinstance(num_keypoints, bool) or num_keypoints < 1):
            raise ValueError('num_keypoints must be a positive integer, '
                             f'got {num_keypoints!r}')
        self.num_keypoints = num_keypoints

    def transform(self, results: dict) -> dict:
        found = {'the annotation': int(np.shape(results['keypoints'])[-2])}
        if 'flip_indices' in results:
            name = results.get('dataset_name', '?')
            found[f'the dataset metainfo ({name})'] = len(
                results['flip_indices'])
        if all(count == self.num_keypoints for count in found.values()):
            return results
        counts = ', '.join(f'{where} has {count}'
                           for where, count in found.items())
        raise ValueError(
            f'{_where(results)}: the config expects {self.num_keypoints} '
            f'landmarks (num_keypoints, model.head.num_keypoints) but '
            f'{counts}; set num_keypoints in the config to the point '
            'count of the annotation and metainfo to the metainfo file '
            'written with it (tools/dataset_converters/custom2coco.py '
            'prints both)')

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'num_keypoints={self.num_keypoints})')
