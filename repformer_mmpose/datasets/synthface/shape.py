"""Parametric face shape of SynthFace (2-D outline plus a depth profile).

The face lives in a canonical frame: ``x`` to the image right, ``y`` down,
``z`` towards the camera, the unit is half the jaw width of the mean face
and the origin is near the bridge of the nose.  :func:`face_geometry` turns
identity and expression parameters (:class:`ShapeParams`) into named parts,
each an ``(n, 3)`` array of densely sampled points; :mod:`.layouts` picks
the 68 (300W) or 98 (WFLW) keypoints out of them and :mod:`.render` draws
the very same points.  Every left part is built once and mirrored
(``x -> -x``), midline points have ``x == 0``, so the neutral face is
exactly symmetric.  The depth ``z`` only serves the head rotation of
:mod:`.pose` (yaw moves the protruding nose and mouth towards the far
cheek, pitch squashes the face vertically).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layouts import JAW_SAMPLES, LID_SAMPLES, get_layout

Parts = dict[str, np.ndarray]

# Landmark constants of the mean face, in half jaw widths.
JAW_PHI0 = -0.18      # polar angle of the jaw's top point (above level)
JAW_Y0 = -0.05        # centre of the jaw super-ellipse
JAW_H = 1.05          # vertical semi-axis of the jaw (chin at ~1.0)
FOREHEAD_H = 0.85     # forehead height above the jaw's top points
BROW_X = (0.80, 0.13)  # outer and inner end of an eyebrow
BROW_Y = -0.50
BROW_ARCH = 0.11
EYE_X = 0.41          # eye centre, eye half width, lid heights
EYE_Y = -0.28
EYE_W = 0.175
EYE_UP = 0.085
EYE_LO = 0.055
IRIS_R = 0.075
NOSE_LEN = 0.40       # bridge (at eye level) to tip
NOSE_W = 0.20
MOUTH_Y = 0.50
MOUTH_W = 0.36
LIP_UP = 0.07
LIP_LO = 0.085
MOUTH_GAP = 0.28      # inner-lip gap of a fully open mouth


@dataclass(frozen=True)
class ShapeParams:
    """Identity and expression of one face; the defaults are the mean face.

    Identity: ``face_width``/``face_length`` scale the jaw and forehead,
    ``jaw_square`` is the super-ellipse exponent of the jaw (2 = oval,
    larger = squarer), the other factors scale their feature around 1.
    Expression: ``mouth_open`` and ``smile`` in [0, 1], ``brow_raise`` in
    [-0.5, 1] (negative = frown), ``eye_open`` around 1 (0 = closed) and
    ``gaze_x``/``gaze_y`` in [-1, 1] move both irises.
    """

    face_width: float = 1.0
    face_length: float = 1.0
    jaw_square: float = 2.5
    eye_size: float = 1.0
    eye_spacing: float = 1.0
    nose_length: float = 1.0
    nose_width: float = 1.0
    mouth_width: float = 1.0
    lip_fullness: float = 1.0
    brow_thickness: float = 1.0
    hairline: float = 0.5
    hair_length: float = 0.3
    mouth_open: float = 0.0
    smile: float = 0.0
    brow_raise: float = 0.0
    eye_open: float = 1.0
    gaze_x: float = 0.0
    gaze_y: float = 0.0


def surface_depth(x: np.ndarray) -> np.ndarray:
    """Depth of the (nose-less) face surface at ``x``: a cylinder-like arc."""
    return 0.1 - 0.3 * np.asarray(x) ** 2


def _xyz(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    shape = np.broadcast(x, y, z).shape
    return np.stack([np.broadcast_to(v, shape) for v in (x, y, z)],
                    axis=-1).astype(np.float64)


def mirror(points: np.ndarray) -> np.ndarray:
    """Mirror points about the face's vertical midline (``x -> -x``)."""
    out = np.array(points, dtype=np.float64, copy=True)
    out[..., 0] = -out[..., 0]
    return out


def _jaw(p: ShapeParams) -> np.ndarray:
    """Jaw contour, 33 samples from the left ear level over the chin."""
    half = (JAW_SAMPLES - 1) // 2
    phi = JAW_PHI0 + (np.pi / 2 - JAW_PHI0) * np.arange(half + 1) / half
    e = 2.0 / p.jaw_square
    sn = np.sin(phi)
    x = -p.face_width * np.abs(np.cos(phi)) ** e
    x[-1] = 0.0
    y = JAW_Y0 + JAW_H * p.face_length * np.sign(sn) * np.abs(sn) ** e
    # The jaw drops with the lower lip when the mouth opens.
    y = y + 0.75 * MOUTH_GAP * p.mouth_open * np.clip(sn, 0, None) ** 2
    left = _xyz(x, y, surface_depth(x / p.face_width) - 0.05)
    return np.concatenate([left, mirror(left[:-1])[::-1]])


def _forehead(p: ShapeParams, jaw: np.ndarray) -> np.ndarray:
    """Forehead arc from the jaw's right end over the top to its left end."""
    x0, y0 = -jaw[0, 0], jaw[0, 1]
    a = np.pi * np.arange(1, 8) / 16          # right half, outer -> top
    x = x0 * np.cos(a)
    y = y0 - FOREHEAD_H * p.face_length * np.sin(a)
    right = _xyz(x, y, surface_depth(x / p.face_width) - 0.05)
    top = _xyz(np.zeros(1), y0 - FOREHEAD_H * p.face_length * np.ones(1),
               surface_depth(np.zeros(1)) - 0.05)
    return np.concatenate([right, top, mirror(right)[::-1]])


def _hair(p: ShapeParams, jaw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hair behind the head and the fringe above the hairline."""
    x0, y0 = -jaw[0, 0] * 1.12, jaw[0, 1]
    b = FOREHEAD_H * p.face_length * 1.18
    a = np.linspace(np.pi, 0.0, 17)            # right -> over -> left
    arc = _xyz(-x0 * np.cos(a), y0 - b * np.sin(a), -0.3)
    drop = 0.2 + 1.4 * p.hair_length
    sides = _xyz(np.array([-x0, x0]), np.array([y0 + drop] * 2), -0.3)
    back = np.concatenate([sides[:1], arc[::-1], sides[1:]])
    # Fringe: part of the hair ellipse above a curved hairline.
    y_h = y0 - FOREHEAD_H * p.face_length * (1.0 - 0.35 * p.hairline)
    # Keep the hairline clear of (raised) eyebrows.
    brow_top = BROW_Y - 0.12 * max(p.brow_raise, 0.0) - 1.5 * BROW_ARCH
    y_h = min(y_h, brow_top - 0.12)
    y_edge = y_h + 0.12
    a1 = np.arcsin(np.clip((y0 - y_edge) / b, 0.0, 1.0))
    a = np.linspace(a1, np.pi - a1, 13)
    top = _xyz(x0 * np.cos(a), y0 - b * np.sin(a), -0.05)
    xs = np.linspace(-x0 * np.cos(a1), x0 * np.cos(a1), 9)
    line = _xyz(xs, y_h + 0.12 * (xs / xs[-1]) ** 2,
                surface_depth(xs) - 0.05)
    return back, np.concatenate([top, line])


def _brow_left(p: ShapeParams) -> tuple[np.ndarray, np.ndarray]:
    """Left eyebrow: upper edge (5, outer -> inner), lower edge (4)."""
    raise_ = p.brow_raise
    frown = max(-raise_, 0.0)

    def edge(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = -(BROW_X[0] - (BROW_X[0] - BROW_X[1]) * t)
        arch = BROW_ARCH * (1.0 + 0.5 * max(raise_, 0.0))
        y = (BROW_Y - 0.12 * raise_ - arch * np.sin(np.pi * (0.15 + 0.6 * t))
             + 0.1 * frown * t)
        return x, y

    t_up = np.linspace(0.0, 1.0, 5)
    t_lo = np.array([0.25, 0.5, 0.75, 1.0])
    x, y = edge(t_up)
    upper = _xyz(x, y, surface_depth(x) + 0.02)
    x, y = edge(t_lo)
    y = y + p.brow_thickness * (0.045 + 0.045 * t_lo)
    lower = _xyz(x, y, surface_depth(x) + 0.02)
    return upper, lower


def _ring(centre: np.ndarray, radius: float, n: int = 16) -> np.ndarray:
    """``n`` points of a circle of ``radius`` in the face plane."""
    a = 2 * np.pi * np.arange(n) / n
    return centre + _xyz(radius * np.cos(a), radius * np.sin(a), 0.0)


def _eye_left(p: ShapeParams) -> Parts:
    """Left eye: lids (outer -> inner), lid crease, iris and pupil."""
    cx, cy = -EYE_X * p.eye_spacing, EYE_Y
    ew = EYE_W * p.eye_size
    t = np.arange(LID_SAMPLES) / (LID_SAMPLES - 1)
    x = (cx - ew) + 2 * ew * t
    y = (cy - 0.012) + 0.024 * t               # outer corner a bit higher
    bump = np.sin(np.pi * t)
    up = EYE_UP * p.eye_size * p.eye_open * np.sin(np.pi * t ** 0.85)
    lo = EYE_LO * p.eye_size * p.eye_open * (1 - 0.35 * p.smile) * bump
    z = surface_depth(x) - 0.04 + 0.02 * bump
    crease = EYE_UP * p.eye_size * (0.45 + 0.4 * p.eye_open) * bump
    iris = _xyz(np.array([cx + 0.45 * ew * p.gaze_x]),
                np.array([cy + 0.25 * EYE_UP * p.eye_size * p.gaze_y]),
                surface_depth(np.array([cx])) - 0.01)
    r = IRIS_R * p.eye_size
    return {'eye_l_up': _xyz(x, y - up, z), 'eye_l_lo': _xyz(x, y + lo, z),
            'crease_l': _xyz(x, y - up - crease, z), 'iris_l': iris,
            'iris_l_ring': _ring(iris[0], r),
            'pupil_l_ring': _ring(iris[0], 0.42 * r, 12)}


def _nose(p: ShapeParams) -> Parts:
    """Ridge (4, bridge -> tip), base (5, left -> right), nostrils, alae."""
    tip_y = EYE_Y + NOSE_LEN * p.nose_length
    t = np.arange(4) / 3
    ridge = _xyz(np.zeros(4), EYE_Y + (tip_y - EYE_Y) * t,
                 0.1 + 0.35 * t ** 1.5)
    s = np.array([-2, -1, 0, 1, 2]) / 2
    w = NOSE_W * p.nose_width
    base_y = tip_y + 0.07
    base = _xyz(s * w, base_y - 0.04 * s ** 2, 0.3 - 0.15 * s ** 2)
    nostril = _xyz(np.array([-0.52 * w]), np.array([base_y - 0.028]),
                   np.array([0.2]))
    ala = _xyz(-w * np.array([1.0, 1.12, 1.05, 0.8]),
               base_y - np.array([0.04, 0.08, 0.12, 0.15]),
               np.array([0.15, 0.12, 0.13, 0.16]))
    return {'nose_ridge': ridge, 'nose_base': base,
            'nostril_l': nostril, 'nostril_r': mirror(nostril),
            'ala_l': ala, 'ala_r': mirror(ala)}


def _lips(p: ShapeParams) -> tuple[np.ndarray, np.ndarray]:
    """Outer (12) and inner (8) lip contour in the 300W point order."""
    mw = MOUTH_W * p.mouth_width * (1 + 0.12 * p.smile - 0.1 * p.mouth_open)
    gap = MOUTH_GAP * p.mouth_open
    y_m = MOUTH_Y + 0.08 * (p.face_length - 1.0)

    def line(u: np.ndarray) -> np.ndarray:
        return y_m - 0.08 * p.smile * u ** 2

    def opening(q: np.ndarray) -> np.ndarray:
        return (1.0 - np.minimum(q ** 2, 1.0)) ** 0.7

    knots = [0.0, 1 / 3, 2 / 3, 1.0]
    # Outer contour: left corner, upper lip to the right corner, lower lip
    # back from right to left (exact thirds keep it symmetric).
    s_up = np.array([-3, -2, -1, 0, 1, 2, 3]) / 3
    s_lo = np.array([2, 1, 0, -1, -2]) / 3
    u = np.abs(s_up)
    y_up = (line(u) - 0.25 * gap * opening(s_up)
            - LIP_UP * p.lip_fullness * np.interp(u, knots,
                                                  [0.85, 1.0, 0.7, 0.0]))
    u2 = np.abs(s_lo)
    y_lo = (line(u2) + 0.75 * gap * opening(s_lo)
            + LIP_LO * p.lip_fullness * np.interp(u2, knots,
                                                  [1.0, 0.95, 0.7, 0.0]))
    s_out = np.concatenate([s_up, s_lo])
    outer = _xyz(s_out * mw, np.concatenate([y_up, y_lo]),
                 surface_depth(s_out * mw) + 0.06 * (1 - s_out ** 2) + 0.02)
    # Inner contour: left inner corner, upper to the right corner, lower
    # back; the inner corners sit at 0.86 of the mouth half width.
    q_up = np.array([-2, -1, 0, 1, 2]) / 2
    q_lo = np.array([1, 0, -1]) / 2
    ic = 0.86
    yi_up = line(np.abs(q_up) * ic) - 0.25 * gap * opening(q_up)
    yi_lo = line(np.abs(q_lo) * ic) + 0.75 * gap * opening(q_lo)
    q = np.concatenate([q_up, q_lo])
    inner = _xyz(q * ic * mw, np.concatenate([yi_up, yi_lo]),
                 surface_depth(q * ic * mw) + 0.05 * (1 - q ** 2) + 0.02)
    return outer, inner


def face_geometry(params: ShapeParams | None = None) -> Parts:
    """All parts of a face in the canonical frame, each ``(n, 3)``.

    Keypoint parts (see :mod:`.layouts`): ``jaw``, ``brow_{l,r}_{up,lo}``,
    ``eye_{l,r}_{up,lo}``, ``iris_{l,r}``, ``nose_ridge``, ``nose_base``,
    ``lip_outer``, ``lip_inner``.  Drawing-only parts: ``forehead``,
    ``hair_back``, ``fringe``, ``neck``, ``crease_{l,r}``,
    ``iris_{l,r}_ring``, ``pupil_{l,r}_ring``, ``cheek_{l,r}``,
    ``nostril_{l,r}``, ``ala_{l,r}``.
    Right parts are mirrors of the left ones in the same order (outer ->
    inner for brows and lids).
    """
    p = params if params is not None else ShapeParams()
    parts: Parts = {}
    jaw = _jaw(p)
    parts['jaw'] = jaw
    parts['forehead'] = _forehead(p, jaw)
    parts['hair_back'], parts['fringe'] = _hair(p, jaw)
    neck_top = jaw[[11, 21]]
    neck = np.concatenate([neck_top, neck_top[::-1] + [0.0, 1.6, 0.0]])
    neck[:, 2] = -0.35
    parts['neck'] = neck
    up, lo = _brow_left(p)
    parts.update(brow_l_up=up, brow_l_lo=lo, brow_r_up=mirror(up),
                 brow_r_lo=mirror(lo))
    eye = _eye_left(p)
    # Both irises look the same way: mirror, then undo the gaze flip.
    gaze = np.array([2 * 0.45 * EYE_W * p.eye_size * p.gaze_x, 0.0, 0.0])
    for name, pts in eye.items():
        parts[name] = pts
        right = mirror(pts)
        if 'iris' in name or 'pupil' in name:
            right = right + gaze
        parts['_'.join('r' if t == 'l' else t
                       for t in name.split('_'))] = right
    cheek = _xyz(np.array([-0.55]), np.array([0.22]),
                 surface_depth(np.array([-0.55])))
    parts.update(cheek_l=cheek, cheek_r=mirror(cheek))
    parts.update(_nose(p))
    parts['lip_outer'], parts['lip_inner'] = _lips(p)
    return parts


def mean_shape(layout: str | int = '68') -> np.ndarray:
    """Keypoints ``(K, 2)`` of the neutral mean face in the canonical frame.

    The shape is exactly left/right-symmetric: mirroring ``x`` and
    permuting by the layout's flip indices reproduces it.
    """
    geometry = face_geometry(ShapeParams())
    return get_layout(layout).select(geometry)[:, :2].copy()
