"""Landmarks of the faces in an image: boxes in, keypoints out."""
from __future__ import annotations

import os.path as osp
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from mmpose.apis import inference_topdown
from ..datasets.image_integrity import truncation_problem
from ..models.consistency import check_pipelines
from .face_detectors import build_face_detector, check_boxes
from .face_landmarks import FaceLandmarks
from .model import init_face_model
from .visualization import draw_faces


class ImageReadError(ValueError):
    """An input file exists but is not an image OpenCV can decode."""


def read_image(image: str | Path | np.ndarray) -> np.ndarray:
    """A BGR ``uint8`` ``(H, W, 3)`` image from a file or an array
    (greyscale arrays are converted).

    Raises:
        FileNotFoundError: if the file does not exist.
        ImageReadError: if the file is truncated (the datasets' check),
            OpenCV cannot decode it, or the array is not an image.
    """
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
            raise ImageReadError(
                f'expected an (H, W, 3) BGR image, got shape {image.shape}')
        return image
    path = str(image)
    if not osp.isfile(path):
        raise FileNotFoundError(f'image file {path} not found')
    with open(path, 'rb') as f:
        data = f.read()
    # the datasets' check (LoadFaceImage): OpenCV decodes a truncated
    # JPEG without a word, greying what is missing
    problem = truncation_problem(data)
    if problem is not None:
        raise ImageReadError(f'cannot read image {path}: {problem}')
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise ImageReadError(
            f'cannot read image {path}: OpenCV could not decode it (not an '
            'image, truncated, or an unsupported format)')
    return decoded


def predict_landmarks(model: nn.Module, image: str | Path | np.ndarray,
                      bboxes: Any, amp: bool = False) -> list[FaceLandmarks]:
    """Landmarks of the faces in ``bboxes``: MMPose's top-down inference
    (:func:`mmpose.apis.inference_topdown`: crop each box padded by 1.25,
    run the model on all crops as one batch, map back to the image).

    Args:
        model (nn.Module): From :func:`init_face_model`.
        image (str | Path | np.ndarray): A file or a BGR array.
        bboxes: ``(n, 4)`` or ``(n, 5)`` ``x1, y1, x2, y2[, score]``; no
            box gives no face (not the whole image, unlike MMPose).
        amp (bool): Run the network under bf16 autocast (about twice as
            fast on CPUs with AVX512-BF16 or AMX; RePFormer's landmark path
            stays float32).

    Returns:
        list[FaceLandmarks]: One per box, in the boxes' order.

    Raises:
        ModelConfigError: if the config's test pipeline crops faces to
            another size than the head's codec maps them back from.
    """
    if getattr(model, 'cfg', None) is not None:
        check_pipelines(model.cfg, model, ['test_dataloader'])
    image = read_image(image)
    boxes = check_boxes(bboxes, 'bboxes', image.shape[1::-1])
    if len(boxes) == 0:
        return []
    device = next(model.parameters()).device.type
    with torch.autocast(device, dtype=torch.bfloat16, enabled=amp):
        samples = inference_topdown(model, image, boxes[:, :4],
                                    bbox_format='xyxy')
    return [
        FaceLandmarks(
            bbox=box[:4].copy(),
            bbox_score=float(box[4]),
            keypoints=np.asarray(sample.pred_instances.keypoints[0],
                                 dtype=np.float32),
            keypoint_scores=np.asarray(
                sample.pred_instances.keypoint_scores[0], dtype=np.float32),
            keypoint_scales=_optional(sample.pred_instances,
                                      'keypoint_scales'),
            keypoint_visibility=_optional(sample.pred_instances,
                                          'keypoint_visibility'))
        for box, sample in zip(boxes, samples)
    ]


def _optional(instances, field: str) -> np.ndarray | None:
    """``(K,)`` ``field`` of the first instance (``keypoint_scales``,
    ``keypoint_visibility`` of the uncertainty branch), if the model
    predicts it."""
    if field not in instances:
        return None
    return np.asarray(instances.get(field)[0], dtype=np.float32)


def faces_to_json(faces: list[FaceLandmarks], **info) -> dict:
    """The JSON record the demos write: ``info`` (e.g. ``image``,
    ``width``, ``height``, ``detector``) + ``num_faces`` + ``faces``."""
    return dict(**info, num_faces=len(faces),
                faces=[face.to_dict() for face in faces])


class FaceLandmarkDetector:
    """Faces and their RePFormer landmarks in one call.

    Example: the package docstring (:mod:`repformer_mmpose.apis`).

    Args:
        config (str | Path | Config): The RePFormer config.
        checkpoint (str | Path, optional): Its weights (strictly checked,
            see :func:`init_face_model`).
        face_detector: An object with ``detect(image) -> (n, 5)`` boxes,
            or a name of :func:`build_face_detector` (``'blazeface'``,
            ``'haar'``, ...); defaults to BlazeFace
            (:class:`~.blazeface_detector.BlazeFaceDetector`).
        device (str): Where to run the model.
        cfg_options (dict, optional): Config overrides.
        amp (bool): bf16 autocast inference (see :func:`predict_landmarks`).
    """

    def __init__(self,
                 config: str | Path | Config,
                 checkpoint: str | Path | None = None,
                 face_detector=None,
                 device: str = 'cpu',
                 cfg_options: dict | None = None,
                 amp: bool = False) -> None:
        self.model = init_face_model(config, checkpoint, device, cfg_options)
        self.amp = amp
        if face_detector is None or isinstance(face_detector, str):
            face_detector = build_face_detector(name=face_detector)
        self.face_detector = face_detector

    @property
    def dataset_meta(self) -> dict:
        return self.model.dataset_meta

    def detect_faces(self, image: str | Path | np.ndarray) -> np.ndarray:
        """``(n, 5)`` boxes of the face detector."""
        return self.face_detector.detect(read_image(image))

    def __call__(self,
                 image: str | Path | np.ndarray,
                 bboxes: Any = None) -> list[FaceLandmarks]:
        """Landmarks of every face the detector finds (or of ``bboxes``).
        An empty list when there is no face."""
        image = read_image(image)
        if bboxes is None:
            bboxes = self.face_detector.detect(image)
        return predict_landmarks(self.model, image, bboxes, self.amp)

    def draw(self, image: str | Path | np.ndarray,
             faces: list[FaceLandmarks], **kwargs) -> np.ndarray:
        """The image (BGR) with boxes and landmarks drawn by MMPose's
        visualiser; ``kwargs`` go to :func:`draw_faces`."""
        return draw_faces(read_image(image), faces, self.dataset_meta,
                          **kwargs)
