"""Checks of COCO-style face-landmark annotation files and their records.

MMPose's datasets trust their annotation files: a record with the wrong
number of points fails deep inside a transform, NaN coordinates train a NaN
model, and a record MMPose's own filter rejects (crowd, no labelled point,
empty box) or whose ``image_id`` is not among the images is dropped without a
word. The functions here check a file and each of its records up front and
raise :class:`AnnotationError`, whose message names the file, the record
(annotation id and image file) and the field. :class:`InvalidRecordPolicy`
either raises such an error or, when skipping is asked for, counts it per
reason and reports the counts, so nothing is dropped silently.

Used by :mod:`repformer_mmpose.datasets.face_datasets`.
"""
from __future__ import annotations

import json
import logging
import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import cv2
import numpy as np
from mmengine.fileio import exists, get, get_local_path
from mmengine.logging import print_log

# Reasons a record is invalid (``AnnotationError.reason``); the skip report
# counts records per reason.
MISSING_FIELD = 'missing field'
BAD_VALUE = 'bad value'
KEYPOINT_COUNT = 'wrong keypoint count'
NON_FINITE = 'non-finite value'
BAD_BOX = 'bad box'
BOX_OUTSIDE_IMAGE = 'box outside the image'
NO_IMAGE_ENTRY = 'no image entry'
IMAGE_FILE = 'missing or unreadable image'
REJECTED = 'rejected by MMPose filter'
#: File-level faults: they concern the whole file and are never skipped.
FILE = 'bad annotation file'

#: How many records per reason the skip report names.
REPORT_EXAMPLES = 3


class AnnotationError(ValueError):
    """A bad annotation file or record.

    Args:
        ann_file: The annotation file.
        record: Which record, e.g. ``'annotation id 3 (image a.jpg)'``, or
            ``'file'`` for the file as a whole.
        field: The field at fault, e.g. ``'keypoints'``.
        message: What is wrong with it.
        reason: One of this module's reason constants (the skip report
            counts records per reason).
    """

    def __init__(self, ann_file: str | os.PathLike, record: str, field: str,
                 message: str, reason: str = BAD_VALUE) -> None:
        self.ann_file = os.fspath(ann_file)
        self.record = record
        self.field = field
        self.message = message
        self.reason = reason
        super().__init__(
            f'{self.ann_file}: {record}: field {field!r}: {message}')


def describe_record(ann: dict, img: dict | None = None) -> str:
    """``'annotation id 3 (image a.jpg)'``: how errors name a record."""
    text = f'annotation id {ann.get("id", "?")}'
    if img and 'file_name' in img:
        text += f' (image {img["file_name"]})'
    elif 'image_id' in ann:
        text += f' (image id {ann["image_id"]})'
    return text


# ----------------------------------------------------------------------
# the file
# ----------------------------------------------------------------------
def load_annotation_file(ann_file: str) -> dict:
    """Read a COCO-style annotation file, with errors that name it.

    Raises:
        FileNotFoundError: The file does not exist.
        AnnotationError: The file is empty, is not JSON, or is not a dict
            with ``images`` and ``annotations`` lists holding at least one
            annotation.
    """
    if not exists(ann_file):
        raise FileNotFoundError(f'annotation file not found: {ann_file}')
    with get_local_path(ann_file) as local_path:
        with open(local_path, encoding='utf-8') as f:
            text = f.read()
    if not text.strip():
        raise AnnotationError(ann_file, 'file', 'file',
                              'the file is empty', FILE)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise AnnotationError(
            ann_file, 'file', 'file',
            f'not valid JSON: {err.msg} at line {err.lineno} column '
            f'{err.colno}', FILE) from None
    if not isinstance(data, dict):
        raise AnnotationError(ann_file, 'file', 'file',
                              f'expected a JSON object, got '
                              f'{type(data).__name__}', FILE)
    for key in ('images', 'annotations'):
        if not isinstance(data.get(key), list):
            raise AnnotationError(ann_file, 'file', key,
                                  'missing or not a list', FILE)
    if not data['annotations']:
        raise AnnotationError(ann_file, 'file', 'annotations',
                              'the file holds no annotation', FILE)
    return data


def _is_id(value: Any) -> bool:
    """COCO ids are integers (MMPose computes ``img_id % interval``)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_file_structure(
        data: dict, ann_file: str) -> list[tuple[int, AnnotationError]]:
    """Check ids and cross-references of a loaded annotation file.

    Duplicate image or annotation ids are file-level errors (raised): the
    COCO index keeps one record per id, so the other would vanish.

    Returns:
        ``(index, error)`` for each annotation the COCO index cannot hold: an
        ``image_id`` that names no image (MMPose walks the images, so it
        would never see the record) or, when the file has categories, no
        ``category_id``. The caller raises or skips them.

    Raises:
        AnnotationError: Entries that are not objects with integer ids,
            images without a ``file_name``, or duplicate ids.
    """
    categories = data.get('categories', [])
    if not isinstance(categories, list) or not all(
            isinstance(cat, dict) and _is_id(cat.get('id'))
            for cat in categories):
        raise AnnotationError(ann_file, 'file', 'categories',
                              'not a list of objects with an integer "id"',
                              FILE)
    image_ids = set()
    for index, img in enumerate(data['images']):
        if not isinstance(img, dict) or not _is_id(img.get('id')):
            raise AnnotationError(ann_file, f'images[{index}]', 'id',
                                  'not an object with an integer "id"',
                                  FILE)
        if not isinstance(img.get('file_name'), str) or \
                not img['file_name']:
            raise AnnotationError(ann_file, f'images[{index}]', 'file_name',
                                  'missing or not a non-empty string', FILE)
        if img['id'] in image_ids:
            raise AnnotationError(ann_file, f'images[{index}]', 'id',
                                  f'duplicate image id {img["id"]!r}', FILE)
        image_ids.add(img['id'])
    ann_ids = set()
    unindexable = []
    for index, ann in enumerate(data['annotations']):
        if not isinstance(ann, dict) or not _is_id(ann.get('id')):
            raise AnnotationError(ann_file, f'annotations[{index}]', 'id',
                                  'not an object with an integer "id"',
                                  FILE)
        if ann['id'] in ann_ids:
            raise AnnotationError(ann_file, describe_record(ann), 'id',
                                  f'duplicate annotation id {ann["id"]!r}',
                                  FILE)
        ann_ids.add(ann['id'])
        if not _is_id(ann.get('image_id')) or \
                ann['image_id'] not in image_ids:
            unindexable.append((index, AnnotationError(
                ann_file, describe_record(ann), 'image_id',
                f'no entry with id {ann.get("image_id")!r} in "images"',
                NO_IMAGE_ENTRY)))
        elif 'categories' in data and not _is_id(ann.get('category_id')):
            unindexable.append((index, AnnotationError(
                ann_file, describe_record(ann), 'category_id',
                'missing or not an integer', MISSING_FIELD)))
    return unindexable


# ----------------------------------------------------------------------
# one record
# ----------------------------------------------------------------------
def check_fields(ann: dict, img: dict, ann_fields: Iterable[str],
                 img_fields: Iterable[str], *, ann_file: str) -> None:
    """Raise if ``ann`` or its image entry lacks a field the parser reads."""
    for name in ann_fields:
        if name not in ann:
            raise AnnotationError(ann_file, describe_record(ann, img), name,
                                  'missing', MISSING_FIELD)
    for name in img_fields:
        if name not in img:
            raise AnnotationError(ann_file, describe_record(ann, img),
                                  f'images[id={img.get("id")}].{name}',
                                  'missing', MISSING_FIELD)


def finite_array(value: Any, length: int | None, *, ann_file: str,
                 record: str, field: str) -> np.ndarray:
    """``value`` as a float64 array of ``length`` finite numbers.

    Raises:
        AnnotationError: Not a flat list of numbers, the wrong length, or
            a NaN/inf entry (named by position).
    """
    values = value if isinstance(value, (list, tuple)) else [value]
    if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool)
            for v in values):
        raise AnnotationError(ann_file, record, field,
                              f'expected numbers, got {value!r:.80}',
                              BAD_VALUE)
    try:
        array = np.asarray(values, dtype=np.float64)
    except OverflowError:  # a JSON integer beyond float range
        raise AnnotationError(ann_file, record, field,
                              f'value out of float range in {value!r:.80}',
                              NON_FINITE) from None
    if length is not None and array.size != length:
        raise AnnotationError(ann_file, record, field,
                              f'{array.size} values, expected {length}',
                              BAD_VALUE)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise AnnotationError(
            ann_file, record, field,
            f'non-finite value {array[bad[0]]} at position {int(bad[0])}',
            NON_FINITE)
    return array


def check_keypoints(ann: dict, img: dict, num_keypoints: int, *,
                    ann_file: str) -> np.ndarray:
    """Check ``keypoints`` (``[x0, y0, v0, ...]``); return them ``(K, 3)``.

    Raises:
        AnnotationError: Not a list of numbers, a length other than
            ``3 * num_keypoints``, or a NaN/inf value (named by point).
    """
    record = describe_record(ann, img)
    value = ann['keypoints']
    if not isinstance(value, list) or len(value) % 3:
        size = len(value) if isinstance(value, list) else type(value)
        raise AnnotationError(
            ann_file, record, 'keypoints',
            f'expected a flat list [x0, y0, v0, x1, ...] of '
            f'{3 * num_keypoints} numbers, got {size}', KEYPOINT_COUNT)
    if len(value) != 3 * num_keypoints:
        raise AnnotationError(
            ann_file, record, 'keypoints',
            f'{len(value) // 3} points, the dataset has {num_keypoints}',
            KEYPOINT_COUNT)
    try:
        array = finite_array(value, None, ann_file=ann_file, record=record,
                             field='keypoints')
    except AnnotationError as err:
        if err.reason != NON_FINITE or 'float range' in err.message:
            raise
        flat = np.asarray(value, dtype=np.float64)
        pos = int(np.flatnonzero(~np.isfinite(flat))[0])
        raise AnnotationError(
            ann_file, record, 'keypoints',
            f'point {pos // 3} {"xyv"[pos % 3]} is {flat[pos]}',
            NON_FINITE) from None
    return array.reshape(num_keypoints, 3)


def xywh_to_xyxy(value: Any, *, ann_file: str, record: str,
                 field: str) -> np.ndarray:
    """A box field ``[x, y, w, h]`` as a ``(1, 4)`` float32 xyxy box.

    Raises:
        AnnotationError: Not 4 finite numbers, or ``w``/``h`` <= 0.
    """
    x, y, w, h = finite_array(value, 4, ann_file=ann_file, record=record,
                              field=field)
    if w <= 0 or h <= 0:
        raise AnnotationError(ann_file, record, field,
                              f'width/height not positive: {list(value)}',
                              BAD_BOX)
    return np.array([[x, y, x + w, y + h]], dtype=np.float32)


def check_center_scale(ann: dict, img: dict, *, ann_file: str) -> None:
    """``center`` 2 finite numbers, ``scale`` a finite number > 0."""
    record = describe_record(ann, img)
    finite_array(ann['center'], 2, ann_file=ann_file, record=record,
                 field='center')
    (scale, ) = finite_array(ann['scale'], 1, ann_file=ann_file,
                             record=record, field='scale')
    if scale <= 0:
        raise AnnotationError(ann_file, record, 'scale',
                              f'not positive: {scale}', BAD_BOX)


def image_size(img: dict) -> tuple[float, float] | None:
    """``(width, height)`` of an image entry, or None when not given."""
    width, height = img.get('width'), img.get('height')
    if all(isinstance(v, (int, float)) and not isinstance(v, bool)
           and math.isfinite(v) and v > 0 for v in (width, height)):
        return float(width), float(height)
    return None


def check_box_in_image(bbox: np.ndarray, ann: dict, img: dict, *,
                       ann_file: str, field: str) -> None:
    """The ``(1, 4)`` xyxy crop box must be finite, non-empty and overlap
    the image when the image entry gives ``width``/``height``.

    A face box may stick out of the image (faces at the border); a box
    that misses the image entirely is a wrong record.
    """
    record = describe_record(ann, img)
    x0, y0, x1, y1 = np.asarray(bbox, dtype=np.float64).reshape(4)
    if not np.isfinite([x0, y0, x1, y1]).all():
        raise AnnotationError(ann_file, record, field,
                              f'non-finite box {[x0, y0, x1, y1]}',
                              NON_FINITE)
    if x1 <= x0 or y1 <= y0:
        raise AnnotationError(ann_file, record, field,
                              f'empty box (x0, y0, x1, y1) = '
                              f'{[x0, y0, x1, y1]}', BAD_BOX)
    size = image_size(img)
    if size is None:
        return
    width, height = size
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        raise AnnotationError(
            ann_file, record, field,
            f'box (x0, y0, x1, y1) = {[round(v, 2) for v in (x0, y0, x1, y1)]}'
            f' lies outside the {width:g} x {height:g} image',
            BOX_OUTSIDE_IMAGE)


def check_image_file(path: str, ann: dict, img: dict, *, ann_file: str,
                     decode: bool = False) -> None:
    """The image file must exist (and, with ``decode``, decode to an image
    of the entry's ``width`` x ``height`` when those are given)."""
    record = describe_record(ann, img)
    if not exists(path):
        raise AnnotationError(ann_file, record, 'file_name',
                              f'image file not found: {path}', IMAGE_FILE)
    if not decode:
        return
    image = cv2.imdecode(np.frombuffer(get(path), np.uint8),
                         cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise AnnotationError(ann_file, record, 'file_name',
                              f'image file cannot be decoded: {path}',
                              IMAGE_FILE)
    size = image_size(img)
    if size is not None and (image.shape[1], image.shape[0]) != size:
        raise AnnotationError(
            ann_file, record, 'file_name',
            f'{path} is {image.shape[1]} x {image.shape[0]}, the image '
            f'entry says {size[0]:g} x {size[1]:g}', IMAGE_FILE)


def rejection_reason(data_info: dict) -> str:
    """Why MMPose's ``_is_valid_instance`` rejects a parsed record."""
    if data_info.get('iscrowd'):
        return 'iscrowd is set'
    if data_info.get('num_keypoints', 1) == 0:
        return 'num_keypoints is 0'
    bbox = data_info.get('bbox')
    if bbox is not None:
        w, h = bbox[0][2:4] - bbox[0][:2]
        if w <= 0 or h <= 0:
            return 'the box is empty'
    keypoints = data_info.get('keypoints')
    if keypoints is not None and np.max(keypoints) <= 0:
        return 'no keypoint coordinate is positive'
    return 'rejected by MMPose'


# ----------------------------------------------------------------------
# raise or skip
# ----------------------------------------------------------------------
class InvalidRecordPolicy:
    """Raise on an invalid record, or (``skip``) count it and go on.

    File-level errors (reason :data:`FILE`) are always raised.

    Args:
        skip: Skip invalid records instead of raising.
    """

    def __init__(self, skip: bool = False) -> None:
        self.skip = skip
        self.skipped: dict[str, list[AnnotationError]] = defaultdict(list)

    def handle(self, error: AnnotationError) -> None:
        """Raise ``error``, or record it when skipping."""
        if not self.skip or error.reason == FILE:
            raise error
        self.skipped[error.reason].append(error)

    def counts(self) -> Counter:
        """Number of skipped records per reason."""
        return Counter({k: len(v) for k, v in self.skipped.items()})

    def report(self, dataset: str, ann_file: str) -> str | None:
        """Log (mmengine ``print_log``, WARNING) how many records were
        skipped, per reason, with a few of them named; return the text, or
        None when nothing was skipped."""
        if not self.skipped:
            return None
        total = sum(len(v) for v in self.skipped.values())
        lines = [f'{dataset}: skipped {total} invalid record(s) of '
                 f'{ann_file} (skip_invalid=True):']
        for reason, errors in sorted(self.skipped.items()):
            lines.append(f'  {reason}: {len(errors)}')
            for err in errors[:REPORT_EXAMPLES]:
                lines.append(f'    {err.record}: field {err.field!r}: '
                             f'{err.message}')
            if len(errors) > REPORT_EXAMPLES:
                lines.append(f'    ... and {len(errors) - REPORT_EXAMPLES}'
                             ' more')
        text = '\n'.join(lines)
        print_log(text, logger='current', level=logging.WARNING)
        return text


__all__: Sequence[str] = [
    'AnnotationError', 'InvalidRecordPolicy', 'check_box_in_image',
    'check_center_scale', 'check_fields', 'check_file_structure',
    'check_image_file', 'check_keypoints', 'describe_record',
    'finite_array', 'image_size', 'load_annotation_file',
    'rejection_reason', 'xywh_to_xyxy'
]
