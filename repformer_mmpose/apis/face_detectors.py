"""Where the faces are: face detectors and boxes given by the user.

A face detector is any object with ``detect(image) -> (n, 5)`` array of
``x1, y1, x2, y2, score`` boxes in image pixels (``image`` a BGR
``uint8`` array, as OpenCV reads it), largest or most confident first:
:class:`~.blazeface_detector.BlazeFaceDetector` (the default),
:class:`CascadeFaceDetector` (OpenCV's Haar cascade, frontal faces only)
or :class:`MMDetFaceDetector`; :func:`build_face_detector` makes one by
name (:data:`DETECTOR_NAMES`). Which to choose and how well each finds
faces: ``docs/inference_and_deployment.md``.
"""
from __future__ import annotations

import json
import os.path as osp
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .detector_box_mapping import DETECTOR_BOX_MAPPINGS

DEFAULT_CASCADE = 'haarcascade_frontalface_default.xml'
#: ``build_face_detector(name=...)``/``--detector`` choices; ``blazeface``
#: runs :data:`~.blazeface_detector.BLAZEFACE_DEFAULT_MODEL`.
DETECTOR_NAMES = ('blazeface', 'blazeface-short', 'blazeface-full',
                  'blazeface-back', 'haar', 'mmdet')
DEFAULT_DETECTOR = 'blazeface'


def check_boxes(boxes: Any, source: str = 'boxes',
                image_size: tuple[int, int] | None = None) -> np.ndarray:
    """``(n, 4)`` or ``(n, 5)`` ``x1, y1, x2, y2[, score]`` -> ``(n, 5)``
    float32 (score 1 where none is given).

    Raises:
        ValueError: naming ``source`` and the box index, for a box that is
            not 4 or 5 finite numbers, whose ``x2 <= x1`` or ``y2 <= y1``,
            or, given ``image_size`` ``(width, height)``, that lies wholly
            outside the image.
    """
    rows = list(boxes) if not isinstance(boxes, np.ndarray) else boxes
    out = np.ones((len(rows), 5), dtype=np.float32)
    for index, box in enumerate(rows):
        try:
            values = np.asarray(box, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            values = np.array([])
        if values.size not in (4, 5) or not np.isfinite(values).all():
            raise ValueError(
                f'{source}[{index}] must be 4 finite numbers x1, y1, x2, y2 '
                f'(and optionally a score), got {box!r}')
        if values[2] <= values[0] or values[3] <= values[1]:
            raise ValueError(
                f'{source}[{index}] = {values[:4].tolist()} is empty: x1, '
                'y1, x2, y2 needs x2 > x1 and y2 > y1')
        if image_size is not None:
            width, height = image_size
            if values[2] <= 0 or values[3] <= 0 or values[0] >= width or \
                    values[1] >= height:
                raise ValueError(
                    f'{source}[{index}] = {values[:4].tolist()} lies wholly '
                    f'outside the {width}x{height} image')
        out[index, :values.size] = values
    return out


class CascadeFaceDetector:
    """OpenCV's Haar-cascade face detector (Viola-Jones).

    Its boxes (squares around the eyes, nose and mouth) are mapped to the
    landmark-box convention our models were trained with
    (:mod:`.detector_box_mapping`); every score is 1 (OpenCV gives none);
    largest first.

    Args:
        cascade_file (str, optional): A cascade XML file; defaults to
            OpenCV's bundled ``haarcascade_frontalface_default.xml``.
        scale_factor (float): Image pyramid step.
        min_neighbors (int): Overlapping detections a face needs; higher
            gives fewer false faces.
        min_size (int): Smallest face side in pixels.
        box_mapping (BoxMapping, optional): Detector box -> landmark box;
            defaults to the one fitted for the default cascade (none for
            another cascade); ``False`` keeps OpenCV's boxes.
    """

    name = 'opencv-haar-cascade'

    def __init__(self,
                 cascade_file: str | None = None,
                 scale_factor: float = 1.1,
                 min_neighbors: int = 5,
                 min_size: int = 30,
                 box_mapping=None) -> None:
        if box_mapping is None and cascade_file is None:
            box_mapping = DETECTOR_BOX_MAPPINGS.get(self.name)
        self.box_mapping = box_mapping or None
        if cascade_file is None:
            cascade_file = osp.join(cv2.data.haarcascades, DEFAULT_CASCADE)
        if not osp.isfile(cascade_file):
            raise FileNotFoundError(f'cascade file {cascade_file} not found')
        self.classifier = cv2.CascadeClassifier(cascade_file)
        if self.classifier.empty():
            raise ValueError(
                f'{cascade_file} is not an OpenCV cascade classifier')
        self.cascade_file = cascade_file
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size

    def detect(self, image: np.ndarray) -> np.ndarray:
        """``(n, 5)`` face boxes of a BGR image, largest first."""
        grey = image if image.ndim == 2 else cv2.cvtColor(
            image, cv2.COLOR_BGR2GRAY)
        found = self.classifier.detectMultiScale(
            cv2.equalizeHist(grey),
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size))
        if len(found) == 0:
            return np.zeros((0, 5), dtype=np.float32)
        x, y, w, h = np.asarray(found, dtype=np.float32).T
        boxes = np.stack([x, y, x + w, y + h, np.ones_like(x)], axis=1)
        boxes = boxes[np.argsort(-w * h, kind='stable')]
        return boxes if self.box_mapping is None else self.box_mapping(
            boxes)


class MMDetFaceDetector:
    """An MMDetection detector as a face detector.

    Keeps the detections of class ``class_id`` (0 for a face-only
    detector) with score ``>= score_thr``, most confident first.

    With ``mmcv-lite`` (no compiled ops) only detectors without compiled
    ops work (e.g. the DETR family: no NMS); others raise
    ``MissingMMCVOpError`` naming the op.

    Args:
        config (str): MMDetection config file.
        checkpoint (str): Its weights.
        device (str): Where to run it.
        score_thr (float): Smallest score kept.
        class_id (int): The face class.
    """

    name = 'mmdet'

    def __init__(self,
                 config: str,
                 checkpoint: str,
                 device: str = 'cpu',
                 score_thr: float = 0.5,
                 class_id: int = 0) -> None:
        for kind, path in (('config', config), ('checkpoint', checkpoint)):
            if not osp.isfile(path):
                raise FileNotFoundError(f'detector {kind} {path} not found')
        from mmdet.apis import init_detector
        self.model = init_detector(config, checkpoint, device=device)
        self.score_thr = score_thr
        self.class_id = class_id
        self.name = f'mmdet:{osp.basename(config)}'

    def detect(self, image: np.ndarray) -> np.ndarray:
        """``(n, 5)`` face boxes of a BGR image, most confident first."""
        from mmdet.apis import inference_detector
        from mmengine.registry import DefaultScope
        # mmdet's pipeline resolves in its own scope; MMPose's inference
        # sets its own scope again on every call.
        with DefaultScope.overwrite_default_scope('mmdet'):
            result = inference_detector(self.model, image)
        instances = result.pred_instances.cpu().numpy()
        keep = (instances.labels == self.class_id) & (
            instances.scores >= self.score_thr)
        boxes = np.concatenate(
            [instances.bboxes[keep], instances.scores[keep, None]],
            axis=1).astype(np.float32)
        return boxes[np.argsort(-boxes[:, 4], kind='stable')]


def load_boxes_json(path: str | Path,
                    image_name: str | None = None) -> np.ndarray:
    """Face boxes ``(n, 5)`` for one image from a JSON file.

    Accepted layouts:

    - a list of boxes, ``[[x1, y1, x2, y2], ...]`` (optionally with a
      score), used for any image;
    - a result of the demos, ``{"faces": [{"bbox": [x1, y1, x2, y2],
      "bbox_score": s}, ...]}``;
    - an MMPose/COCO annotation file (``images`` + ``annotations`` with
      ``bbox`` as ``[x, y, w, h]``): the faces of the image whose
      ``file_name`` ends ``image_name``'s path with the most folders; two
      equally good matches are an error (``image_name`` may be omitted if
      the file has one image).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: naming the file and the field of a bad record, or
            when ``image_name`` is not in a COCO file.
    """
    path = str(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'boxes file {path} not found')
    try:
        with open(path, encoding='utf-8') as f:
            content = json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f'{path} is not valid JSON: {error}') from error
    except UnicodeDecodeError:
        raise ValueError(f'{path} is not UTF-8 text, as JSON must be: '
                         'save it as UTF-8') from None
    if isinstance(content, list):
        return check_boxes(content, path)
    if isinstance(content, dict) and 'faces' in content:
        faces = content['faces']
        if not isinstance(faces, list):
            raise ValueError(f'{path}: "faces" must be a list')
        for index, face in enumerate(faces):
            if not isinstance(face, dict) or 'bbox' not in face:
                raise ValueError(f'{path}: faces[{index}] has no "bbox"')
        return check_boxes(
            [[*face['bbox'], face.get('bbox_score', 1.)] for face in faces],
            f'{path}: faces')
    if isinstance(content, dict) and {'images', 'annotations'} <= set(
            content):
        return _coco_boxes(content, path, image_name)
    raise ValueError(
        f'{path}: unrecognised boxes file; expected a list of [x1, y1, x2, '
        'y2] boxes, a demo result ({"faces": [...]}) or a COCO/MMPose '
        'annotation file ({"images": ..., "annotations": ...})')


def _matching_image(images: list[dict], image_name: str,
                    path: str) -> dict:
    """The entry of ``images`` that is ``image_name``: the one whose
    ``file_name`` ends ``image_name``'s path with the most folders
    (``a/x.jpg`` for ``data/a/x.jpg``); two equally good ones are
    refused rather than guessed between."""
    parts = Path(osp.abspath(image_name)).parts

    def matched_parts(file_name: str) -> int:
        tail = Path(osp.normpath(file_name)).parts
        return len(tail) if parts[-len(tail):] == tail else 0

    scores = [matched_parts(image['file_name']) for image in images]
    best = max(scores, default=0)
    if best == 0:
        raise ValueError(
            f'{path}: no images[].file_name is {osp.basename(image_name)!r} '
            f'(it has {[im["file_name"] for im in images][:5]}...)')
    matches = [im for im, score in zip(images, scores) if score == best]
    if len(matches) > 1:
        raise ValueError(
            f'{path}: {len(matches)} images[].file_name match {image_name} '
            f'equally ({[im["file_name"] for im in matches][:3]}): cannot '
            'tell which holds its faces')
    return matches[0]


def _coco_boxes(content: dict, path: str,
                image_name: str | None) -> np.ndarray:
    images = content['images']
    for index, image in enumerate(images):
        if not isinstance(image, dict) or not {'id', 'file_name'} <= set(
                image):
            raise ValueError(
                f'{path}: images[{index}] needs "id" and "file_name"')
    if image_name is None:
        if len(images) != 1:
            raise ValueError(
                f'{path} describes {len(images)} images: say which one')
        image_id = images[0]['id']
    else:
        image_id = _matching_image(images, image_name, path)['id']
    boxes = []
    for index, ann in enumerate(content['annotations']):
        if not isinstance(ann, dict) or ann.get('image_id') != image_id:
            continue
        bbox = ann.get('bbox')
        field = f'{path}: annotations[{index}].bbox'
        try:
            x, y, w, h = (float(value) for value in bbox)
        except (TypeError, ValueError):
            raise ValueError(
                f'{field} must be [x, y, w, h], got {bbox!r}') from None
        if not np.isfinite([x, y, w, h]).all() or w <= 0 or h <= 0:
            raise ValueError(
                f'{field} = {bbox!r} needs finite x, y and w, h > 0')
        boxes.append([x, y, x + w, y + h])
    return check_boxes(boxes, f'{path}: annotations')


def build_face_detector(det_config: str | None = None,
                        det_checkpoint: str | None = None,
                        cascade_file: str | None = None,
                        device: str = 'cpu',
                        score_thr: float | None = None,
                        class_id: int = 0,
                        *,
                        name: str | None = None,
                        box_mapping=None):
    """A face detector by name (:data:`DETECTOR_NAMES`).

    ``name`` defaults to ``'mmdet'`` when a config is given, else to
    :data:`DEFAULT_DETECTOR` (BlazeFace).

    Args:
        det_config, det_checkpoint: The MMDetection detector (``mmdet``).
        cascade_file: Another Haar cascade XML (``haar``).
        device: Where the MMDetection detector runs.
        score_thr: Smallest score kept (``mmdet``: 0.5 by default;
            ``blazeface*``: the model's, 0.5).
        class_id: The face class of the MMDetection detector.
        name: One of :data:`DETECTOR_NAMES`.
        box_mapping: The detector box -> landmark box mapping of
            BlazeFace and Haar (``None``: the fitted one; ``False``: the
            detector's own boxes).

    Raises:
        ValueError: an unknown name (the message lists the choices), or
            the MMDetection options without ``mmdet`` or incomplete.
    """
    if name is None:
        name = 'mmdet' if det_config is not None else DEFAULT_DETECTOR
    if name not in DETECTOR_NAMES:
        raise ValueError(f'unknown face detector {name!r}; choose one of '
                         f'{", ".join(DETECTOR_NAMES)}')
    if name == 'mmdet':
        if det_config is None or det_checkpoint is None:
            raise ValueError('an MMDetection detector needs both a config '
                             'and a checkpoint')
        return MMDetFaceDetector(det_config, det_checkpoint, device,
                                 0.5 if score_thr is None else score_thr,
                                 class_id)
    if det_config is not None or det_checkpoint is not None:
        raise ValueError(f'an MMDetection config/checkpoint was given for '
                         f'the {name} detector; choose mmdet')
    if name == 'haar':
        return CascadeFaceDetector(cascade_file, box_mapping=box_mapping)
    from .blazeface_detector import BLAZEFACE_DEFAULT_MODEL, BlazeFaceDetector
    model = name.partition('-')[2] or BLAZEFACE_DEFAULT_MODEL
    return BlazeFaceDetector(model, score_thr, box_mapping=box_mapping)
