"""Inference API: faces -> RePFormer landmarks -> drawings and JSON.

Example::

    >>> import cv2
    >>> from repformer_mmpose.apis import FaceLandmarkDetector
    >>> detector = FaceLandmarkDetector(
    ...     'configs/repformer/300w/'
    ...     'repformer_res18_1xb16-360e_300w-256x256.py',
    ...     'work_dirs/repformer_res18_300w/epoch_360.pth')
    >>> faces = detector('photo.jpg')   # BlazeFace (offline) finds faces
    >>> faces[0].keypoints.shape        # image pixels
    (68, 2)
    >>> cv2.imwrite('drawn.jpg', detector.draw('photo.jpg', faces))

The lower-level functions are MMPose's, with checks:
:func:`init_face_model` (``mmpose.apis.init_model`` + a strict checkpoint
check) and :func:`predict_landmarks` (``mmpose.apis.inference_topdown``).
"""
from .blazeface_detector import BlazeFaceDetector
from .box_sources import (BoxSource, add_box_source_arguments,
                          box_source_from_args)
from .face_detectors import (CascadeFaceDetector, MMDetFaceDetector,
                             build_face_detector, check_boxes,
                             load_boxes_json)
from .inference import (FaceLandmarkDetector, FaceLandmarks, ImageReadError,
                        faces_to_json, predict_landmarks, read_image)
from .mmpose_inferencer import MMPoseDetectorAdapter, use_face_detector
from .model import (CheckpointMismatchError, check_state_dict,
                    init_face_model, load_config, read_state_dict)
from .visualization import draw_faces

__all__ = [
    'BoxSource', 'add_box_source_arguments', 'box_source_from_args',
    'BlazeFaceDetector', 'CascadeFaceDetector', 'MMDetFaceDetector',
    'build_face_detector',
    'check_boxes', 'load_boxes_json', 'FaceLandmarkDetector',
    'FaceLandmarks', 'ImageReadError', 'faces_to_json', 'predict_landmarks',
    'read_image', 'CheckpointMismatchError', 'check_state_dict',
    'init_face_model', 'load_config', 'read_state_dict', 'draw_faces',
    'MMPoseDetectorAdapter', 'use_face_detector'
]
