"""Drawing of a SynthFace face from its projected parts.

Every landmark is a vertex of something drawn: the face region is the
polygon of the jaw and the forehead arc, the eyebrows are filled strokes
between their upper and lower edge, the eyes are sclera polygons between
the lids with an iris clipped to them, the nose is a ridge line ending in
a lit tip over the nostril line, the lips are filled polygons between
outer and inner contour.  All coordinates arrive quantised to 1/16 pixel
(:mod:`.pose`) and are drawn with OpenCV's sub-pixel ``shift=4``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

SHIFT = 4
_ONE = 1 << SHIFT
_AA = cv2.LINE_AA

Colour = tuple[float, float, float]


@dataclass(frozen=True)
class Appearance:
    """Colours (BGR) and make-up of one face.

    ``lip`` is the final lip colour (make-up already mixed in);
    ``eyeshadow_alpha``, ``eyeliner`` and ``blush_alpha`` in [0, 1] are
    the make-up strengths; ``hair`` is None for a bald head.
    """

    skin: Colour
    lip: Colour
    brow: Colour
    iris: Colour
    sclera: Colour
    teeth: Colour
    hair: Colour | None
    eyeshadow: Colour
    eyeshadow_alpha: float = 0.0
    eyeliner: float = 0.0
    blush: Colour = (90.0, 90.0, 200.0)
    blush_alpha: float = 0.0


def _ip(points: np.ndarray) -> np.ndarray:
    """Pixel coordinates to OpenCV's fixed-point ``int32`` (``shift=4``)."""
    return np.round(np.asarray(points) * _ONE).astype(np.int32)


def _scaled(colour: Colour, factor: float) -> Colour:
    return tuple(min(max(float(c) * factor, 0.0), 255.0) for c in colour)


def _thick(px: float) -> int:
    return max(int(round(px)), 1)


def _blend(image: np.ndarray, draw: Callable[[np.ndarray], None],
           colour: Colour, alpha: float) -> None:
    """Alpha-blend ``colour`` where ``draw`` paints a mask (in place)."""
    if alpha <= 0:
        return
    mask = np.zeros(image.shape[:2], np.uint8)
    draw(mask)
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        return
    roi = image[y:y + h, x:x + w].astype(np.float32)
    a = mask[y:y + h, x:x + w].astype(np.float32)[..., None] * (alpha / 255)
    roi += (np.asarray(colour, np.float32) - roi) * a
    image[y:y + h, x:x + w] = np.clip(roi + 0.5, 0, 255).astype(np.uint8)


def _fill(image: np.ndarray, polys: list[np.ndarray], colour) -> None:
    cv2.fillPoly(image, [_ip(p) for p in polys], colour, _AA, SHIFT)


def _line(image: np.ndarray, pts: np.ndarray, colour, width: int,
          closed: bool = False) -> None:
    cv2.polylines(image, [_ip(pts)], closed, colour, width, _AA, SHIFT)


def face_polygon(parts: dict[str, np.ndarray]) -> np.ndarray:
    """Outline of the face region: jaw then forehead arc."""
    return np.concatenate([parts['jaw'], parts['forehead']])


def _eye(image: np.ndarray, parts: dict[str, np.ndarray], side: str,
         app: Appearance, ppu: float) -> None:
    up, lo = parts[f'eye_{side}_up'], parts[f'eye_{side}_lo']
    crease = parts[f'crease_{side}']
    shadow = np.concatenate([up, (up + (crease - up) * 2.2)[::-1]])
    _blend(image, lambda m: _fill(m, [shadow], 255), app.eyeshadow,
           app.eyeshadow_alpha)
    _blend(image, lambda m: _line(m, crease, 255, _thick(0.012 * ppu)),
           _scaled(app.skin, 0.6), 0.45)
    eye = np.concatenate([up, lo[-2:0:-1]])
    _fill(image, [eye], app.sclera)
    # Iris and pupil, clipped to the opening between the lids.
    mask = np.zeros(image.shape[:2], np.uint8)
    _fill(mask, [eye], 255)
    x, y, w, h = cv2.boundingRect(mask)
    if w > 0 and h > 0:
        layer = image.copy()
        _fill(layer, [parts[f'iris_{side}_ring']], app.iris)
        _line(layer, parts[f'iris_{side}_ring'], _scaled(app.iris, 0.55),
              _thick(0.01 * ppu), closed=True)
        _fill(layer, [parts[f'pupil_{side}_ring']], (15, 15, 15))
        a = mask[y:y + h, x:x + w].astype(np.float32)[..., None] / 255
        roi = image[y:y + h, x:x + w].astype(np.float32)
        roi += (layer[y:y + h, x:x + w].astype(np.float32) - roi) * a
        image[y:y + h, x:x + w] = np.clip(roi + 0.5, 0, 255).astype(
            np.uint8)
    lash = _scaled(app.brow, 0.5)
    _line(image, up, lash, _thick((0.022 + 0.03 * app.eyeliner) * ppu))
    _line(image, lo, _scaled(app.skin, 0.55), _thick(0.01 * ppu))


def _brows(image: np.ndarray, parts: dict[str, np.ndarray],
           app: Appearance) -> None:
    for side in 'lr':
        up, lo = parts[f'brow_{side}_up'], parts[f'brow_{side}_lo']
        _fill(image, [np.concatenate([up, lo[::-1]])], app.brow)


def _nose(image: np.ndarray, parts: dict[str, np.ndarray], app: Appearance,
          ppu: float) -> None:
    ridge, base = parts['nose_ridge'], parts['nose_base']
    dark = _scaled(app.skin, 0.55)
    _blend(image, lambda m: _line(m, ridge, 255, _thick(0.035 * ppu)),
           _scaled(app.skin, 0.7), 0.5)
    tip = tuple(int(v) for v in _ip(ridge[-1]))
    radius = int(round(0.045 * ppu * _ONE))
    _blend(image, lambda m: cv2.circle(m, tip, radius, 255, -1, _AA, SHIFT),
           _scaled(app.skin, 1.18), 0.6)
    for side, end in (('l', base[0]), ('r', base[-1])):
        ala = np.concatenate([end[None], parts[f'ala_{side}']])
        _line(image, ala, _scaled(app.skin, 0.68), _thick(0.018 * ppu))
        c = tuple(int(v) for v in _ip(parts[f'nostril_{side}'][0]))
        axes = (int(round(0.05 * ppu * _ONE)), int(round(0.022 * ppu * _ONE)))
        angle = float(np.degrees(np.arctan2(*(base[-1] - base[0])[::-1])))
        cv2.ellipse(image, c, axes, angle, 0, 360, _scaled(app.skin, 0.3),
                    -1, _AA, SHIFT)
    _line(image, base, dark, _thick(0.018 * ppu))


def _mouth(image: np.ndarray, parts: dict[str, np.ndarray], app: Appearance,
           ppu: float) -> None:
    outer, inner = parts['lip_outer'], parts['lip_inner']
    gap = float(np.linalg.norm(inner[6] - inner[2]))
    if gap > 1.0:  # open mouth: dark interior and upper teeth
        _fill(image, [inner], _scaled(app.lip, 0.3))
        teeth = np.concatenate([
            inner[:5], inner[3][None] + (inner[5] - inner[3]) * 0.35,
            inner[2][None] + (inner[6] - inner[2]) * 0.35,
            inner[1][None] + (inner[7] - inner[1]) * 0.35])
        _fill(image, [teeth], app.teeth)
    upper = np.concatenate([outer[:7], inner[4::-1]])
    lower = np.concatenate([outer[6:], outer[:1], inner[:1],
                            inner[7:4:-1], inner[4:5]])
    _fill(image, [upper], _scaled(app.lip, 0.88))
    _fill(image, [lower], app.lip)
    _line(image, outer, _scaled(app.lip, 0.75), 1, closed=True)
    _line(image, inner, _scaled(app.lip, 0.35), _thick(0.015 * ppu),
          closed=True)


def render_face(image: np.ndarray, parts: dict[str, np.ndarray],
                app: Appearance, ppu: float) -> np.ndarray:
    """Draw the face into ``image`` (in place); return the face mask.

    ``parts`` are the projected parts (pixels), ``ppu`` the pixels per
    canonical unit.  The mask (uint8, 255 inside) is the face region.
    """
    if app.hair is not None:
        _fill(image, [parts['hair_back']], app.hair)
    _fill(image, [parts['neck']], _scaled(app.skin, 0.72))
    face = face_polygon(parts)
    _fill(image, [face], app.skin)
    mask = np.zeros(image.shape[:2], np.uint8)
    _fill(mask, [face], 255)
    _blend(image, lambda m: _line(m, parts['jaw'], 255, _thick(0.02 * ppu)),
           _scaled(app.skin, 0.6), 0.7)
    for side in 'lr':
        c = tuple(int(v) for v in _ip(parts[f'cheek_{side}'][0]))
        r = int(round(0.17 * ppu * _ONE))
        _blend(image, lambda m, c=c, r=r: cv2.circle(m, c, r, 255, -1, _AA,
                                                      SHIFT),
               app.blush, app.blush_alpha)
    for side in 'lr':
        _eye(image, parts, side, app, ppu)
    _brows(image, parts, app)
    _nose(image, parts, app, ppu)
    _mouth(image, parts, app, ppu)
    if app.hair is not None:
        _fill(image, [parts['fringe']], app.hair)
    return mask
