"""Checks of COCO-style face-landmark annotation files and their records.

MMPose's datasets trust their annotation files: a record with the wrong
number of points fails deep inside a transform, NaN coordinates train a NaN
model, coordinates x1e6 train with a loss of 1e5, and a record MMPose's own
filter rejects (crowd, no labelled point, empty box) or whose ``image_id``
is not among the images is dropped without a word. The functions here (and
in :mod:`.record_checks`, the checks of one record) check a file and each
of its records up front and raise :class:`AnnotationError`, whose message
names the file, the record (annotation id and image file) and the field.
:class:`InvalidRecordPolicy` either raises such an error or, when skipping
is asked for, counts it per reason and reports the counts, so nothing is
dropped silently.

Used by :mod:`repformer_mmpose.datasets.face_datasets`.
"""
from __future__ import annotations

import json
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from mmengine.fileio import exists, get_local_path
from mmengine.logging import print_log

# Reasons a record is invalid (``AnnotationError.reason``); the skip report
# counts records per reason.
MISSING_FIELD = 'missing field'
BAD_VALUE = 'bad value'
KEYPOINT_COUNT = 'wrong keypoint count'
NON_FINITE = 'non-finite value'
KEYPOINT_RANGE = 'value out of range'
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
        with open(local_path, 'rb') as f:
            raw = f.read()
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as err:  # e.g. saved as UTF-16
        raise AnnotationError(
            ann_file, 'file', 'file',
            f'not UTF-8 text, as JSON must be (byte {err.start}: '
            f'{raw[err.start:err.start + 2]!r}); save it as UTF-8',
            FILE) from None
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
    'AnnotationError', 'InvalidRecordPolicy', 'check_file_structure',
    'describe_record', 'load_annotation_file', 'rejection_reason'
]
