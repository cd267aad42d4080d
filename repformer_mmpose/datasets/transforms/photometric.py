"""PIPNet-style pixel augmentations of the face crop.

Occlusion, Gaussian blur and greyscale, as in PIPNet (Jin et al., "Pixel-in-
Pixel Net", IJCV 2021), which RePFormer's training follows. All of them run
after ``TopdownAffine``, on the crop in ``results['img']`` (BGR, usually
uint8; a list of images gets one draw applied to each), and none of them
changes keypoints.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmpose.registry import TRANSFORMS

from ._utils import check_non_negative, check_prob


def _map_img(results: dict, func: Callable[[np.ndarray], np.ndarray]) -> None:
    """Apply ``func`` to ``results['img']`` (an array or a list of them)."""
    if isinstance(results['img'], list):
        results['img'] = [func(img) for img in results['img']]
    else:
        results['img'] = func(results['img'])


@TRANSFORMS.register_module()
class RandomOcclusion(BaseTransform):
    """Paint one random rectangle of random colour over the crop.

    PIPNet's occlusion: with probability ``prob`` (0.5 in PIPNet) a
    rectangle whose width and height are each uniform in
    ``[0, max_size_ratio]`` (0.4) times the crop side is placed uniformly
    inside the crop and filled with one colour, each channel an independent
    integer uniform in ``[0, 255]``. Keypoints are left as they are, so
    occluded landmarks stay supervised, as in PIPNet. (PIPNet paints the
    rectangle before flipping and rotating, so its occluders may be
    rotated; here they are axis-aligned in the crop.)

    Required Keys:

        - img

    Modified Keys:

        - img

    Added Keys:

        - occlusion_box (only when ``record_box`` and a box is painted):
          ``np.ndarray`` ``[x1, y1, x2, y2]`` in crop pixels, ``x2``/``y2``
          exclusive.

    Args:
        prob (float): Probability of painting a rectangle. Defaults to 0.5.
        max_size_ratio (float): Largest width (height) of the rectangle as a
            fraction of the crop width (height), in ``[0, 1]``. Defaults to
            0.4.
        record_box (bool): Whether to store the painted box in
            ``results['occlusion_box']``, for debugging. Defaults to True.
    """

    def __init__(self,
                 prob: float = 0.5,
                 max_size_ratio: float = 0.4,
                 record_box: bool = True) -> None:
        super().__init__()
        self.prob = check_prob('prob', prob)
        self.max_size_ratio = check_prob('max_size_ratio', max_size_ratio)
        self.record_box = bool(record_box)

    @cache_randomness
    def _sample_params(
        self, height: int, width: int, channels: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``(box [x1, y1, x2, y2], fill colour)``, or None (not
        applied)."""
        if np.random.rand() >= self.prob:
            return None
        box_w = int(np.random.rand() * self.max_size_ratio * width)
        box_h = int(np.random.rand() * self.max_size_ratio * height)
        x1 = np.random.randint(0, width - box_w + 1)
        y1 = np.random.randint(0, height - box_h + 1)
        colour = np.random.randint(0, 256, size=channels)
        return np.array([x1, y1, x1 + box_w, y1 + box_h]), colour

    def transform(self, results: dict) -> dict:
        img = results['img']
        img = img[0] if isinstance(img, list) else img
        channels = img.shape[2] if img.ndim == 3 else 1
        params = self._sample_params(img.shape[0], img.shape[1], channels)
        if params is None:
            return results
        box, colour = params
        x1, y1, x2, y2 = (int(v) for v in box)

        def paint(image: np.ndarray) -> np.ndarray:
            image = image.copy()
            fill = colour if image.ndim == 3 else colour[0]
            image[y1:y2, x1:x2] = np.asarray(fill, dtype=image.dtype)
            return image

        _map_img(results, paint)
        if self.record_box:
            results['occlusion_box'] = box
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'max_size_ratio={self.max_size_ratio}, '
                f'record_box={self.record_box})')


@TRANSFORMS.register_module()
class RandomGaussianBlur(BaseTransform):
    """Blur the crop with a Gaussian of random standard deviation.

    PIPNet's blur: with probability ``prob`` (0.3 in PIPNet) the crop is
    blurred with PIL's ``GaussianBlur`` of radius uniform in
    ``[0, max_sigma]`` (5). Here the radius is the standard deviation
    ``sigma`` of ``cv2.GaussianBlur``, with an odd square kernel of side
    ``2 * ceil(3 * sigma) + 1``; ``sigma`` below ``1e-3`` leaves the image
    unchanged.

    Required Keys:

        - img

    Modified Keys:

        - img

    Args:
        prob (float): Probability of blurring. Defaults to 0.3.
        max_sigma (float): Largest standard deviation, in crop pixels.
            Defaults to 5.0.
    """

    min_sigma = 1e-3

    def __init__(self, prob: float = 0.3, max_sigma: float = 5.0) -> None:
        super().__init__()
        self.prob = check_prob('prob', prob)
        self.max_sigma = check_non_negative('max_sigma', max_sigma)

    @cache_randomness
    def _sample_params(self) -> float | None:
        """Draw ``sigma``, or return None when not applied."""
        if np.random.rand() >= self.prob:
            return None
        return float(np.random.uniform(0., self.max_sigma))

    @staticmethod
    def kernel_size(sigma: float) -> int:
        """Odd kernel side covering +-3 sigma."""
        return 2 * math.ceil(3 * sigma) + 1

    def transform(self, results: dict) -> dict:
        sigma = self._sample_params()
        if sigma is None or sigma < self.min_sigma:
            return results
        ksize = self.kernel_size(sigma)
        _map_img(
            results, lambda img: cv2.GaussianBlur(
                img, (ksize, ksize), sigmaX=sigma, sigmaY=sigma))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'max_sigma={self.max_sigma})')


@TRANSFORMS.register_module()
class RandomLumaGrayscale(BaseTransform):
    """Turn the crop grey, keeping three channels.

    PIPNet's ``transforms.RandomGrayscale(0.2)`` (torchvision's; mmcv's
    ``RandomGrayscale`` truncates rather than rounds): with probability
    ``prob`` (0.2 in PIPNet) the BGR crop becomes its luma
    (``0.299 R + 0.587 G + 0.114 B``, ``cv2.COLOR_BGR2GRAY``) copied into
    three equal channels, so the network input keeps its shape. Images with
    one channel are already grey and are left as they are.

    Required Keys:

        - img

    Modified Keys:

        - img

    Args:
        prob (float): Probability of turning the crop grey. Defaults to 0.2.
    """

    def __init__(self, prob: float = 0.2) -> None:
        super().__init__()
        self.prob = check_prob('prob', prob)

    @cache_randomness
    def _sample_params(self) -> bool:
        return bool(np.random.rand() < self.prob)

    @staticmethod
    def _to_gray(img: np.ndarray) -> np.ndarray:
        """BGR image to a three-channel grey image of the same dtype."""
        if img.ndim == 2 or img.shape[2] == 1:
            return img
        if img.shape[2] != 3:
            raise ValueError('RandomLumaGrayscale expects a BGR image with 3 '
                             f'channels, got shape {img.shape}')
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)

    def transform(self, results: dict) -> dict:
        if self._sample_params():
            _map_img(results, self._to_gray)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'
