"""Checks of one record of a COCO-style face-landmark annotation file.

Each check raises :class:`~.validation.AnnotationError` naming the file, the
record (annotation id and image file) and the field: missing fields, point
counts, non-finite or out-of-range values (:mod:`.keypoint_range`: no value
beyond ``MAX_ABS_COORDINATE``, labelled points within a margin of the image
and of the crop box), empty boxes, boxes off the image, missing, undecodable
or truncated image files (:mod:`.image_integrity`).

Used by :mod:`repformer_mmpose.datasets.face_datasets`.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import cv2
import numpy as np
from mmengine.fileio import exists, get

from .image_integrity import decode_problem
from .keypoint_range import MAX_ABS_COORDINATE, image_box, point_outside
from .validation import (BAD_BOX, BAD_VALUE, BOX_OUTSIDE_IMAGE, IMAGE_FILE,
                         KEYPOINT_COUNT, KEYPOINT_RANGE, MISSING_FIELD,
                         NON_FINITE, AnnotationError, describe_record)


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


def _first_bad_value(array: np.ndarray, max_abs: float | None
                     ) -> tuple[int, str, str] | None:
    """``(position, description, reason)`` of the first NaN/inf value (or,
    with ``max_abs``, the first value beyond it in magnitude), or None."""
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        pos = int(bad[0])
        return pos, f'non-finite value {array[pos]}', NON_FINITE
    if max_abs is not None:
        big = np.flatnonzero(np.abs(array) > max_abs)
        if big.size:
            pos = int(big[0])
            return pos, (f'value {array[pos]:g} out of range (|value| > '
                         f'{max_abs:g})'), KEYPOINT_RANGE
    return None


def _number_array(value: Any, *, ann_file: str, record: str,
                  field: str) -> np.ndarray:
    """``value`` (a number or flat list of numbers) as a float64 array.

    Raises:
        AnnotationError: Not numbers, or an integer beyond float range.
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
    return array


def finite_array(value: Any, length: int | None, *, ann_file: str,
                 record: str, field: str,
                 max_abs: float | None = None) -> np.ndarray:
    """``value`` as a float64 array of ``length`` finite numbers.

    Args:
        max_abs: Largest magnitude accepted (default: any finite value).

    Raises:
        AnnotationError: Not a flat list of numbers, the wrong length, a
            NaN/inf entry or one beyond ``max_abs`` (named by position).
    """
    array = _number_array(value, ann_file=ann_file, record=record,
                          field=field)
    if length is not None and array.size != length:
        raise AnnotationError(ann_file, record, field,
                              f'{array.size} values, expected {length}',
                              BAD_VALUE)
    bad = _first_bad_value(array, max_abs)
    if bad is not None:
        pos, text, reason = bad
        raise AnnotationError(ann_file, record, field,
                              f'{text} at position {pos}', reason)
    return array


def check_keypoints(ann: dict, img: dict, num_keypoints: int, *,
                    ann_file: str) -> np.ndarray:
    """Check ``keypoints`` (``[x0, y0, v0, ...]``); return them ``(K, 3)``.

    Raises:
        AnnotationError: Not a list of numbers, a length other than
            ``3 * num_keypoints``, a NaN/inf value or one beyond
            :data:`~.keypoint_range.MAX_ABS_COORDINATE` (named by point).
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
    array = _number_array(value, ann_file=ann_file, record=record,
                          field='keypoints')
    bad = _first_bad_value(array, MAX_ABS_COORDINATE)
    if bad is not None:
        pos, text, reason = bad
        what = f'point {pos // 3} {"xyv"[pos % 3]}'
        message = (f'{what} is {array[pos]}' if reason == NON_FINITE else
                   f'{what}: {text}')
        raise AnnotationError(ann_file, record, 'keypoints', message, reason)
    return array.reshape(num_keypoints, 3)


def check_keypoint_range(keypoints: np.ndarray, box: np.ndarray, ann: dict,
                         img: dict, *, ann_file: str, box_field: str,
                         margin: float | None) -> None:
    """Labelled points (visibility > 0) must lie within ``margin`` x the
    image size of the image (when the entry gives ``width``/``height``) and
    within ``margin`` x the box size of the crop box (see
    :mod:`.keypoint_range`); ``margin`` None checks nothing.

    Args:
        keypoints: ``(K, 3)`` checked keypoints.
        box: The ``(1, 4)`` xyxy crop box, as the file gives it.
        box_field: The field the box comes from (named in the message).

    Raises:
        AnnotationError: A point beyond the margin (reason
            ``KEYPOINT_RANGE``).
    """
    if margin is None:
        return
    points, visible = keypoints[:, :2], keypoints[:, 2] > 0
    refs = []
    size = image_size(img)
    if size is not None:
        refs.append((image_box(*size), f'the {size[0]:g} x {size[1]:g} '
                     'image'))
    x0, y0, x1, y1 = np.asarray(box, dtype=np.float64).reshape(4)
    refs.append(((x0, y0, x1, y1),
                 f'the crop box ({box_field}) [{x0:.6g}, {y0:.6g}, '
                 f'{x1:.6g}, {y1:.6g}]'))
    for ref, what in refs:
        found = point_outside(points, ref, margin, what, visible)
        if found is not None:
            raise AnnotationError(
                ann_file, describe_record(ann, img), 'keypoints',
                f'{found[1]}; the dataset argument max_keypoint_margin '
                'sets the margin', KEYPOINT_RANGE)


def xywh_to_xyxy(value: Any, *, ann_file: str, record: str,
                 field: str) -> np.ndarray:
    """A box field ``[x, y, w, h]`` as a ``(1, 4)`` float32 xyxy box.

    Raises:
        AnnotationError: Not 4 finite numbers of at most
            ``MAX_ABS_COORDINATE`` in magnitude, or ``w``/``h`` <= 0.
    """
    x, y, w, h = finite_array(value, 4, ann_file=ann_file, record=record,
                              field=field, max_abs=MAX_ABS_COORDINATE)
    if w <= 0 or h <= 0:
        raise AnnotationError(ann_file, record, field,
                              f'width/height not positive: {list(value)}',
                              BAD_BOX)
    return np.array([[x, y, x + w, y + h]], dtype=np.float32)


def check_center_scale(ann: dict, img: dict, *, ann_file: str) -> None:
    """``center`` 2 finite numbers, ``scale`` a finite number > 0 (none
    beyond ``MAX_ABS_COORDINATE`` in magnitude)."""
    record = describe_record(ann, img)
    finite_array(ann['center'], 2, ann_file=ann_file, record=record,
                 field='center', max_abs=MAX_ABS_COORDINATE)
    (scale, ) = finite_array(ann['scale'], 1, ann_file=ann_file,
                             record=record, field='scale',
                             max_abs=MAX_ABS_COORDINATE)
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
    """The image file must exist (and, with ``decode``, be complete, i.e.
    not truncated, and decode to an image of the entry's ``width`` x
    ``height`` when those are given)."""
    record = describe_record(ann, img)
    if not exists(path):
        raise AnnotationError(ann_file, record, 'file_name',
                              f'image file not found: {path}', IMAGE_FILE)
    if not decode:
        return
    data = get(path)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    # OpenCV decodes a JPEG whose end is lost, filling it grey: Pillow
    # decodes it again, refusing truncated data
    problem = decode_problem(data)
    if image is None or image.size == 0:
        detail = '' if problem is None else f' ({problem})'
        raise AnnotationError(ann_file, record, 'file_name',
                              f'image file cannot be decoded: {path}'
                              f'{detail}', IMAGE_FILE)
    if problem is not None:
        raise AnnotationError(ann_file, record, 'file_name',
                              f'image file {path}: {problem}', IMAGE_FILE)
    size = image_size(img)
    if size is not None and (image.shape[1], image.shape[0]) != size:
        raise AnnotationError(
            ann_file, record, 'file_name',
            f'{path} is {image.shape[1]} x {image.shape[0]}, the image '
            f'entry says {size[0]:g} x {size[1]:g}', IMAGE_FILE)


__all__: Sequence[str] = [
    'check_box_in_image', 'check_center_scale', 'check_fields',
    'check_image_file', 'check_keypoint_range', 'check_keypoints',
    'finite_array', 'image_size', 'xywh_to_xyxy'
]
