"""Occluders drawn over part of a SynthFace face.

An :class:`Occluder` is anchored on a face part (an eye, the mouth, the
nose, one side of the jaw, ...) and sized relative to the face, so it
covers landmarks by construction.  Shapes: ellipse, random polygon,
rotated rectangle, a band across the eyes or the mouth (sunglasses,
scarf), and a hand (palm plus fingers).  Fills: solid, smooth noise,
stripes or skin-like.  The union of the drawn masks is returned so the
occluded share of the keypoints can be measured.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .background import noise_texture

SHIFT = 4
_ONE = 1 << SHIFT

KINDS = ('ellipse', 'polygon', 'rect', 'band', 'hand')
TEXTURES = ('solid', 'noise', 'stripes', 'skin')
ANCHORS = {
    'eye_l': ('eye_l_up', 'eye_l_lo'),
    'eye_r': ('eye_r_up', 'eye_r_lo'),
    'eyes': ('eye_l_up', 'eye_r_up'),
    'brow_l': ('brow_l_up',),
    'brow_r': ('brow_r_up',),
    'nose': ('nose_ridge', 'nose_base'),
    'mouth': ('lip_outer',),
    'jaw_l': ('jaw',),
    'jaw_r': ('jaw',),
    'chin': ('jaw',),
}


@dataclass(frozen=True)
class Occluder:
    """One occluding object.

    ``offset`` and ``size`` are in units of the face size (longer side of
    the landmark box); ``angle`` is in degrees; ``radii`` holds the
    relative vertex radii of a polygon.
    """

    kind: str
    anchor: str
    offset: tuple[float, float]
    size: float
    aspect: float
    angle: float
    texture: str
    colour: tuple[float, float, float]
    colour2: tuple[float, float, float]
    radii: tuple[float, ...] = ()


def anchor_point(anchor: str, parts: dict[str, np.ndarray]) -> np.ndarray:
    """Image position of an anchor from the projected parts."""
    pts = np.concatenate([parts[name] for name in ANCHORS[anchor]])
    if anchor == 'jaw_l':
        pts = parts['jaw'][2:11]
    elif anchor == 'jaw_r':
        pts = parts['jaw'][22:31]
    elif anchor == 'chin':
        pts = parts['jaw'][12:21]
    return pts.mean(0)


def _ip(p: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(p) * _ONE).astype(np.int32)


def _draw_mask(occ: Occluder, centre: np.ndarray, face: float,
               roll: float, size: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    s = occ.size * face
    angle = occ.angle
    c = tuple(int(v) for v in _ip(centre))
    if occ.kind == 'ellipse':
        axes = (int(s / 2 * _ONE), int(s / 2 * occ.aspect * _ONE))
        cv2.ellipse(mask, c, axes, angle, 0, 360, 255, -1, cv2.LINE_AA,
                    SHIFT)
    elif occ.kind == 'polygon':
        n = len(occ.radii)
        ang = np.deg2rad(angle) + 2 * np.pi * np.arange(n) / n
        rad = np.asarray(occ.radii) * s / 2
        pts = centre + np.stack([np.cos(ang), np.sin(ang)], 1) * rad[:, None]
        cv2.fillPoly(mask, [_ip(pts)], 255, cv2.LINE_AA, SHIFT)
    elif occ.kind in ('rect', 'band'):
        if occ.kind == 'band':  # spans the face, follows its roll
            w, h, angle = 1.1 * face, s * 0.45 * occ.aspect, roll + angle
        else:
            w, h = s, s * occ.aspect
        box = cv2.boxPoints(((float(centre[0]), float(centre[1])),
                             (float(w), float(h)), float(angle)))
        cv2.fillPoly(mask, [_ip(box)], 255, cv2.LINE_AA, SHIFT)
    else:  # hand: palm and four fingers pointing along ``angle``
        axes = (int(s * 0.32 * _ONE), int(s * 0.26 * _ONE))
        cv2.ellipse(mask, c, axes, angle, 0, 360, 255, -1, cv2.LINE_AA,
                    SHIFT)
        a = np.deg2rad(angle)
        d = np.array([np.cos(a), np.sin(a)])
        n = np.array([-d[1], d[0]])
        width = max(int(round(s * 0.11)), 1)
        for k, length in enumerate((0.55, 0.65, 0.62, 0.5)):
            base = centre + d * s * 0.15 + n * s * (k - 1.5) * 0.13
            tip = base + d * s * length * occ.aspect
            cv2.line(mask, tuple(int(v) for v in _ip(base)),
                     tuple(int(v) for v in _ip(tip)), 255, width,
                     cv2.LINE_AA, SHIFT)
    return mask


def _texture(occ: Occluder, rng: np.random.Generator,
             size: int) -> np.ndarray:
    c0 = np.array(occ.colour, np.float32)
    c1 = np.array(occ.colour2, np.float32)
    if occ.texture == 'solid':
        return np.broadcast_to(c0, (size, size, 3))
    if occ.texture == 'stripes':
        coords = np.arange(size, dtype=np.float32)
        period = max(occ.size * size * 0.15, 3.0)
        t = (np.floor((coords[None, :] + coords[:, None] * occ.aspect)
                      / period) % 2)
        return c0 + (c1 - c0) * t[..., None]
    cells = int(rng.integers(4, 24)) if occ.texture == 'noise' else 6
    t = noise_texture(rng, size, cells, 1) / 255.0
    if occ.texture == 'skin':
        t = 0.15 * t
    return c0 + (c1 - c0) * t


def draw_occluders(image: np.ndarray, occluders: tuple[Occluder, ...],
                   parts: dict[str, np.ndarray], face: float, roll: float,
                   rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``occluders`` over ``image``; return it and their mask union."""
    size = image.shape[0]
    union = np.zeros((size, size), np.uint8)
    if not occluders:
        return image, union
    out = image.astype(np.float32)
    for occ in occluders:
        centre = anchor_point(occ.anchor, parts) + np.asarray(
            occ.offset) * face
        mask = _draw_mask(occ, centre, face, roll, size)
        alpha = (mask.astype(np.float32) / 255.0)[..., None]
        out = out + (_texture(occ, rng, size) - out) * alpha
        union = np.maximum(union, mask)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), union


def occluded_points(mask: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """``(K,)`` True where a keypoint's pixel is covered (mask >= 128)."""
    size = mask.shape[0]
    idx = np.clip(np.round(keypoints).astype(int), 0, size - 1)
    return mask[idx[:, 1], idx[:, 0]] >= 128
