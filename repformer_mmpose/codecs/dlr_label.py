"""The coordinate codec of RePFormer's dynamic landmark refinement."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from mmpose.codecs.base import BaseKeypointCodec
from mmpose.registry import KEYPOINT_CODECS


@KEYPOINT_CODECS.register_module()
class DLRLabel(BaseKeypointCodec):
    """Input-space keypoints <-> the normalised coordinates the head regresses.

    Convention: the ``w x h`` input image spans ``[0, 1]`` on each axis.
    Pixel ``x`` (MMPose's input space, pixel centres at integers) is at
    ``(x + 0.5) / w``. The centre of cell ``j`` of any feature map of width
    ``w'`` is then exactly ``(j + 0.5) / w'`` (see
    :func:`repformer_mmpose.models.utils.pixel_centers`), which is what the
    dynamic aggregation of Eq. 10 compares landmarks with, and a horizontal
    image flip is exactly ``u -> 1 - u``.

    Encoded:
        - keypoint_labels (np.ndarray): ``(N, K, 2)`` normalised coordinates.
        - keypoint_weights (np.ndarray): ``(N, K)``; 0 for invisible points
          (and for points outside the input if ``ignore_outside``).

    Args:
        input_size (tuple[int, int]): Input size ``(w, h)``.
        ignore_outside (bool): Give weight 0 to points that augmentation
            moved outside the input. Defaults to False: a face-landmark
            regressor can and should place them (PIPNet keeps them too).
    """

    label_mapping_table = dict(
        keypoint_labels='keypoint_labels',
        keypoint_weights='keypoint_weights',
    )
    # MMPose's GenerateTarget passes the crop size TopdownAffine made
    auxiliary_encode_keys = {'input_size'}

    def __init__(self,
                 input_size: tuple[int, int],
                 ignore_outside: bool = False) -> None:
        super().__init__()
        self.input_size = tuple(input_size)
        self.ignore_outside = ignore_outside

    def encode(self,
               keypoints: np.ndarray,
               keypoints_visible: np.ndarray | None = None,
               input_size: tuple[int, int] | None = None) -> dict:
        """Normalise input-space ``keypoints`` ``(N, K, 2)``.

        ``input_size``: the ``(w, h)`` of the image the keypoints are in
        (MMPose's ``GenerateTarget`` passes the pipeline's); it must be the
        codec's, else the labels would be normalised by the wrong size.

        Raises:
            ValueError: if a visible keypoint is NaN or infinite, or if
                ``input_size`` differs from the codec's.
        """
        if input_size is not None and tuple(
                int(side) for side in input_size) != tuple(self.input_size):
            raise ValueError(
                f'the pipeline made a {tuple(input_size)} input (its '
                f'TopdownAffine input_size) but the DLRLabel codec\'s '
                f'input_size is {tuple(self.input_size)}: set the codec '
                '(GenerateTarget encoder, model.head.decoder) and the '
                'pipeline to one input size')
        if keypoints_visible is None:
            keypoints_visible = np.ones(keypoints.shape[:2], dtype=np.float32)
        visible = keypoints_visible > 0.5
        finite = np.isfinite(keypoints).all(axis=-1)
        if (visible & ~finite).any():
            bad = np.argwhere(visible & ~finite)[:, 1].tolist()
            raise ValueError(f'visible keypoints {bad} are NaN or infinite; '
                             'mark them invisible (v=0) in the annotation')
        labels = self.normalize(np.where(finite[..., None], keypoints, 0.))
        weights = visible & finite
        if self.ignore_outside:
            weights &= ((labels >= 0) & (labels <= 1)).all(axis=-1)
        return dict(
            keypoint_labels=labels.astype(np.float32),
            keypoint_weights=weights.astype(np.float32))

    def decode(self, encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised ``(N, K, 2)`` -> input-space keypoints and scores.

        The regressor gives no confidence, so every score is 1.
        """
        keypoints = self.denormalize(encoded[..., :2])
        scores = np.ones(keypoints.shape[:-1], dtype=np.float32)
        return keypoints, scores

    def normalize(self, keypoints):
        """Input-space pixels -> ``[0, 1]`` (arrays or tensors)."""
        width, height = self.input_size
        return _scale_axes(keypoints + 0.5, 1 / width, 1 / height)

    def denormalize(self, normalized):
        """``[0, 1]`` -> input-space pixels (arrays or tensors)."""
        width, height = self.input_size
        return _scale_axes(normalized, width, height) - 0.5

    @staticmethod
    def flip(normalized, flip_indices: Sequence[int]):
        """Map predictions on a horizontally flipped input back.

        Args:
            normalized (Tensor | np.ndarray): ``(..., K, 2)`` normalised
                coordinates predicted on the flipped input.
            flip_indices (Sequence[int]): The dataset's flip index map.
        """
        flipped = normalized[..., list(flip_indices), :]  # a copy
        flipped[..., 0] = 1 - flipped[..., 0]
        return flipped


def _scale_axes(coords, scale_x: float, scale_y: float):
    """``coords[..., 0] * scale_x`` and ``coords[..., 1] * scale_y``."""
    scaled = coords * 1.0  # a float copy, array or tensor alike
    scaled[..., 0] *= scale_x
    scaled[..., 1] *= scale_y
    return scaled
