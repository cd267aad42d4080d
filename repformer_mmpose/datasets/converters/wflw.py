"""WFLW (98 points) -> MMPose's ``face_landmarks_wflw_*.json``.

Input, the official release::

    WFLW_annotations/list_98pt_rect_attr_train_test/
        list_98pt_rect_attr_train.txt   (7500 faces)
        list_98pt_rect_attr_test.txt    (2500 faces)
    WFLW_images/<event folder>/<image>.jpg

Each line holds 196 coordinates (x0 y0 x1 y1 ... of the 98 points), the
official face rectangle ``x_min y_min x_max y_max``, six 0/1 attribute flags
(pose, expression, illumination, make-up, occlusion, blur) and the image path
relative to ``WFLW_images/``.

Output: ``face_landmarks_wflw_train.json``, ``face_landmarks_wflw_test.json``
and the six test subsets ``face_landmarks_wflw_test_{largepose, expression,
illumination, makeup, occlusion, blur}.json`` (the test faces whose flag is
1; faces and images keep their test-set ids).

Record fields (MMPose's conventions, see :mod:`.core`): keypoints with
visibility 1; ``center``/``scale`` from the landmark box rounded outwards;
``bbox`` the landmark box x 1.2 (MMPose's WFLW boxes are landmark boxes, not
the official rectangle); ``id`` the 0-based index of the face in its list
file, ``image_id`` the id of the image's first face. Extra fields:

* ``crop_bbox`` (xywh) -- ``crop_bbox_source``: the official rectangle
  scaled x 1.2 about its centre, the box PIPNet crops WFLW faces with
  (PIPNet then clips it to the image; the unclipped box is stored).
* ``attributes``: the six flags by name.

One known difference: MMPose's own WFLW test annotations give face 40 (in
``7_Cheering_Cheering_7_16.jpg``, 1024 pixels high) a ``bbox`` that ends at
y = 768 though the face reaches y = 842 -- cut at a wrong image height
upstream. Its ``center``/``scale`` (what ``WFLWDataset`` uses) agree with the
convention here; the ``bbox`` written here is the uncut landmark box x 1.2.
"""
from __future__ import annotations

import os
import os.path as osp
from collections.abc import Sequence

import numpy as np

from .core import (BadRecordPolicy, ConversionError, FaceRecord,
                   ImageSizeCache, SplitOutput, converter_parser,
                   first_face_ids, is_number, labelled_face, parse_float,
                   run_cli, scale_box_about_centre, write_outputs)

NUM_POINTS = 98
ATTRIBUTES = ('pose', 'expression', 'illumination', 'makeup', 'occlusion',
              'blur')
#: Output file suffix of each attribute's test subset.
SUBSET_NAMES = {a: 'largepose' if a == 'pose' else a for a in ATTRIBUTES}
CROP_FACTOR = 1.2
LIST_DIR = 'list_98pt_rect_attr_train_test'
EXPECTED_COUNTS = {
    'face_landmarks_wflw_train.json': 7500,
    'face_landmarks_wflw_test.json': 2500,
    'face_landmarks_wflw_test_largepose.json': 326,
    'face_landmarks_wflw_test_expression.json': 314,
    'face_landmarks_wflw_test_illumination.json': 698,
    'face_landmarks_wflw_test_makeup.json': 206,
    'face_landmarks_wflw_test_occlusion.json': 736,
    'face_landmarks_wflw_test_blur.json': 773,
}


def parse_line(line: str, source: str, line_no: int, ann_id: int,
               images: ImageSizeCache) -> FaceRecord:
    """One line of a WFLW list file as a :class:`FaceRecord`."""
    loc = f'line {line_no}'
    tokens = line.split()
    n_tail = 4 + len(ATTRIBUTES) + 1
    if tokens and is_number(tokens[-1]):
        raise ConversionError(
            source, loc, 'image',
            f'no image path: the line ends with the number {tokens[-1]!r} '
            '(the image path, relative to WFLW_images, must be its last '
            f'field; {len(tokens)} fields, expected '
            f'{2 * NUM_POINTS + n_tail})')
    if len(tokens) <= n_tail:
        raise ConversionError(
            source, loc, 'line',
            f'{len(tokens)} fields, expected {2 * NUM_POINTS + n_tail}')
    coords = tokens[:-n_tail]
    if len(coords) != 2 * NUM_POINTS:
        raise ConversionError(
            source, loc, 'keypoints',
            f'{len(coords)} coordinates, expected {2 * NUM_POINTS} '
            f'({NUM_POINTS} points)')
    values = [
        parse_float(tok, source=source, location=loc,
                    field=f'keypoints[{i}] (point {i // 2} '
                    f'{"xy"[i % 2]})') for i, tok in enumerate(coords)
    ]
    points = np.array(values, dtype=np.float64).reshape(NUM_POINTS, 2)
    rect_tokens = tokens[-n_tail:-n_tail + 4]
    rect = [
        parse_float(tok, source=source, location=loc, field=f'rect {name}')
        for tok, name in zip(rect_tokens,
                             ('x_min', 'y_min', 'x_max', 'y_max'))
    ]
    if rect[2] < rect[0] or rect[3] < rect[1]:
        raise ConversionError(source, loc, 'rect',
                              f'max below min: {rect_tokens}')
    attributes = {}
    for tok, name in zip(tokens[-1 - len(ATTRIBUTES):-1], ATTRIBUTES):
        if tok not in ('0', '1'):
            raise ConversionError(source, loc, f'attribute {name}',
                                  f'expected 0 or 1, got {tok!r}')
        attributes[name] = int(tok)
    return labelled_face(
        points, tokens[-1], images, source=source, location=loc,
        ann_id=ann_id,
        extra={'crop_bbox': scale_box_about_centre(*rect, CROP_FACTOR),
               'attributes': attributes})


def read_list(path: str, images: ImageSizeCache,
              policy: BadRecordPolicy) -> list[FaceRecord]:
    """All faces of one list file; ids are 0-based face indices."""
    records = []
    ann_id = 0
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, start=1):
            if line.strip():
                policy.collect(records, parse_line, line, path, line_no,
                               ann_id, images)
                ann_id += 1
    return records


def convert_wflw(ann_dir: str | os.PathLike,
                 image_root: str | os.PathLike,
                 out_dir: str | os.PathLike,
                 skip_bad: bool = False) -> dict[str, int]:
    """Convert the official WFLW release; return the face count per file.

    ``ann_dir`` is ``WFLW_annotations`` (or the folder of the two list
    files), ``image_root`` ``WFLW_images``. A bad record raises a
    ConversionError before any file is written, unless ``skip_bad``
    reports and skips it; a missing list file, FileNotFoundError.
    """
    ann_dir = os.fspath(ann_dir)
    if osp.isdir(osp.join(ann_dir, LIST_DIR)):
        ann_dir = osp.join(ann_dir, LIST_DIR)
    policy = BadRecordPolicy(skip_bad)
    images = ImageSizeCache(image_root)
    splits = {}
    for split in ('train', 'test'):
        path = osp.join(ann_dir, f'list_98pt_rect_attr_{split}.txt')
        if not osp.isfile(path):
            raise FileNotFoundError(f'WFLW list file not found: {path}')
        splits[split] = read_list(path, images, policy)
    outputs = [
        SplitOutput(f'face_landmarks_wflw_{split}.json', records)
        for split, records in splits.items()
    ]
    test_image_ids = first_face_ids(splits['test'])
    for attr in ATTRIBUTES:
        outputs.append(SplitOutput(
            f'face_landmarks_wflw_test_{SUBSET_NAMES[attr]}.json',
            [r for r in splits['test'] if r.extra['attributes'][attr]],
            image_ids=test_image_ids))
    return write_outputs(outputs, out_dir, EXPECTED_COUNTS, policy=policy)


def main(argv: Sequence[str] | None = None) -> int:
    """``tools/dataset_converters/wflw2coco.py``; returns the exit status."""
    parser = converter_parser(
        'Convert the official WFLW release to MMPose JSON.', 'data/wflw',
        'folder holding WFLW_annotations/ and WFLW_images/')
    parser.add_argument(
        '--ann-dir', help='annotation folder (default: ROOT/WFLW_annotations)')
    parser.add_argument(
        '--image-root', help='image folder (default: ROOT/WFLW_images)')
    args = parser.parse_args(argv)
    return run_cli(lambda: convert_wflw(
        args.ann_dir or osp.join(args.root, 'WFLW_annotations'),
        args.image_root or osp.join(args.root, 'WFLW_images'),
        args.out_dir or osp.join(args.root, 'annotations'),
        skip_bad=args.skip_bad))
