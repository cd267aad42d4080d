"""Draw faces and landmarks with MMPose's visualiser."""
from __future__ import annotations

import itertools

import cv2
import numpy as np
from mmengine.structures import InstanceData

from mmpose.structures import PoseDataSample
from mmpose.visualization import PoseLocalVisualizer
from .face_landmarks import FaceLandmarks

# mmengine keeps visualisers by name, process-wide: one name per call.
LOW_CONFIDENCE_COLOUR = (160, 160, 160)  # BGR
_names = itertools.count()


def draw_faces(image: np.ndarray,
               faces: list[FaceLandmarks],
               dataset_meta: dict | None = None,
               radius: int | None = None,
               line_width: int | None = None,
               draw_bbox: bool = True,
               confidence_threshold: float = 0.5) -> np.ndarray:
    """``image`` (BGR) with every face's box and landmarks.

    Drawn by :class:`mmpose.visualization.PoseLocalVisualizer` with the
    data set's keypoint colours (``dataset_meta``, e.g.
    ``model.dataset_meta``). Sizes follow the faces: the point radius is
    about 1/80 of the median box side unless given. Points whose
    ``keypoint_scores`` are below ``confidence_threshold`` (a model with
    the uncertainty branch) also get a grey ring, twice their radius: a
    guess, to be read with care.

    Returns:
        np.ndarray: A new BGR image; ``image`` itself is not changed.
    """
    if not faces:
        return image.copy()
    bboxes = np.stack([face.bbox for face in faces]).astype(np.float32)
    if radius is None:
        side = float(np.median(np.minimum(bboxes[:, 2] - bboxes[:, 0],
                                          bboxes[:, 3] - bboxes[:, 1])))
        radius = int(np.clip(round(side / 80), 1, 8))
    if line_width is None:
        line_width = max(1, radius // 2)
    visualizer = PoseLocalVisualizer(
        name=f'repformer_faces_{next(_names)}',
        radius=radius,
        line_width=line_width)
    if dataset_meta:
        visualizer.set_dataset_meta(dataset_meta)
    instances = InstanceData(
        bboxes=bboxes,
        keypoints=np.stack([face.keypoints for face in faces]),
        keypoint_scores=np.stack([face.keypoint_scores for face in faces]))
    sample = PoseDataSample(pred_instances=instances)
    drawn = visualizer.add_datasample(
        'faces', image[..., ::-1].copy(), sample, draw_gt=False,
        draw_bbox=draw_bbox, kpt_thr=0., show=False)
    drawn = np.ascontiguousarray(drawn[..., ::-1])
    for face in faces:
        for x, y in face.keypoints[face.keypoint_scores <
                                   confidence_threshold]:
            cv2.circle(drawn, (int(round(x)), int(round(y))), 2 * radius,
                       LOW_CONFIDENCE_COLOUR, max(1, radius // 2))
    return drawn
