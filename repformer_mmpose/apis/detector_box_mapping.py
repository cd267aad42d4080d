"""From a face detector's box to the face box our models were trained with.

MMPose's 300W records (``Face300WDataset``) give every face as
``center`` + ``scale``: the centre of the tight box of its 68 landmarks
and the longer side of that box / 200. The top-down pipeline crops the
square of that side padded by 1.25 around that centre. A detector's box
sits elsewhere (BlazeFace's is lower and narrower than the landmark
box's), so :class:`BoxMapping` moves and resizes it into that square::

    size = (w + h) / 2                  # of the detector's box
    cx' = cx + dx * size,  cy' = cy + dy * size
    side' = scale * size                # square box cx', cy', side'

:func:`fit_box_mapping` fits ``dx``, ``dy`` and ``scale`` as medians
(robust to a few bad matches) over faces where the detector box matches
the landmark box; ``tools/analysis/detector_recall.py --fit-mapping``
refits them (on ``300w-subset/train.json``) and prints the constants for
:data:`DETECTOR_BOX_MAPPINGS`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BoxMapping:
    """Detector box -> square landmark box (see the module docstring).

    Attributes:
        dx, dy: Centre shift, in units of the detector box's mean side.
        scale: The landmark box's longer side / the detector box's mean
            side.
    """

    dx: float = 0.
    dy: float = 0.
    scale: float = 1.

    def __call__(self, boxes: np.ndarray) -> np.ndarray:
        """``(n, 4|5)`` ``x1, y1, x2, y2[, score]`` -> ``(n, 5)`` square
        boxes (scores kept, 1 where none is given)."""
        boxes = np.asarray(boxes, dtype=np.float64)
        if boxes.size == 0:
            return np.zeros((0, 5), dtype=np.float32)
        boxes = boxes.reshape(len(boxes), -1)
        out = np.ones((len(boxes), 5), dtype=np.float32)
        centre, size = box_centre_size(boxes)
        centre = centre + np.array([self.dx, self.dy]) * size[:, None]
        half = self.scale * size / 2
        out[:, :4] = np.concatenate([centre - half[:, None],
                                     centre + half[:, None]], axis=1)
        if boxes.shape[1] > 4:
            out[:, 4] = boxes[:, 4]
        return out


def box_centre_size(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 2)`` centres and ``(n,)`` mean sides ``(w + h) / 2`` of
    ``x1, y1, x2, y2`` boxes."""
    boxes = np.asarray(boxes, dtype=np.float64)
    centre = (boxes[:, :2] + boxes[:, 2:4]) / 2
    size = ((boxes[:, 2] - boxes[:, 0]) + (boxes[:, 3] - boxes[:, 1])) / 2
    return centre, size


def landmark_square(keypoints: np.ndarray) -> tuple[np.ndarray, float]:
    """The 300W record's box of ``(K, 2)`` keypoints: the centre and the
    longer side of their tight box."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    low, high = keypoints.min(0), keypoints.max(0)
    return (low + high) / 2, float((high - low).max())


def fit_box_mapping(detector_boxes: np.ndarray, centres: np.ndarray,
                    sides: np.ndarray) -> BoxMapping:
    """The :class:`BoxMapping` that takes ``detector_boxes`` ``(n, 4+)``
    closest to the landmark squares (``centres`` ``(n, 2)``, ``sides``
    ``(n,)``): medians of the centre shifts and of the size ratios.

    Raises:
        ValueError: without a face to fit on.
    """
    if len(detector_boxes) == 0:
        raise ValueError('no matched face to fit the box mapping on')
    centre, size = box_centre_size(np.asarray(detector_boxes)[:, :4])
    shift = (np.asarray(centres, np.float64) - centre) / size[:, None]
    ratio = np.asarray(sides, np.float64) / size
    dx, dy = np.median(shift, axis=0)
    return BoxMapping(round(float(dx), 4), round(float(dy), 4),
                      round(float(np.median(ratio)), 4))


#: Fitted by ``python tools/analysis/detector_recall.py
#: ../shared/data/300w-subset/train.json --fit-mapping`` (2 012 300W
#: training faces, the detector's best box of each face that it finds;
#: medians, see :func:`fit_box_mapping`).
DETECTOR_BOX_MAPPINGS: dict[str, BoxMapping] = {}
