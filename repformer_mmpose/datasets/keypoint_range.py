"""How far a landmark may lie from its image and its crop box.

One definition, shared by the data set checks (:mod:`.validation`) and the
converters (:mod:`.converters.core`), so that a file a converter writes is
a file the data sets accept, and the other way round:

* :data:`MAX_ABS_COORDINATE`: no coordinate or box value may exceed this in
  magnitude. It is far beyond any image, and small enough that boxes,
  areas and scales derived from such values stay finite floats.
* the margin rule: a labelled point must lie within the reference box (the
  image ``0..width x 0..height``, or the crop box) grown on each side by
  ``margin`` times the box's width (for x) and height (for y). The default,
  :data:`DEFAULT_KEYPOINT_MARGIN` = 1.0, allows a point a whole image (or
  box) width beyond the border: faces cut by the image border have points
  a little outside it, a point further out is a wrong value (a unit or
  scale error), which would otherwise train with a loss of 1e5 or worse.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import numpy as np

#: Largest magnitude accepted for a coordinate or box value (1.7e308 and
#: -1.7e308 are finite, but their difference is not).
MAX_ABS_COORDINATE = 1e6

#: Default margin of the rule, as a fraction of the reference box's size.
DEFAULT_KEYPOINT_MARGIN = 1.0

Box = Sequence[float]  # (x0, y0, x1, y1)


def check_margin(name: str, value: float | None) -> float | None:
    """``value`` as a float if it is a finite number >= 0 (or None, which
    turns the margin rule off), else a ValueError naming ``name``."""
    if value is None:
        return None
    if (not isinstance(value, Real) or isinstance(value, bool)
            or not math.isfinite(float(value)) or float(value) < 0):
        raise ValueError(f'{name} must be a finite number >= 0 (a fraction '
                         f'of the image / box size) or None, got {value!r}')
    return float(value)


def allowed_region(box: Box, margin: float) -> tuple[float, float, float,
                                                     float]:
    """``box`` grown by ``margin`` x its width / height on each side."""
    x0, y0, x1, y1 = (float(v) for v in box)
    dx, dy = margin * (x1 - x0), margin * (y1 - y0)
    return x0 - dx, y0 - dy, x1 + dx, y1 + dy


def point_outside(points: np.ndarray, box: Box, margin: float, what: str,
                  visible: np.ndarray | None = None) -> tuple[int, str] | None:
    """The first labelled point outside ``box`` + margin, or None.

    Args:
        points: ``(K, 2)`` x, y.
        box: The reference box ``(x0, y0, x1, y1)``.
        margin: Allowed distance beyond the box, as a fraction of its size.
        what: How the message names the box, e.g. ``'the 320 x 240
            image'``.
        visible: ``(K,)`` True for labelled points (default: all); the
            others are not checked.

    Returns:
        ``(index, message)``, the message naming the point, its position,
        the box and the allowed range.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    lo_x, lo_y, hi_x, hi_y = allowed_region(box, margin)
    inside = ((points[:, 0] >= lo_x) & (points[:, 0] <= hi_x)
              & (points[:, 1] >= lo_y) & (points[:, 1] <= hi_y))
    if visible is not None:
        inside |= ~np.asarray(visible, dtype=bool).reshape(-1)
    bad = np.flatnonzero(~inside)
    if not bad.size:
        return None
    index = int(bad[0])
    x, y = points[index]
    return index, (
        f'point {index} at ({x:.6g}, {y:.6g}) lies outside {what} plus a '
        f'margin of {margin:g} x its size (allowed: x in [{lo_x:.6g}, '
        f'{hi_x:.6g}], y in [{lo_y:.6g}, {hi_y:.6g}])')


def image_box(width: float, height: float) -> tuple[float, float, float,
                                                    float]:
    """The image as a box ``(0, 0, width, height)``."""
    return 0.0, 0.0, float(width), float(height)


__all__ = [
    'DEFAULT_KEYPOINT_MARGIN', 'MAX_ABS_COORDINATE', 'allowed_region',
    'check_margin', 'image_box', 'point_outside'
]
