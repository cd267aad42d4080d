"""Where the demos take face boxes from: the command line, a JSON file or
a face detector (the options ``tools/demo/*_demo.py`` share)."""
from __future__ import annotations

import argparse

import numpy as np

from .face_detectors import (DEFAULT_DETECTOR, DETECTOR_NAMES,
                             build_face_detector, check_boxes,
                             load_boxes_json)


class BoxSource:
    """Face boxes for an image, from exactly one of: fixed boxes, a boxes
    JSON file (:func:`load_boxes_json`) or a face detector.

    ``source(image, image_name)`` returns ``(n, 5)`` boxes; ``name`` says
    where they came from (for messages and the result JSON).
    """

    def __init__(self,
                 bboxes=None,
                 bbox_json: str | None = None,
                 detector=None) -> None:
        if sum(x is not None for x in (bboxes, bbox_json, detector)) != 1:
            raise ValueError('give exactly one of bboxes, bbox_json and '
                             'detector')
        self.bboxes = None if bboxes is None else check_boxes(
            bboxes, '--bbox')
        self.bbox_json = bbox_json
        self.detector = detector
        if self.bboxes is not None:
            self.name = 'boxes given on the command line'
        elif bbox_json is not None:
            self.name = f'boxes from {bbox_json}'
        else:
            self.name = getattr(detector, 'name', type(detector).__name__)

    def __call__(self, image: np.ndarray,
                 image_name: str | None = None) -> np.ndarray:
        if self.bboxes is not None:
            return self.bboxes
        if self.bbox_json is not None:
            return load_boxes_json(self.bbox_json, image_name)
        return self.detector.detect(image)


def add_box_source_arguments(parser: argparse.ArgumentParser) -> None:
    """``--bbox``, ``--bbox-json``, ``--detector`` (BlazeFace by default,
    ``haar``, ``mmdet`` with ``--det-config``/``--det-checkpoint``) and
    the detectors' options."""
    group = parser.add_argument_group(
        f'face boxes (default: --detector {DEFAULT_DETECTOR})')
    exclusive = group.add_mutually_exclusive_group()
    exclusive.add_argument(
        '--bbox', nargs=4, type=float, action='append',
        metavar=('X1', 'Y1', 'X2', 'Y2'),
        help='a face box in image pixels (repeat for several faces)')
    exclusive.add_argument(
        '--bbox-json',
        help='boxes from a JSON file: a list of [x1, y1, x2, y2], a demo '
        'result, or a COCO/MMPose annotation file (matched by file name)')
    group.add_argument(
        '--detector', choices=DETECTOR_NAMES,
        help='the face detector: blazeface (default; MediaPipe BlazeFace, '
        'offline, frontal and large-pose faces; -short/-full/-back choose '
        'its model), haar (OpenCV\'s Haar cascade, frontal faces only) or '
        'mmdet (an MMDetection detector: --det-config, --det-checkpoint)')
    group.add_argument(
        '--det-config', help='an MMDetection face detector config (implies '
        '--detector mmdet)')
    group.add_argument('--det-checkpoint', help='its checkpoint')
    group.add_argument('--det-score-thr', type=float,
                       help='smallest detector score kept (default 0.5)')
    group.add_argument('--det-class', type=int, default=0,
                       help='the face class of the MMDetection detector')
    group.add_argument('--cascade', help='another OpenCV cascade XML file '
                       '(implies --detector haar)')


def detector_name(args: argparse.Namespace) -> str:
    """The ``--detector`` the options ask for (``--det-config`` implies
    ``mmdet``, ``--cascade`` ``haar``).

    Raises:
        ValueError: for options that contradict each other.
    """
    implied = [name for name, given in (('mmdet', args.det_config),
                                        ('haar', args.cascade)) if given]
    if len(implied) > 1:
        raise ValueError('--det-config (mmdet) and --cascade (haar) choose '
                         'different detectors: give one')
    name = args.detector or (implied[0] if implied else DEFAULT_DETECTOR)
    if implied and implied[0] != name:
        option = '--det-config' if implied[0] == 'mmdet' else '--cascade'
        raise ValueError(f'{option} is an option of --detector '
                         f'{implied[0]}, not of --detector {name}')
    if args.det_checkpoint and not args.det_config:
        raise ValueError('--det-checkpoint needs --det-config')
    if name == 'mmdet' and not (args.det_config and args.det_checkpoint):
        raise ValueError('--detector mmdet needs --det-config and '
                         '--det-checkpoint')
    return name


def box_source_from_args(args: argparse.Namespace,
                         device: str = 'cpu') -> BoxSource:
    """The :class:`BoxSource` the options of
    :func:`add_box_source_arguments` ask for."""
    if args.bbox or args.bbox_json:
        if (args.detector or args.det_config or args.det_checkpoint
                or args.cascade):
            raise ValueError('boxes given with --bbox/--bbox-json need no '
                             'detector: drop --detector/--det-config/'
                             '--cascade')
        if args.bbox:
            return BoxSource(bboxes=args.bbox)
        return BoxSource(bbox_json=args.bbox_json)
    name = detector_name(args)
    return BoxSource(detector=build_face_detector(
        args.det_config, args.det_checkpoint, args.cascade, device,
        args.det_score_thr, args.det_class, name=name))
