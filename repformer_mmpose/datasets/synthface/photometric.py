"""Illumination, blur and sensor noise of a SynthFace image.

Pixel quantities (blur sigma, motion length) are given for a 256-pixel
image and scaled with the actual image size, so the attribute thresholds
of :mod:`.attributes` mean the same at every resolution.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

REFERENCE_SIZE = 256


@dataclass(frozen=True)
class Photometric:
    """Lighting and degradation parameters of one image.

    ``light_strength`` in [0, 1) is the depth of a directional light ramp
    (over the frame and, stronger, across the face) coming from
    ``light_angle`` (radians); ``exposure`` is a gain in photographic
    stops (negative = under-exposed); ``tint`` is a per-channel (BGR) gain.
    ``blur_sigma`` is a Gaussian blur and ``motion_length`` a linear motion
    blur along ``motion_angle``, both in pixels of a 256-pixel image;
    ``noise_sigma`` is the standard deviation of additive (uniform) noise
    in grey levels.
    """

    light_strength: float = 0.0
    light_angle: float = 0.0
    exposure: float = 0.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    blur_sigma: float = 0.0
    motion_length: float = 0.0
    motion_angle: float = 0.0
    noise_sigma: float = 0.0


def _ramp(size: int, centre: np.ndarray, radius: float,
          angle: float) -> np.ndarray:
    """Linear ramp in [-1, 1] along ``angle`` across a disc."""
    coords = np.arange(size, dtype=np.float32)
    dx = (coords - centre[0]) * np.float32(np.cos(angle) / radius)
    dy = (coords - centre[1]) * np.float32(np.sin(angle) / radius)
    return np.clip(dx[None, :] + dy[:, None], -1.0, 1.0)


def shade_face(image: np.ndarray, face_mask: np.ndarray, centre: np.ndarray,
               radius: float, strength: float, angle: float) -> np.ndarray:
    """Directional shading of the face: one side lit, the other shadowed.

    Also darkens the face towards its outline (a soft rim) so the jaw
    contour reads as the edge of a rounded surface.
    """
    size = image.shape[0]
    # A wide blur is cheap at quarter resolution.
    small = cv2.resize(face_mask, (max(size // 4, 1),) * 2,
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), max(radius * 0.03, 0.5))
    soft = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    soft = soft.astype(np.float32) / 255.0
    rim = 0.78 + 0.22 * np.clip(soft * 1.6 - 0.3, 0.0, 1.0)
    light = 1.0 + 0.55 * strength * _ramp(size, centre, radius, angle)
    mask = face_mask.astype(np.float32) / 255.0
    gain = 1.0 + mask * (rim * light - 1.0)
    out = image.astype(np.float32) * gain[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """Normalised line kernel of ``length`` pixels along ``angle``."""
    k = int(np.ceil(length)) | 1
    kernel = np.zeros((k, k), np.uint8)
    c = (k - 1) / 2
    d = np.array([np.cos(angle), np.sin(angle)]) * (length - 1) / 2
    p0 = np.round((np.array([c, c]) - d) * 16).astype(np.int32)
    p1 = np.round((np.array([c, c]) + d) * 16).astype(np.int32)
    cv2.line(kernel, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])),
             255, 1, cv2.LINE_8, 4)
    kernel = kernel.astype(np.float32)
    return kernel / max(float(kernel.sum()), 1e-6)


def apply_photometric(image: np.ndarray, params: Photometric,
                      rng: np.random.Generator) -> np.ndarray:
    """Global light ramp, exposure, tint, blur and noise (uint8 in/out)."""
    size = image.shape[0]
    px = size / REFERENCE_SIZE
    centre = np.array([(size - 1) / 2] * 2)
    ramp = _ramp(size, centre, size * 0.75, params.light_angle)
    gain = 2.0 ** params.exposure * (1.0 + 0.35 * params.light_strength
                                     * ramp)
    out = image.astype(np.float32) * gain[..., None]
    out *= np.asarray(params.tint, np.float32)
    if params.blur_sigma > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), params.blur_sigma * px)
    if params.motion_length > 1.5:
        kernel = motion_kernel(params.motion_length * px,
                               params.motion_angle)
        out = cv2.filter2D(out, -1, kernel, borderType=cv2.BORDER_REFLECT)
    if params.noise_sigma > 0:
        # Uniform noise of standard deviation ``noise_sigma`` (much
        # cheaper to draw than Gaussian noise).
        noise = rng.random(out.shape, dtype=np.float32) - np.float32(0.5)
        out += noise * np.float32(params.noise_sigma * np.sqrt(12.0))
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
