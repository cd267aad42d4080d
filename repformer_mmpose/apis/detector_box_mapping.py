"""From a face detector's box to the face box our models were trained with.

MMPose's 300W records (``Face300WDataset``) give every face as
``center`` + ``scale``: the centre of the tight box of its 68 landmarks
and the longer side of that box / 200. The top-down pipeline crops the
square of that side padded by 1.25 around that centre, and our models are
trained without scale augmentation, so a box of another size or centre
costs accuracy. A detector's box sits elsewhere (BlazeFace's is lower and
narrower than the landmark box), so a mapping moves and resizes it into
that square. With ``c``, ``s`` the detector box's centre and mean side
``(w + h) / 2``:

* :class:`BoxMapping` (any detector): ``c' = c + (dx, dy) * s``,
  ``side' = scale * s``; ``dx``, ``dy`` and ``scale`` are medians over
  the training faces (:func:`fit_box_mapping`).
* :class:`KeypointBoxMapping` (detectors with BlazeFace's 6 keypoints):
  ``(c' - c) / s`` and ``log(side' / s)`` are linear in
  :func:`keypoint_features` (the keypoints relative to the box, the log
  distances eye-eye, eyes-mouth, ear-ear, and 1), fitted by ridge least
  squares (:func:`fit_keypoint_box_mapping`): the keypoints say where a
  turned face's landmarks are, and the inner-face distances its size.

The constants of :data:`DETECTOR_BOX_MAPPINGS` are refitted and printed
by ``tools/analysis/detector_recall.py --fit-mapping`` (the command is in
``docs/inference_and_deployment.md``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmpose.structures.bbox import bbox_cs2xyxy, bbox_xyxy2cs

#: Ridge weight of :func:`fit_keypoint_box_mapping`, times the face count.
RIDGE = 1e-4
#: BlazeFace's keypoints: right eye, left eye, nose tip, mouth centre,
#: right ear tragion, left ear tragion (the subject's right and left).
NUM_DETECTOR_KEYPOINTS = 6


def box_centre_size(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 2)`` centres and ``(n,)`` mean sides ``(w + h) / 2`` of
    ``x1, y1, x2, y2`` boxes (MMPose's ``bbox_xyxy2cs``)."""
    centre, wh = bbox_xyxy2cs(np.asarray(boxes, np.float32)[:, :4])
    return centre.astype(np.float64), wh.astype(np.float64).mean(axis=1)


def square_boxes(centres: np.ndarray, sides: np.ndarray,
                 scores: np.ndarray | None) -> np.ndarray:
    """``(n, 5)`` float32 ``x1, y1, x2, y2, score`` squares (score 1 where
    none is given; MMPose's ``bbox_cs2xyxy``)."""
    sides = np.asarray(sides, np.float32)
    out = np.ones((len(sides), 5), dtype=np.float32)
    out[:, :4] = bbox_cs2xyxy(np.asarray(centres, np.float32),
                              np.stack([sides, sides], axis=1))
    if scores is not None:
        out[:, 4] = scores
    return out


def _rows(boxes) -> tuple[np.ndarray, np.ndarray | None]:
    boxes = np.asarray(boxes, dtype=np.float64)
    boxes = boxes.reshape(len(boxes), -1) if boxes.size else \
        np.zeros((0, 4))
    return boxes[:, :4], boxes[:, 4] if boxes.shape[1] > 4 else None


@dataclass(frozen=True)
class BoxMapping:
    """Detector box -> square landmark box by a shift and a scale.

    Attributes:
        dx, dy: Centre shift, in units of the detector box's mean side.
        scale: The landmark box's longer side / the detector box's mean
            side.
    """

    dx: float = 0.
    dy: float = 0.
    scale: float = 1.

    def __call__(self, boxes: np.ndarray,
                 keypoints: np.ndarray | None = None) -> np.ndarray:
        """``(n, 4|5)`` ``x1, y1, x2, y2[, score]`` -> ``(n, 5)`` square
        boxes (scores kept); ``keypoints`` are not used."""
        boxes, scores = _rows(boxes)
        centre, size = box_centre_size(boxes)
        centre = centre + np.array([self.dx, self.dy]) * size[:, None]
        return square_boxes(centre, self.scale * size, scores)


def keypoint_features(boxes: np.ndarray, keypoints: np.ndarray
                      ) -> np.ndarray:
    """``(n, 16)`` features of :class:`KeypointBoxMapping`: the 6
    keypoints' ``x, y`` minus the box centre over its mean side (12), the
    logs of the eye-eye, eye centre-mouth and ear-ear distances over the
    mean side (3), and 1."""
    centre, size = box_centre_size(boxes)
    points = (np.asarray(keypoints, np.float64) - centre[:, None]) / \
        size[:, None, None]
    eyes = (points[:, 0] + points[:, 1]) / 2
    distances = np.stack([
        np.linalg.norm(points[:, 0] - points[:, 1], axis=1),
        np.linalg.norm(eyes - points[:, 3], axis=1),
        np.linalg.norm(points[:, 4] - points[:, 5], axis=1)
    ], axis=1)
    return np.concatenate([
        points.reshape(len(points), -1),
        np.log(distances + 1e-3),
        np.ones((len(points), 1))
    ], axis=1)


@dataclass(frozen=True)
class KeypointBoxMapping:
    """Detector box + 6 keypoints -> square landmark box, linearly.

    Attributes:
        weights: ``(16, 3)`` (as nested tuples): :func:`keypoint_features`
            times ``weights`` gives ``(cx' - cx) / s``, ``(cy' - cy) / s``
            and ``log(side' / s)``.
    """

    weights: tuple[tuple[float, float, float], ...]

    def __call__(self, boxes: np.ndarray,
                 keypoints: np.ndarray | None = None) -> np.ndarray:
        """``(n, 4|5)`` boxes and their ``(n, 6, 2)`` keypoints ->
        ``(n, 5)`` square boxes (scores kept).

        Raises:
            ValueError: without keypoints for every box.
        """
        boxes, scores = _rows(boxes)
        if keypoints is None or len(keypoints) != len(boxes):
            raise ValueError('KeypointBoxMapping needs the detector\'s '
                             f'{NUM_DETECTOR_KEYPOINTS} keypoints of every '
                             'box')
        if len(boxes) == 0:
            return np.zeros((0, 5), dtype=np.float32)
        centre, size = box_centre_size(boxes)
        out = keypoint_features(boxes, keypoints) @ np.asarray(self.weights)
        return square_boxes(centre + out[:, :2] * size[:, None],
                            size * np.exp(out[:, 2]), scores)


def landmark_square(keypoints: np.ndarray) -> tuple[np.ndarray, float]:
    """The 300W record's box of ``(K, 2)`` keypoints: the centre and the
    longer side of their tight box."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    low, high = keypoints.min(0), keypoints.max(0)
    return (low + high) / 2, float((high - low).max())


def _targets(boxes: np.ndarray, centres: np.ndarray,
             sides: np.ndarray) -> np.ndarray:
    """``(n, 3)``: ``(c' - c) / s`` and ``log(side' / s)``."""
    if len(boxes) == 0:
        raise ValueError('no matched face to fit the box mapping on')
    centre, size = box_centre_size(np.asarray(boxes)[:, :4])
    shift = (np.asarray(centres, np.float64) - centre) / size[:, None]
    return np.concatenate(
        [shift, np.log(np.asarray(sides, np.float64) / size)[:, None]],
        axis=1)


def fit_box_mapping(detector_boxes: np.ndarray, centres: np.ndarray,
                    sides: np.ndarray) -> BoxMapping:
    """The :class:`BoxMapping` taking ``detector_boxes`` ``(n, 4+)`` to
    the landmark squares (``centres`` ``(n, 2)``, ``sides`` ``(n,)``):
    the medians of the centre shifts and of the size ratios.

    Raises:
        ValueError: without a face to fit on.
    """
    targets = _targets(detector_boxes, centres, sides)
    dx, dy, log_scale = np.median(targets, axis=0)
    return BoxMapping(round(float(dx), 4), round(float(dy), 4),
                      round(float(np.exp(log_scale)), 4))


def fit_keypoint_box_mapping(detector_boxes: np.ndarray,
                             keypoints: np.ndarray, centres: np.ndarray,
                             sides: np.ndarray,
                             ridge: float = RIDGE) -> KeypointBoxMapping:
    """The :class:`KeypointBoxMapping` fitted by ridge least squares
    (``ridge * n`` on every weight but the constant's) on matched faces.

    Raises:
        ValueError: without a face to fit on.
    """
    targets = _targets(detector_boxes, centres, sides)
    features = keypoint_features(np.asarray(detector_boxes)[:, :4],
                                 keypoints)
    penalty = ridge * len(features) * np.eye(features.shape[1])
    penalty[-1, -1] = 0.
    weights = np.linalg.solve(features.T @ features + penalty,
                              features.T @ targets)
    return KeypointBoxMapping(tuple(
        tuple(round(float(w), 5) for w in row) for row in weights))


#: Fitted on the 2 012 faces of ``300w-subset/train.json`` (AFW, HELEN
#: and LFPW training images), each detector's best box of each face it
#: finds; refit with the command in docs/inference_and_deployment.md.
DETECTOR_BOX_MAPPINGS: dict[str, BoxMapping | KeypointBoxMapping] = {
    'blazeface-short': KeypointBoxMapping(weights=(
        (0.05533, -0.15907, 0.32759),
        (0.01640, -0.10212, 0.26119),
        (0.04442, 0.13541, -0.40905),
        (-0.05650, -0.05273, 0.24429),
        (0.02452, 0.00555, -0.01977),
        (0.01340, 0.28109, -0.32436),
        (-0.04968, -0.01756, 0.09504),
        (0.03857, 0.19501, -0.36281),
        (-0.02095, -0.18646, -0.06585),
        (0.05056, 0.05745, -0.12888),
        (-0.08585, 0.08501, 0.13741),
        (0.10549, 0.03480, -0.05914),
        (0.03243, 0.03532, -0.72882),
        (0.04864, 0.02915, 0.11442),
        (-0.03351, -0.35842, 1.37802),
        (0.09570, -0.19472, -0.13329))),
    'blazeface-full': KeypointBoxMapping(weights=(
        (0.13819, -0.11939, 0.26748),
        (0.11180, 0.01732, 0.47419),
        (0.16877, 0.07408, -0.38399),
        (-0.03140, 0.06196, 0.42168),
        (-0.10895, -0.01047, -0.05309),
        (-0.09379, 0.18763, -0.32315),
        (-0.06126, 0.01580, 0.06839),
        (0.03610, 0.15570, -0.38473),
        (0.29484, -0.14196, -0.10998),
        (0.16027, 0.10939, 0.02345),
        (0.34908, 0.12160, 0.21903),
        (-0.06055, 0.09677, 0.04502),
        (-0.05585, -0.01415, -0.92038),
        (0.16287, -0.09874, 0.14072),
        (0.01092, -0.21641, 1.64484),
        (0.08324, -0.21779, -0.16492))),
    'blazeface-back': KeypointBoxMapping(weights=(
        (-0.06486, -0.14706, 0.45189),
        (0.00862, -0.12462, -0.27642),
        (-0.04930, 0.06404, -0.27461),
        (0.04343, -0.00156, -0.19852),
        (0.00095, 0.07010, -0.08496),
        (0.01169, 0.22076, -0.35365),
        (-0.02748, -0.00902, -0.04483),
        (-0.03620, 0.19327, -0.20946),
        (-0.14376, -0.15105, 0.21937),
        (0.02515, -0.10042, -0.18140),
        (-0.14263, 0.09599, -0.17122),
        (0.07948, -0.07338, -0.39013),
        (0.00055, -0.10073, -0.38007),
        (0.10645, -0.07205, 0.78105),
        (0.00689, -0.29992, 0.72407),
        (0.10923, -0.38137, 0.55463))),
    'opencv-haar-cascade': BoxMapping(dx=0.0019, dy=0.1448, scale=0.8553),
}
