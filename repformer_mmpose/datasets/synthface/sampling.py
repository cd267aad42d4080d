"""Random draw of everything that defines one SynthFace face.

:func:`sample_face_spec` turns a generator into a :class:`FaceSpec`:
identity and expression (:class:`~.shape.ShapeParams`), head pose
(:class:`~.pose.HeadPose`), colours and make-up
(:class:`~.render.Appearance`), lighting and degradations
(:class:`~.photometric.Photometric`) and occluders.  The distributions
are left/right symmetric (yaw, roll, gaze, shifts are centred on 0), so a
mirrored face is as likely as the face itself and horizontal flip
augmentation stays consistent.  Each factor is a mixture of a common
"easy" mode and a rarer hard mode, so every WFLW-style subset of
:mod:`.attributes` is populated.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .occluders import ANCHORS, KINDS, TEXTURES, Occluder
from .photometric import Photometric
from .pose import HeadPose
from .render import Appearance, Colour
from .shape import ShapeParams

Rng = np.random.Generator

SKIN_LIGHT = np.array([185.0, 205.0, 240.0])  # BGR
SKIN_DARK = np.array([45.0, 65.0, 105.0])
HAIR = ((20, 20, 25), (25, 40, 60), (40, 70, 110), (90, 160, 200),
        (40, 70, 160), (150, 150, 150), (225, 225, 225))
IRIS = ((20, 45, 80), (30, 70, 110), (150, 110, 60), (80, 130, 70),
        (60, 110, 120), (130, 130, 120))
LIPSTICK = ((40, 30, 200), (150, 100, 230), (80, 30, 120), (40, 20, 60),
            (40, 70, 220), (110, 60, 180))
EYESHADOW = ((40, 60, 90), (130, 50, 110), (160, 90, 40), (20, 20, 20),
             (60, 150, 190), (90, 140, 60))


@dataclass(frozen=True)
class FaceSpec:
    """All sampled parameters of one face (``makeup`` in [0, 1])."""

    shape: ShapeParams
    pose: HeadPose
    appearance: Appearance
    photometric: Photometric
    occluders: tuple[Occluder, ...]
    makeup: float


def _mix(rng: Rng, p_hard: float, easy: tuple[float, float],
         hard: tuple[float, float]) -> float:
    """Uniform draw from ``hard`` with probability ``p_hard``, else easy."""
    lo, hi = hard if rng.uniform() < p_hard else easy
    return float(rng.uniform(lo, hi))


def _signed(rng: Rng, p_hard: float, sigma: float, hard_max: float) -> float:
    """Zero-centred angle: Gaussian, or uniform over +-hard_max."""
    if rng.uniform() < p_hard:
        return float(rng.uniform(-hard_max, hard_max))
    return float(np.clip(rng.normal(0.0, sigma), -hard_max, hard_max))


def _colour(base, rng: Rng, jitter: float) -> Colour:
    c = np.asarray(base, np.float64) + rng.uniform(-jitter, jitter, 3)
    return tuple(min(max(float(v), 0.0), 255.0) for v in c)


def sample_shape(rng: Rng) -> ShapeParams:
    """Identity and expression."""
    u = rng.uniform
    return ShapeParams(
        face_width=u(0.92, 1.12), face_length=u(0.9, 1.12),
        jaw_square=u(2.0, 3.2), eye_size=u(0.82, 1.22),
        eye_spacing=u(0.92, 1.08), nose_length=u(0.82, 1.2),
        nose_width=u(0.85, 1.25), mouth_width=u(0.85, 1.15),
        lip_fullness=u(0.7, 1.35), brow_thickness=u(0.6, 1.5),
        hairline=u(0.0, 1.0), hair_length=u(0.0, 1.0),
        mouth_open=_mix(rng, 0.3, (0.0, 0.12), (0.12, 1.0)),
        smile=_mix(rng, 0.3, (0.0, 0.2), (0.2, 1.0)),
        brow_raise=_mix(rng, 0.3, (-0.15, 0.2), (-0.5, 1.0)),
        eye_open=_mix(rng, 0.1, (0.75, 1.2), (0.15, 0.6)),
        gaze_x=u(-1.0, 1.0), gaze_y=u(-1.0, 1.0))


def sample_pose(rng: Rng) -> HeadPose:
    """Head rotation, face size and position."""
    return HeadPose(
        yaw=_signed(rng, 0.4, 12.0, 45.0), pitch=_signed(rng, 0.2, 8.0, 25.0),
        roll=_signed(rng, 0.3, 8.0, 40.0), size=float(rng.uniform(0.4, 0.7)),
        shift_x=float(rng.uniform(-1, 1)), shift_y=float(rng.uniform(-1, 1)))


def sample_appearance(rng: Rng) -> tuple[Appearance, float]:
    """Colours and make-up; returns the appearance and the make-up level."""
    skin = SKIN_LIGHT + (SKIN_DARK - SKIN_LIGHT) * rng.uniform()
    skin = _colour(skin, rng, 12.0)
    has_hair = rng.uniform() < 0.85
    hair = _colour(HAIR[rng.integers(len(HAIR))], rng, 15.0)
    brow = _colour(np.minimum(hair, 90) * 0.8, rng, 8.0)
    makeup = _mix(rng, 0.35, (0.0, 0.3), (0.3, 1.0))
    natural = np.asarray(skin) * [0.72, 0.68, 0.92] + [0.0, -8.0, 18.0]
    lipstick = np.asarray(LIPSTICK[rng.integers(len(LIPSTICK))], float)
    lip = _colour(natural + (lipstick - natural) * makeup, rng, 6.0)
    shadow = _colour(EYESHADOW[rng.integers(len(EYESHADOW))], rng, 15.0)
    app = Appearance(
        skin=skin, lip=lip, brow=brow,
        iris=_colour(IRIS[rng.integers(len(IRIS))], rng, 12.0),
        sclera=_colour((228, 235, 240), rng, 12.0),
        teeth=_colour((200, 220, 230), rng, 15.0),
        hair=hair if has_hair else None, eyeshadow=shadow,
        eyeshadow_alpha=float(np.clip(makeup - 0.3, 0.0, 0.7)),
        eyeliner=float(np.clip((makeup - 0.4) / 0.6, 0.0, 1.0)),
        blush=_colour((110, 100, 215), rng, 20.0),
        blush_alpha=0.35 * makeup)
    return app, makeup


def sample_photometric(rng: Rng) -> Photometric:
    """Lighting, exposure, blur and noise."""
    exposure = float(np.clip(rng.normal(0.0, 0.25), -0.7, 0.7))
    if rng.uniform() < 0.15:  # over-exposure saturates sooner: cap it
        exposure = float(rng.choice([-1.6, 1.2]) * rng.uniform(0.63, 1.0))
    blur, motion = float(rng.uniform(0.0, 1.0)), 0.0
    if rng.uniform() < 0.25:
        if rng.uniform() < 0.5:
            blur = float(rng.uniform(1.5, 3.5))
        else:
            motion = float(rng.uniform(7.0, 16.0))
    return Photometric(
        light_strength=_mix(rng, 0.25, (0.0, 0.4), (0.4, 1.0)),
        light_angle=float(rng.uniform(0, 2 * np.pi)), exposure=exposure,
        tint=tuple(float(v) for v in rng.uniform(0.9, 1.1, 3)),
        blur_sigma=blur, motion_length=motion,
        motion_angle=float(rng.uniform(0, np.pi)),
        noise_sigma=_mix(rng, 0.2, (0.0, 5.0), (5.0, 14.0)))


def sample_occluder(rng: Rng, skin: Colour) -> Occluder:
    """One occluder anchored on a random face part."""
    kind = str(rng.choice(KINDS, p=[0.2, 0.25, 0.15, 0.15, 0.25]))
    if kind == 'band':
        anchor = str(rng.choice(['eyes', 'mouth']))
        angle = float(rng.uniform(-10, 10))
    else:
        anchor = str(rng.choice(sorted(ANCHORS)))
        angle = float(rng.uniform(0, 360))
    texture = 'skin' if kind == 'hand' else str(rng.choice(TEXTURES))
    if texture == 'skin':
        colour = _colour(skin, rng, 25.0)
        colour2 = _colour(np.asarray(colour) * 0.8, rng, 5.0)
    else:
        colour = _colour(rng.uniform(0, 255, 3), rng, 0.0)
        colour2 = _colour(rng.uniform(0, 255, 3), rng, 0.0)
    n = int(rng.integers(3, 9))
    return Occluder(
        kind=kind, anchor=anchor,
        offset=(float(rng.uniform(-0.12, 0.12)),
                float(rng.uniform(-0.12, 0.12))),
        size=float(rng.uniform(0.18, 0.45)),
        aspect=float(rng.uniform(0.4, 1.0)), angle=angle, texture=texture,
        colour=colour, colour2=colour2,
        radii=tuple(float(r) for r in rng.uniform(0.5, 1.0, n)))


def sample_face_spec(rng: Rng) -> FaceSpec:
    """Draw a complete :class:`FaceSpec` (fixed draw order)."""
    shape = sample_shape(rng)
    pose = sample_pose(rng)
    app, makeup = sample_appearance(rng)
    photometric = sample_photometric(rng)
    count = 0
    if rng.uniform() < 0.45:
        count = 1 if rng.uniform() < 0.7 else 2
    occluders = tuple(sample_occluder(rng, app.skin) for _ in range(count))
    return FaceSpec(shape, pose, app, photometric, occluders, makeup)
