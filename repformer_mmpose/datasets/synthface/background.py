"""Cluttered backgrounds for SynthFace: gradients, noise textures, shapes.

Backgrounds come straight from the per-image texture generator (they
carry no label), so only their statistics matter: a smooth or textured
base plus a random number of solid shapes and lines, some of them
skin-coloured so that colour alone does not find the face.
"""
from __future__ import annotations

import cv2
import numpy as np

SHIFT = 4
_ONE = 1 << SHIFT


def random_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    """A random BGR colour, biased away from pure saturation."""
    base = rng.uniform(0, 255)
    colour = base + rng.uniform(-90, 90, 3)
    return tuple(min(max(float(c), 0.0), 255.0) for c in colour)


def skin_like_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    """A random skin-like BGR colour (for distractors)."""
    t = rng.uniform()
    light, dark = np.array([180, 200, 235]), np.array([55, 75, 115])
    colour = light + (dark - light) * t + rng.uniform(-12, 12, 3)
    return tuple(min(max(float(c), 0.0), 255.0) for c in colour)


def noise_texture(rng: np.random.Generator, size: int, cells: int,
                  channels: int = 3) -> np.ndarray:
    """Smooth random texture: ``cells``^2 random values, cubic upsampling."""
    grid = rng.uniform(0, 255, (cells, cells, channels)).astype(np.float32)
    tex = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(tex, 0, 255).reshape(size, size, channels)


def _base(rng: np.random.Generator, size: int) -> np.ndarray:
    kind = rng.integers(4)
    if kind == 0:  # linear gradient
        c0 = np.array(random_colour(rng), np.float32)
        c1 = np.array(random_colour(rng), np.float32)
        a = rng.uniform(0, 2 * np.pi)
        coords = np.arange(size, dtype=np.float32) / max(size - 1, 1)
        t = np.clip(np.cos(a) * coords[None, :] + np.sin(a) * coords[:, None],
                    0, 1)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        return c0 + (c1 - c0) * t[..., None]
    if kind == 1:  # smooth blotches
        return noise_texture(rng, size, int(rng.integers(2, 9)))
    if kind == 2:  # fine texture over a smooth base
        base = noise_texture(rng, size, int(rng.integers(2, 6)))
        fine = noise_texture(rng, size, int(rng.integers(16, 64)))
        return base * 0.6 + fine * 0.4
    # stripes
    c0 = np.array(random_colour(rng), np.float32)
    c1 = np.array(random_colour(rng), np.float32)
    a = rng.uniform(0, np.pi)
    period = rng.uniform(6, 40) * size / 256
    coords = np.arange(size, dtype=np.float32)
    phase = np.cos(a) * coords[None, :] + np.sin(a) * coords[:, None]
    t = 0.5 + 0.5 * np.sin(phase * (2 * np.pi / period))
    return c0 + (c1 - c0) * t[..., None]


def _shape(img: np.ndarray, rng: np.random.Generator, size: int) -> None:
    colour = (skin_like_colour(rng) if rng.uniform() < 0.2
              else random_colour(rng))
    kind = rng.integers(5)
    fill = rng.uniform() < 0.7
    thick = -1 if fill else int(rng.integers(1, max(2, size // 40)))
    c = rng.uniform(-0.1, 1.1, 2) * size
    r = rng.uniform(0.03, 0.3) * size
    ci = tuple(int(v) for v in np.round(c * _ONE))
    if kind == 0:
        cv2.circle(img, ci, int(r * _ONE), colour, thick, cv2.LINE_AA, SHIFT)
    elif kind == 1:
        axes = (int(r * _ONE), int(r * rng.uniform(0.2, 1.0) * _ONE))
        cv2.ellipse(img, ci, axes, rng.uniform(0, 180), 0, 360, colour,
                    thick, cv2.LINE_AA, SHIFT)
    elif kind == 2:
        a = rng.uniform(0, np.pi)
        w, h = r, r * rng.uniform(0.2, 1.5)
        box = cv2.boxPoints(((c[0], c[1]), (2 * w, 2 * h), np.rad2deg(a)))
        pts = np.round(box * _ONE).astype(np.int32)
        if fill:
            cv2.fillPoly(img, [pts], colour, cv2.LINE_AA, SHIFT)
        else:
            cv2.polylines(img, [pts], True, colour, thick, cv2.LINE_AA, SHIFT)
    elif kind == 3:
        n = int(rng.integers(3, 8))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = r * rng.uniform(0.4, 1.0, n)
        pts = c + np.stack([np.cos(ang), np.sin(ang)], 1) * rad[:, None]
        pts = np.round(pts * _ONE).astype(np.int32)
        cv2.fillPoly(img, [pts], colour, cv2.LINE_AA, SHIFT)
    else:
        p0 = np.round(rng.uniform(0, 1, 2) * size * _ONE).astype(int)
        p1 = np.round(rng.uniform(0, 1, 2) * size * _ONE).astype(int)
        cv2.line(img, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])),
                 colour, int(rng.integers(1, max(2, size // 32))),
                 cv2.LINE_AA, SHIFT)


def render_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A ``size`` x ``size`` BGR uint8 cluttered background."""
    img = np.clip(_base(rng, size), 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(2, 20))):
        _shape(img, rng, size)
    if rng.uniform() < 0.4:  # out-of-focus background
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 2.5))
    return np.ascontiguousarray(img)
