"""PIPNet-style random translation and rotation of the face crop."""
from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmpose.datasets.transforms import TopdownAffine
from mmpose.registry import TRANSFORMS

from ._utils import check_non_negative, check_prob


@TRANSFORMS.register_module()
class RandomShiftRotate(BaseTransform):
    """Randomly translate and rotate the crop window with uniform laws.

    The geometric augmentation of PIPNet (Jin et al., "Pixel-in-Pixel
    Net", IJCV 2021), which RePFormer's training follows:

    - translation with probability 0.5, offsets uniform in
      ``[-30, 30]`` pixels on each axis at the 256x256 input size;
    - rotation with probability 0.5, angle uniform in ``[-30, 30]`` degrees
      about the crop centre.

    PIPNet moves the pixels of the already-cropped face; here the crop
    window is moved instead (``bbox_center`` and ``bbox_rotation``), which
    ``TopdownAffine`` then applies in one warp: the same images, without
    the black borders of a second resampling. Unlike MMPose's
    ``RandomBBoxTransform`` (truncated normal), the laws are uniform, as in
    PIPNet.

    The offset is in output-crop pixels: per axis
    ``u * max_shift_px * s / input_size`` image pixels, ``u ~ U(-1, 1)``,
    ``s`` the bbox scale after ``TopdownAffine``'s aspect-ratio
    correction. Every instance draws its own values.

    Use after ``GetBBoxCenterScale`` (and ``RandomFlip``) and before
    ``TopdownAffine``.

    Required Keys:

        - bbox_center
        - bbox_scale
        - bbox_rotation (optional)

    Modified Keys:

        - bbox_center

    Added Keys:

        - bbox_rotation

    Args:
        input_size (tuple[int, int]): Output crop size ``(w, h)``, the same
            as ``TopdownAffine``'s. Defaults to ``(256, 256)``.
        max_shift_px (float): Largest offset per axis, in output-crop pixels.
            Defaults to 30.
        shift_prob (float): Probability of shifting. Defaults to 0.5.
        max_rotate_deg (float): Largest rotation in degrees. Defaults to 30.
        rotate_prob (float): Probability of rotating. Defaults to 0.5.
    """

    def __init__(self,
                 input_size: tuple[int, int] = (256, 256),
                 max_shift_px: float = 30.,
                 shift_prob: float = 0.5,
                 max_rotate_deg: float = 30.,
                 rotate_prob: float = 0.5) -> None:
        super().__init__()
        if (not isinstance(input_size, Sequence) or len(input_size) != 2
                or not all(
                    isinstance(v, Integral) and not isinstance(v, bool)
                    and v > 0 for v in input_size)):
            raise ValueError('input_size must be two positive integers '
                             f'(w, h), got {input_size!r}')
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.max_shift_px = check_non_negative('max_shift_px', max_shift_px)
        self.shift_prob = check_prob('shift_prob', shift_prob)
        self.max_rotate_deg = check_non_negative('max_rotate_deg',
                                                 max_rotate_deg)
        self.rotate_prob = check_prob('rotate_prob', rotate_prob)

    @cache_randomness
    def _sample_params(self, num: int) -> tuple[np.ndarray, np.ndarray]:
        """``(num, 2)`` offsets in output-crop pixels and ``(num,)``
        angles in degrees; as many random numbers whatever the
        probabilities, so that the RNG stream does not depend on them."""
        shift = np.random.uniform(-1., 1., size=(num, 2)) * self.max_shift_px
        do_shift = np.random.rand(num, 1) < self.shift_prob
        angle = np.random.uniform(-1., 1., size=num) * self.max_rotate_deg
        do_rotate = np.random.rand(num) < self.rotate_prob
        return np.where(do_shift, shift, 0.), np.where(do_rotate, angle, 0.)

    def transform(self, results: dict) -> dict:
        center = np.asarray(results['bbox_center'])
        scale = np.asarray(results['bbox_scale'])
        if center.ndim != 2 or center.shape[1] != 2:
            raise ValueError('bbox_center must have shape (N, 2), got '
                             f'{center.shape}')
        num = center.shape[0]
        shift_px, angle = self._sample_params(num)

        w, h = self.input_size
        # the scale TopdownAffine will crop: its own (private) aspect-ratio
        # fix, MMPose pinned to 1.3; tests/test_transforms.py guards it
        crop_scale = TopdownAffine._fix_aspect_ratio(scale, w / h)
        px_per_crop_px = crop_scale / np.array(self.input_size)
        dtype = (center.dtype
                 if np.issubdtype(center.dtype, np.floating) else np.float32)
        results['bbox_center'] = (center + shift_px * px_per_crop_px).astype(
            dtype, copy=False)

        rotation = results.get('bbox_rotation')
        if rotation is None:
            rotation = np.zeros(num, dtype=np.float32)
        results['bbox_rotation'] = (np.asarray(rotation) + angle).astype(
            np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'input_size={self.input_size}, '
                f'max_shift_px={self.max_shift_px}, '
                f'shift_prob={self.shift_prob}, '
                f'max_rotate_deg={self.max_rotate_deg}, '
                f'rotate_prob={self.rotate_prob})')
