"""Face-detector recall and end-to-end NME on an MMPose-format face set.

For every face of ``DATA_JSON`` and every ``--detector``: is it found, how
fast is the detector (one thread), and, with ``--config``/``--checkpoint``,
what NME does RePFormer reach from the detector's boxes against the
record's own (ground-truth) box. Prints a Markdown table (``--output``
also writes it)::

    python tools/analysis/detector_recall.py \\
        ../shared/data/300w-subset/test_common.json \\
        --detector blazeface haar --config CONFIG --checkpoint CHECKPOINT

Definitions:

* landmark box: the tight box of a face's visible ground-truth points;
* found: some detector box covers >= ``--coverage`` (70 %) of the
  landmark box's area and is narrower than ``--max-width`` (3) times
  it; each face takes the unused found box of highest IoU with its
  landmark box (one box per face);
* extra boxes: detector boxes matched to no face, per image (false
  detections, or faces the set does not annotate);
* NME: the project's (:func:`evaluate_faces`, as ``FaceLandmarkMetric``:
  inter-ocular, 36/45 on 300W). A face the detector misses has no
  detector-box NME: ``NME det`` is over the found faces only, ``NME GT``
  is over the same faces from the record's box, and ``ratio`` is their
  quotient; recall says how many faces were left out. The last row
  (``ground truth``) is every face from the record's box.

``--fit-mapping`` refits each detector's detector box -> landmark box
mapping on the set and prints the entries of
:data:`~repformer_mmpose.apis.detector_box_mapping.DETECTOR_BOX_MAPPINGS`
(one per network: ``--detector blazeface-short blazeface-full
blazeface-back haar`` on ``300w-subset/train.json``).
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import sys
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from repformer_mmpose.apis.detector_box_mapping import (
    KeypointBoxMapping, fit_box_mapping, fit_keypoint_box_mapping,
    landmark_square)
from repformer_mmpose.apis.face_detectors import (DETECTOR_NAMES,
                                                  build_face_detector)


@dataclass
class Face:
    """One annotated face: points in image pixels and the record's box."""

    keypoints: np.ndarray  # (K, 2)
    visible: np.ndarray  # (K,)
    gt_box: np.ndarray  # (4,) x1, y1, x2, y2, the record's convention
    box_size: float | None = None

    @property
    def landmark_box(self) -> np.ndarray:
        points = self.keypoints[self.visible > 0]
        return np.concatenate([points.min(0), points.max(0)])


@dataclass
class DetectorResult:
    """One detector on the whole set."""

    name: str
    faces: int = 0
    found: int = 0
    extra_boxes: int = 0
    images: int = 0
    seconds: float = 0.
    # image path -> (face index, box) of every found face
    matches: dict[str, list[tuple[int, np.ndarray]]] = field(
        default_factory=dict)
    # (unmapped box, its detector keypoints or None, face), to fit on
    raw_matches: list[tuple[np.ndarray, np.ndarray | None, Face]] = field(
        default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / max(self.faces, 1)


def record_box(ann: dict) -> np.ndarray:
    """The box MMPose's face data sets give the pipeline: the square of
    side ``scale * 200`` around ``center`` (300W, WFLW), else ``bbox``
    (``x, y, w, h``)."""
    if 'center' in ann and 'scale' in ann:
        centre = np.asarray(ann['center'], np.float64)
        half = float(np.max(ann['scale'])) * 100.
        return np.concatenate([centre - half, centre + half])
    x, y, w, h = (float(v) for v in ann['bbox'])
    return np.array([x, y, x + w, y + h])


def resolve_image(data_root: str, file_name: str) -> str:
    """``data_root/images/<file>`` (MMPose's face layout) or
    ``data_root/<file>``."""
    for candidate in (osp.join(data_root, 'images', file_name),
                      osp.join(data_root, file_name)):
        if osp.isfile(candidate):
            return candidate
    raise FileNotFoundError(f'image {file_name} not found under {data_root}'
                            ' (nor its images/ folder)')


def load_face_set(data_json: str, data_root: str | None = None,
                  image_prefix: str | None = None) -> dict[str, list[Face]]:
    """``{image path: faces}`` of an MMPose/COCO face annotation file, in
    file order; ``image_prefix`` keeps the images whose file name starts
    with it (e.g. ``afw`` for the AFW faces of 300W's training set)."""
    with open(data_json) as f:
        content = json.load(f)
    root = data_root or osp.dirname(osp.abspath(data_json))
    names = {image['id']: image['file_name'] for image in content['images']}
    faces: dict[str, list[Face]] = {}
    for ann in content['annotations']:
        name = names[ann['image_id']]
        if image_prefix and not osp.basename(name).startswith(image_prefix):
            continue
        points = np.asarray(ann['keypoints'], np.float64).reshape(-1, 3)
        visible = np.minimum(1, points[:, 2])
        if not visible.any():
            continue
        path = resolve_image(root, name)
        faces.setdefault(path, []).append(
            Face(points[:, :2], visible, record_box(ann),
                 ann.get('box_size')))
    if not faces:
        raise ValueError(f'{data_json}: no face with a visible point'
                         + (f' in images named {image_prefix}*'
                            if image_prefix else ''))
    return faces


def covers(box: np.ndarray, landmark_box: np.ndarray, coverage: float = 0.7,
           max_width: float = 3.) -> bool:
    """Whether ``box`` finds the face of ``landmark_box`` (both ``x1, y1,
    x2, y2``): it covers ``>= coverage`` of its area and is narrower than
    ``max_width`` times it."""
    inter_w = min(box[2], landmark_box[2]) - max(box[0], landmark_box[0])
    inter_h = min(box[3], landmark_box[3]) - max(box[1], landmark_box[1])
    width = landmark_box[2] - landmark_box[0]
    area = width * (landmark_box[3] - landmark_box[1])
    return (max(inter_w, 0) * max(inter_h, 0) >= coverage * area
            and box[2] - box[0] < max_width * width)


def iou(first: np.ndarray, second: np.ndarray) -> float:
    """IoU of two ``x1, y1, x2, y2`` boxes."""
    inter = max(min(first[2], second[2]) - max(first[0], second[0]), 0) * \
        max(min(first[3], second[3]) - max(first[1], second[1]), 0)
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in (first, second)]
    return inter / (sum(areas) - inter) if sum(areas) > inter else 0.


def match_faces(boxes: np.ndarray, faces: list[Face], coverage: float = 0.7,
                max_width: float = 3.) -> list[int]:
    """For each face, the index of its box (``-1``: not found): greedy by
    IoU with the landmark box, among the boxes that find it, one box per
    face."""
    pairs = [(iou(box, face.landmark_box), f, b)
             for f, face in enumerate(faces) for b, box in enumerate(boxes)
             if covers(box, face.landmark_box, coverage, max_width)]
    matched, used = [-1] * len(faces), set()
    for _, f, b in sorted(pairs, key=lambda p: -p[0]):
        if matched[f] < 0 and b not in used:
            matched[f] = b
            used.add(b)
    return matched


def evaluate_detector(name: str, face_set: dict[str, list[Face]],
                      coverage: float = 0.7, max_width: float = 3.,
                      keep_raw: bool = False) -> DetectorResult:
    """Recall, speed and the matched boxes of one detector
    (``keep_raw``: also its unmapped boxes, to fit a mapping on)."""
    mapped = build_face_detector(name=name)
    raw = None
    if keep_raw:
        raw = build_face_detector(name=name, box_mapping=False) \
            if getattr(mapped, 'box_mapping', None) else mapped
    result = DetectorResult(getattr(mapped, 'name', name))
    for path, faces in face_set.items():
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f'cannot read image {path}')
        start = time.perf_counter()
        boxes = mapped.detect(image)
        result.seconds += time.perf_counter() - start
        result.images += 1
        result.faces += len(faces)
        matched = match_faces(boxes, faces, coverage, max_width)
        found = [(f, boxes[b]) for f, b in enumerate(matched) if b >= 0]
        result.found += len(found)
        result.extra_boxes += len(boxes) - len(found)
        if found:
            result.matches[path] = found
        if raw is None:
            continue
        raw_boxes, keypoints = raw.detect_raw(image) if hasattr(
            raw, 'detect_raw') else (raw.detect(image), None)
        for f, b in enumerate(match_faces(raw_boxes, faces, coverage,
                                          max_width)):
            if b >= 0:
                result.raw_matches.append(
                    (raw_boxes[b], None if keypoints is None else
                     keypoints[b], faces[f]))
    return result


def fitted_mapping(result: DetectorResult):
    """The mapping fitted on a detector's unmapped matched boxes: a
    :class:`KeypointBoxMapping` where the detector gives keypoints, else a
    :class:`BoxMapping`."""
    boxes = np.array([box[:4] for box, _, _ in result.raw_matches])
    squares = [landmark_square(face.keypoints[face.visible > 0])
               for _, _, face in result.raw_matches]
    centres = np.array([c for c, _ in squares])
    sides = np.array([s for _, s in squares])
    if result.raw_matches and result.raw_matches[0][1] is not None:
        keypoints = np.array([k for _, k, _ in result.raw_matches])
        return fit_keypoint_box_mapping(boxes, keypoints, centres, sides)
    return fit_box_mapping(boxes, centres, sides)


def mapping_source(key: str, mapping) -> str:
    """A :data:`DETECTOR_BOX_MAPPINGS` entry, as Python source."""
    if not isinstance(mapping, KeypointBoxMapping):
        return f'    {key!r}: {mapping!r},'
    rows = ',\n'.join(f'        ({", ".join(f"{w:.5f}" for w in row)})'
                       for row in mapping.weights)
    return f'    {key!r}: KeypointBoxMapping(weights=(\n{rows})),'


class NMEEvaluator:
    """RePFormer from given boxes, scored as ``FaceLandmarkMetric``."""

    def __init__(self, config: str, checkpoint: str,
                 device: str = 'cpu') -> None:
        from repformer_mmpose.apis.inference import predict_landmarks
        from repformer_mmpose.apis.model import init_face_model
        self.model = init_face_model(config, checkpoint, device)
        self.predict = predict_landmarks
        self.dataset_name = self.model.dataset_meta.get('dataset_name')

    def results(self, face_set: dict[str, list[Face]],
                boxes: dict[str, list[tuple[int, np.ndarray]]]) -> dict:
        """``{(image, face index): FaceResult}`` from ``boxes``."""
        from repformer_mmpose.evaluation.face_results import (FaceResult,
                                                              face_norm)
        out = {}
        for path, pairs in boxes.items():
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            predicted = self.predict(self.model, image,
                                     np.array([box for _, box in pairs]))
            for (index, _), landmarks in zip(pairs, predicted):
                face = face_set[path][index]
                sample = dict(img_path=path, gt_instances=dict(
                    keypoints=face.keypoints[None], bboxes=face.gt_box[None]))
                if face.box_size is not None:
                    sample['box_size'] = face.box_size
                norm, source = face_norm(sample, 'auto',
                                         dataset_name=self.dataset_name)
                out[path, index] = FaceResult(
                    path, landmarks.keypoints.astype(np.float64),
                    face.keypoints, face.visible, norm, source)
        return out

    def nme(self, results: dict, keys) -> float:
        from repformer_mmpose.evaluation.face_results import evaluate_faces
        return evaluate_faces([results[key] for key in keys]).full.nme


def gt_boxes(face_set: dict[str, list[Face]]
             ) -> dict[str, list[tuple[int, np.ndarray]]]:
    return {path: [(i, face.gt_box) for i, face in enumerate(faces)]
            for path, faces in face_set.items()}


def table(results: list[DetectorResult], nmes: dict | None) -> str:
    """The Markdown table (NME in %)."""
    head = ('| detector | faces | found | recall (%) | extra boxes / image '
            '| images / s (1 thread) |')
    rule = '| --- | ---: | ---: | ---: | ---: | ---: |'
    if nmes is not None:
        head += ' NME det (%) | NME GT, same faces (%) | ratio |'
        rule += ' ---: | ---: | ---: |'
    lines = [head, rule]
    for result in results:
        line = (f'| {result.name} | {result.faces} | {result.found} | '
                f'{100 * result.recall:.1f} | '
                f'{result.extra_boxes / max(result.images, 1):.2f} | '
                f'{result.images / max(result.seconds, 1e-9):.1f} |')
        if nmes is not None:
            det, gt = nmes[result.name]
            line += f' {100 * det:.2f} | {100 * gt:.2f} | {det / gt:.3f} |'
        lines.append(line)
    if nmes is not None:
        faces = results[0].faces if results else 0
        lines.append(f'| ground truth (record box) | {faces} | {faces} | '
                     f'100.0 | - | - | - | {100 * nmes["ground truth"]:.2f}'
                     ' | 1.000 |')
    return '\n'.join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='face-detector recall and end-to-end NME')
    parser.add_argument('data_json', help='MMPose-format face annotations')
    parser.add_argument('--data-root', help='folder of the images (or of '
                        'their images/ folder); default: the JSON\'s')
    parser.add_argument('--image-prefix',
                        help='only images whose file name starts with this '
                        '(e.g. afw)')
    parser.add_argument('--detector', nargs='+', default=['blazeface'],
                        choices=[n for n in DETECTOR_NAMES if n != 'mmdet'],
                        help='detectors to compare')
    parser.add_argument('--config', help='RePFormer config (for the NME)')
    parser.add_argument('--checkpoint', help='its checkpoint')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--coverage', type=float, default=0.7)
    parser.add_argument('--max-width', type=float, default=3.)
    parser.add_argument('--threads', type=int, default=1,
                        help='OpenCV and torch threads (timings: 1)')
    parser.add_argument('--fit-mapping', action='store_true',
                        help='fit and print each detector\'s box mapping')
    parser.add_argument('--output', help='also write the table here')
    args = parser.parse_args(argv)
    if (args.config is None) != (args.checkpoint is None):
        parser.error('--config and --checkpoint go together')
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.time()
    cv2.setNumThreads(args.threads)
    face_set = load_face_set(args.data_json, args.data_root,
                             args.image_prefix)
    evaluator = None
    if args.config:  # first: a config that does not fit fails at once
        import torch
        torch.set_num_threads(args.threads)
        evaluator = NMEEvaluator(args.config, args.checkpoint, args.device)
    results = []
    for name in args.detector:
        results.append(evaluate_detector(name, face_set, args.coverage,
                                         args.max_width, args.fit_mapping))
        if args.fit_mapping:
            print(f'# {name}: fitted on {len(results[-1].raw_matches)} '
                  'faces\n' + mapping_source(results[-1].name,
                                             fitted_mapping(results[-1])))
    nmes = None
    if evaluator is not None:
        truth = evaluator.results(face_set, gt_boxes(face_set))
        nmes = {'ground truth': evaluator.nme(truth, list(truth))}
        for result in results:
            found = evaluator.results(face_set, result.matches)
            nmes[result.name] = (evaluator.nme(found, list(found)),
                                 evaluator.nme(truth, list(found)))
    text = table(results, nmes)
    print(text)
    print(f'\n{args.data_json}'
          + (f' (images {args.image_prefix}*)' if args.image_prefix else '')
          + f': {time.time() - start:.0f} s wall, {args.threads} thread(s)')
    if args.output:
        with open(args.output, 'w') as f:
            f.write(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
