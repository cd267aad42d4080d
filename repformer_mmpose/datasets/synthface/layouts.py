"""Keypoint layouts of SynthFace: 68-point iBUG/300W and 98-point WFLW.

The face model (:mod:`.shape`) produces named, densely sampled parts (the
jaw, each eyebrow edge, each eyelid, ...).  A layout is the list of
``(part, sample)`` pairs that picks one sample per keypoint, in the order of
the public annotation scheme, so both layouts share one drawing and one
geometry.  Left/right below mean image left/right of a frontal face.

Flip indices are those MMPose derives from the ``swap`` fields of
``configs/_base_/datasets/300w.py`` and ``wflw.py``; the tests check that
they agree and that the mean shape is mirror-symmetric under them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Samples per part in :func:`repformer_mmpose.datasets.synthface.shape.
# face_geometry`; the eyelids use 13 samples so that both the thirds
# (300W) and the quarters (WFLW) of the lid are exact samples.
JAW_SAMPLES = 33
LID_SAMPLES = 13


@dataclass(frozen=True)
class Layout:
    """One keypoint layout.

    Attributes:
        name: ``'68'`` or ``'98'``.
        points: ``(part, sample)`` per keypoint, in annotation order.
        flip_indices: index of each keypoint's mirror image.
        outer_eye_corners: the two keypoints used for inter-ocular
            normalisation.
    """

    name: str
    points: tuple[tuple[str, int], ...]
    flip_indices: tuple[int, ...]
    outer_eye_corners: tuple[int, int]

    @property
    def num_keypoints(self) -> int:
        """Number of keypoints of the layout."""
        return len(self.points)

    def select(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """Pick the layout's keypoints out of a dict of part arrays."""
        return np.stack([parts[name][i] for name, i in self.points])


def _eye_300w(side: str) -> list[tuple[str, int]]:
    """Six eye points: 300W's left eye starts at the outer corner."""
    up, lo = f'eye_{side}_up', f'eye_{side}_lo'
    if side == 'l':
        return [(up, 0), (up, 4), (up, 8), (up, 12), (lo, 8), (lo, 4)]
    return [(up, 12), (up, 8), (up, 4), (up, 0), (lo, 4), (lo, 8)]


def _eye_wflw(side: str) -> list[tuple[str, int]]:
    """Eight eye points: WFLW's left eye starts at the outer corner."""
    up, lo = f'eye_{side}_up', f'eye_{side}_lo'
    if side == 'l':
        return [(up, 0), (up, 3), (up, 6), (up, 9), (up, 12), (lo, 9),
                (lo, 6), (lo, 3)]
    return [(up, 12), (up, 9), (up, 6), (up, 3), (up, 0), (lo, 3), (lo, 6),
            (lo, 9)]


def _layout_68() -> tuple[tuple[str, int], ...]:
    pts = [('jaw', 2 * i) for i in range(17)]
    pts += [('brow_l_up', i) for i in range(5)]
    pts += [('brow_r_up', 4 - i) for i in range(5)]
    pts += [('nose_ridge', i) for i in range(4)]
    pts += [('nose_base', i) for i in range(5)]
    pts += _eye_300w('l') + _eye_300w('r')
    pts += [('lip_outer', i) for i in range(12)]
    pts += [('lip_inner', i) for i in range(8)]
    return tuple(pts)


def _layout_98() -> tuple[tuple[str, int], ...]:
    pts = [('jaw', i) for i in range(33)]
    # Upper edge outer -> inner, then lower edge inner -> outer.
    pts += [('brow_l_up', i) for i in range(5)]
    pts += [('brow_l_lo', 3 - i) for i in range(4)]
    pts += [('brow_r_up', 4 - i) for i in range(5)]
    pts += [('brow_r_lo', i) for i in range(4)]
    pts += [('nose_ridge', i) for i in range(4)]
    pts += [('nose_base', i) for i in range(5)]
    pts += _eye_wflw('l') + _eye_wflw('r')
    pts += [('lip_outer', i) for i in range(12)]
    pts += [('lip_inner', i) for i in range(8)]
    pts += [('iris_l', 0), ('iris_r', 0)]
    return tuple(pts)


FLIP_INDICES_68 = (
    16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
    26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
    27, 28, 29, 30, 35, 34, 33, 32, 31,
    45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,
    64, 63, 62, 61, 60, 67, 66, 65)

FLIP_INDICES_98 = (
    32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
    15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
    46, 45, 44, 43, 42, 50, 49, 48, 47, 37, 36, 35, 34, 33, 41, 40, 39, 38,
    51, 52, 53, 54, 59, 58, 57, 56, 55,
    72, 71, 70, 69, 68, 75, 74, 73, 64, 63, 62, 61, 60, 67, 66, 65,
    82, 81, 80, 79, 78, 77, 76, 87, 86, 85, 84, 83,
    92, 91, 90, 89, 88, 95, 94, 93, 97, 96)

LAYOUTS: dict[str, Layout] = {
    '68': Layout('68', _layout_68(), FLIP_INDICES_68, (36, 45)),
    '98': Layout('98', _layout_98(), FLIP_INDICES_98, (60, 72)),
}


def get_layout(layout: str | int) -> Layout:
    """Return the :class:`Layout` named ``'68'``/``'98'`` (or 68/98)."""
    key = str(layout)
    if key not in LAYOUTS:
        raise ValueError(f'unknown layout {layout!r}; use one of '
                         f'{sorted(LAYOUTS)}')
    return LAYOUTS[key]
