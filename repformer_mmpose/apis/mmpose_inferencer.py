"""Our offline face detectors inside MMPose's ``MMPoseInferencer``.

MMPose's top-down inferencer takes an MMDetection model as its detector
(``det_model``) and, for a face model outside its own list, none: the whole
image becomes the face box. :func:`use_face_detector` gives it one of ours
(BlazeFace by default, no download)::

    from mmpose.apis import MMPoseInferencer
    from repformer_mmpose.apis import use_face_detector

    inferencer = use_face_detector(
        MMPoseInferencer(pose2d=CONFIG, pose2d_weights=CHECKPOINT))
    result = next(inferencer('photo.jpg', vis_out_dir='vis'))
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from mmengine.structures import BaseDataElement, InstanceData

from .face_detectors import build_face_detector
from .inference import read_image


class MMPoseDetectorAdapter:
    """A face detector (``detect(bgr) -> (n, 5)`` boxes ``x1 y1 x2 y2
    score``) called the way MMPose's inferencers call MMDetection's
    ``DetInferencer``: ``detector(image, return_datasamples=True)``
    returns ``{'predictions': [sample]}``, ``sample.pred_instances``
    holding ``bboxes``, ``scores`` and ``labels`` (all 0: face)."""

    def __init__(self, detector: Any) -> None:
        self.detector = detector

    def __call__(self, inputs, return_datasamples: bool = True,
                 **kwargs) -> dict:
        boxes = np.asarray(self.detector.detect(read_image(inputs)),
                           np.float32).reshape(-1, 5)
        instances = InstanceData(
            bboxes=torch.from_numpy(boxes[:, :4].copy()),
            scores=torch.from_numpy(boxes[:, 4].copy()),
            labels=torch.zeros(len(boxes), dtype=torch.long))
        return dict(predictions=[BaseDataElement(pred_instances=instances)])


def use_face_detector(inferencer: Any, detector: Any = 'blazeface') -> Any:
    """Make ``inferencer`` (an ``MMPoseInferencer`` or a
    ``Pose2DInferencer``) find faces with ``detector``: a name of
    :func:`build_face_detector` (``'blazeface'``, ``'haar'``, ...) or an
    object with ``detect(bgr_image)``. Returns ``inferencer``."""
    pose2d = getattr(inferencer, 'inferencer', inferencer)
    if not hasattr(pose2d, 'detector'):
        raise TypeError(f'{type(inferencer).__name__} is not a top-down '
                        'MMPose inferencer (it has no detector)')
    if isinstance(detector, str):
        detector = build_face_detector(name=detector)
    pose2d.detector = MMPoseDetectorAdapter(detector)
    pose2d.det_cat_ids = (0, )
    return inferencer
