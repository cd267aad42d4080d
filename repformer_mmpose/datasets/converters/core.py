"""Shared core of the face-landmark converters (official release -> JSON).

Errors (:class:`ConversionError`, :class:`BadRecordPolicy`), value and image
checks, the box conventions and the JSON layout of the converters
(:mod:`.wflw`, :mod:`.face300w`, :mod:`.cofw`, :mod:`.aflw`, :mod:`.custom`).

Conventions of MMPose's released files, worked out numerically from the
files themselves (``tests/test_converters.py`` checks them against MMPose's
own test annotations):

* ``center`` / ``scale`` (WFLW, 300W): the landmark box rounded outwards to
  whole pixels, ``x0 = floor(min x)``, ``x1 = ceil(max x)`` (same for y);
  ``center = ((x0 + x1) / 2, (y0 + y1) / 2)`` and
  ``scale = max(x1 - x0, y1 - y0) / 200`` -- HRNet's convention, whose CSV
  files MMPose's JSON files were made from. AFLW uses its released box
  instead (see :mod:`.aflw`); COFW has no ``center``/``scale``.
* ``bbox`` (WFLW, 300W, AFLW): the tight landmark box grown by 10 % of its
  width/height on every side (x 1.2 about its centre), as
  ``[x0 - 0.1 w, y0 - 0.1 h, (x1 + 0.1 w) - (x0 - 0.1 w), ...]`` in that
  floating-point order (it reproduces MMPose's numbers to the last bit);
  ``area`` is the bbox width times height. MMPose's face datasets other
  than COFW crop with ``center``/``scale`` and ignore ``bbox``.
* ``iscrowd`` 0, ``category_id`` 1, ``num_keypoints`` = number of points;
  an image appears once in ``images`` and its ``id`` is the ``id`` of its
  first face.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import os.path as osp
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

import cv2
import numpy as np
from mmengine import fileio

from ..image_integrity import truncation_problem
from ..keypoint_range import (DEFAULT_KEYPOINT_MARGIN, MAX_ABS_COORDINATE,
                              image_box, point_outside)
from ...utils.atomic_write import atomic_open, atomic_path

#: The one category of all face-landmark files, as MMPose writes it.
FACE_CATEGORIES: list[dict[str, Any]] = [{
    'supercategory': 'person',
    'id': 1,
    'name': 'face',
    'keypoints': [],
    'skeleton': [],
}]

#: MMPose's ``pixel_std``: ``scale`` is a box side divided by this.
PIXEL_STD = 200.0

#: Largest magnitude accepted for a coordinate or box value, the data sets'
#: limit too (one definition: :mod:`..keypoint_range`).
MAX_ABS_VALUE = MAX_ABS_COORDINATE

#: Margin of MMPose's ``bbox`` on each side, as a fraction of the landmark
#: box's width/height (a box 1.2 times the landmark box).
BBOX_MARGIN = 0.1


class ConversionError(ValueError):
    """A bad record; its message names the source file, where in it
    (``'line 12'``, ``'index 3'``), the field and what is wrong."""

    def __init__(self, source: str | os.PathLike, location: str, field: str,
                 message: str) -> None:
        self.source = os.fspath(source)
        self.location = location
        self.field = field
        self.message = message
        super().__init__(
            f'{self.source}, {location}: field {field!r}: {message}')


class BadRecordPolicy:
    """What to do with a bad record: stop (default) or, with ``skip_bad``,
    report it on stderr, skip and count it."""

    def __init__(self, skip_bad: bool = False) -> None:
        self.skip_bad = skip_bad
        self.skipped: list[ConversionError] = []

    def handle(self, error: ConversionError) -> None:
        """Raise ``error``, or, when skipping, report and record it."""
        if not self.skip_bad:
            raise error
        self.skipped.append(error)
        print(f'skipping bad record: {error}', file=sys.stderr)

    def collect(self, records: list, make: Callable[..., Any],
                *args: Any) -> None:
        """Append ``make(*args)`` to ``records``, or handle its error."""
        try:
            records.append(make(*args))
        except ConversionError as err:
            self.handle(err)

    def report(self) -> None:
        """Print how many bad records were skipped (when skipping)."""
        if self.skip_bad:
            print(f'skipped {len(self.skipped)} bad record(s)')


def is_number(token: str) -> bool:
    """Whether ``token`` reads as a number (an image path does not)."""
    try:
        float(token)
    except ValueError:
        return False
    return True


def parse_float(token: str, *, source: str | os.PathLike, location: str,
                field: str) -> float:
    """Parse one number of a text annotation: finite and at most
    :data:`MAX_ABS_VALUE` in magnitude, or a ConversionError."""
    try:
        value = float(token)
    except ValueError:
        raise ConversionError(source, location, field,
                              f'non-numeric value {token!r}') from None
    if not math.isfinite(value):
        raise ConversionError(source, location, field,
                              f'non-finite value {token!r}')
    if abs(value) > MAX_ABS_VALUE:
        raise ConversionError(
            source, location, field,
            f'value {token!r} out of range (|value| > {MAX_ABS_VALUE:g})')
    return value


def check_finite(values: np.ndarray, *, source: str | os.PathLike,
                 location: str, field: str) -> np.ndarray:
    """``values`` of a MATLAB release as float64, or a ConversionError if
    any is NaN/inf, non-numeric or beyond :data:`MAX_ABS_VALUE`."""
    array = np.asarray(values)
    if not (np.issubdtype(array.dtype, np.number)
            or array.dtype == np.bool_):
        raise ConversionError(source, location, field,
                              f'non-numeric data of type {array.dtype}')
    array = array.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ConversionError(
            source, location, field,
            f'non-finite value {array.flat[bad[0]]!r} at position '
            f'{int(bad[0])}')
    big = np.flatnonzero(np.abs(array) > MAX_ABS_VALUE)
    if big.size:
        raise ConversionError(
            source, location, field,
            f'value {array.flat[big[0]]!r} at position {int(big[0])} out '
            f'of range (|value| > {MAX_ABS_VALUE:g})')
    return array


def mat_variable(mat: Any, name: str, source: str) -> np.ndarray:
    """A top-level variable of a MATLAB file (scipy or h5py) as an array."""
    if name not in mat:
        raise ConversionError(source, 'file', name, 'field missing')
    return np.asarray(mat[name])


class ImageSizeCache:
    """Checks that the images below ``image_root`` exist and decode,
    remembering their sizes."""

    def __init__(self, image_root: str | os.PathLike) -> None:
        self.image_root = os.fspath(image_root)
        self._sizes: dict[str, tuple[int, int]] = {}

    def size(self, rel_path: str, *, source: str | os.PathLike,
             location: str, field: str = 'image') -> tuple[int, int]:
        """``(height, width)`` of an image, decoded with OpenCV; a
        ConversionError if it is missing, truncated (a JPEG / PNG without
        its end marker, see :mod:`..image_integrity`) or undecodable."""
        if rel_path in self._sizes:
            return self._sizes[rel_path]
        path = osp.join(self.image_root, rel_path)
        if not osp.isfile(path):
            raise ConversionError(source, location, field,
                                  f'image file not found: {path}')
        data = fileio.get(path)
        problem = truncation_problem(data)
        if problem is not None:
            raise ConversionError(source, location, field,
                                  f'image {path}: {problem}')
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ConversionError(source, location, field,
                                  f'image cannot be read: {path}')
        hw = (int(image.shape[0]), int(image.shape[1]))
        self._sizes[rel_path] = hw
        return hw


def check_points_in_image(points: np.ndarray, height: float, width: float,
                          *, source: str | os.PathLike, location: str,
                          visible: np.ndarray | None = None,
                          field: str = 'keypoints',
                          names: Sequence[str] | None = None,
                          margin: float = DEFAULT_KEYPOINT_MARGIN,
                          option: str = '') -> None:
    """Raise a ConversionError for the first labelled point beyond
    ``margin`` x the image size: the data sets' rule
    (:mod:`..keypoint_range`), so that what a converter writes, a data set
    accepts.

    Args:
        points: ``(K, 2)`` x, y.
        visible: ``(K,)`` True for labelled points (default: all).
        field: The field the error names; with ``names``, the point's name.
        option: The command-line option that sets ``margin``, named in the
            message.
    """
    found = point_outside(points, image_box(width, height), margin,
                          f'the {width:g} x {height:g} image', visible)
    if found is None:
        return
    index, message = found
    if option:
        message += f'; {option} sets the margin'
    raise ConversionError(source, location,
                          names[index] if names else field, message)


def landmark_box(points: np.ndarray) -> tuple[float, float, float, float]:
    """Tight box ``(x0, y0, x1, y1)`` of ``(K, 2)`` points."""
    points = np.asarray(points, dtype=np.float64)
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def hrnet_center_scale(points: np.ndarray) -> tuple[list[float], float]:
    """``center`` and ``scale`` of MMPose's WFLW / 300W files (see the
    module docstring)."""
    x0, y0, x1, y1 = landmark_box(points)
    ix0, iy0 = math.floor(x0), math.floor(y0)
    ix1, iy1 = math.ceil(x1), math.ceil(y1)
    center = [(ix0 + ix1) / 2, (iy0 + iy1) / 2]
    scale = max(ix1 - ix0, iy1 - iy0) / PIXEL_STD
    return center, scale


def expanded_landmark_bbox(
        points: np.ndarray,
        margin: float = BBOX_MARGIN) -> tuple[list[float], float]:
    """MMPose's ``bbox`` (xywh) and ``area``: the landmark box grown by
    ``margin`` x its width/height on each side."""
    x0, y0, x1, y1 = landmark_box(points)
    w, h = x1 - x0, y1 - y0
    left, top = x0 - margin * w, y0 - margin * h
    right, bottom = x1 + margin * w, y1 + margin * h
    bbox = [left, top, right - left, bottom - top]
    return bbox, bbox[2] * bbox[3]


def scale_box_about_centre(x0: float, y0: float, x1: float, y1: float,
                           factor: float) -> list[float]:
    """Box ``(x0, y0, x1, y1)`` scaled by ``factor`` about its centre, as
    xywh: the ``crop_bbox`` of the paper's (PIPNet's) crop protocol."""
    # not mmpose.structures.bbox: its centre +- half size round-trip
    # changes the last bits of w and h
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = (x1 - x0) * factor, (y1 - y0) * factor
    return [cx - w / 2, cy - h / 2, w, h]


def flat_keypoints(points: np.ndarray,
                   visibility: Sequence[float] | float = 1) -> list[float]:
    """``(K, 2)`` points + visibility as ``[x0, y0, v0, x1, ...]``."""
    points = np.asarray(points, dtype=np.float64)
    if np.isscalar(visibility):
        visibility = [visibility] * len(points)
    flat: list[float] = []
    for (x, y), v in zip(points.tolist(), visibility):
        flat += [x, y, v]
    return flat


@dataclass
class FaceRecord:
    """One face, ready to be laid out as a COCO image + annotation.

    ``ann_id`` is fixed by the face's place in the official release, so
    skipping bad records renumbers nothing; ``file_name`` is relative to
    MMPose's ``data_prefix['img']``; ``center``/``scale`` are None for the
    data sets that crop with ``bbox``; ``extra`` holds further annotation
    fields (``box_size``, ``crop_bbox``, ...), in order.
    """

    ann_id: int
    file_name: str
    height: int
    width: int
    keypoints: list[float]  # [x0, y0, v0, x1, y1, v1, ...]
    bbox: list[float]  # [x, y, w, h]
    area: float
    center: list[float] | None = None
    scale: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_keypoints(self) -> int:
        """Number of points (all are labelled in these datasets)."""
        return len(self.keypoints) // 3

    def annotation(self, image_id: int) -> dict[str, Any]:
        """The COCO annotation, fields in the order MMPose's files use."""
        ann: dict[str, Any] = {
            'image_id': image_id,
            'id': self.ann_id,
            'keypoints': list(self.keypoints),
            'num_keypoints': self.num_keypoints,
            'bbox': [float(v) for v in self.bbox],
            'iscrowd': 0,
            'area': float(self.area),
            'category_id': 1,
        }
        if self.center is not None:
            ann['center'] = [float(v) for v in self.center]
        if self.scale is not None:
            ann['scale'] = float(self.scale)
        ann.update(self.extra)
        return ann


def labelled_face(points: np.ndarray, file_name: str, images: ImageSizeCache,
                  *, source: str, location: str, ann_id: int,
                  extra: dict[str, Any],
                  center_scale: tuple[list[float], float] | None = None
                  ) -> FaceRecord:
    """A WFLW / 300W / AFLW face: its image checked, all ``(K, 2)`` points
    labelled and within the image, MMPose's ``bbox``, HRNet's
    ``center``/``scale`` unless given."""
    height, width = images.size(file_name, source=source, location=location)
    check_points_in_image(points, height, width, source=source,
                          location=location)
    center, scale = center_scale or hrnet_center_scale(points)
    bbox, area = expanded_landmark_bbox(points)
    return FaceRecord(ann_id, file_name, height, width,
                      flat_keypoints(points, 1), bbox, area, center, scale,
                      extra)


def first_face_ids(records: Iterable[FaceRecord]) -> dict[str, int]:
    """Image ``id`` per file name: the ``id`` of the image's first face."""
    image_ids: dict[str, int] = {}
    for rec in records:
        image_ids.setdefault(rec.file_name, rec.ann_id)
    return image_ids


def build_coco(records: Sequence[FaceRecord],
               info: dict[str, Any] | None = None,
               image_ids: dict[str, int] | None = None) -> dict[str, Any]:
    """Lay records out as MMPose's COCO-style face-landmark JSON, each
    image once, in order of first appearance.

    Args:
        info: Optional ``info`` entry (COFW's files have one).
        image_ids: Image ``id`` per file name (default: the ``id`` of the
            image's first face here); a subset file passes its parent
            file's, so that an image has one id in both.

    Raises:
        ValueError: Two records share an annotation id.
    """
    if image_ids is None:
        image_ids = first_face_ids(records)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    listed: set[str] = set()
    seen_ids: set[int] = set()
    for rec in records:
        if rec.ann_id in seen_ids:
            raise ValueError(f'duplicate annotation id {rec.ann_id}')
        seen_ids.add(rec.ann_id)
        image_id = image_ids[rec.file_name]
        if rec.file_name not in listed:
            listed.add(rec.file_name)
            images.append({
                'id': image_id,
                'file_name': rec.file_name,
                'height': int(rec.height),
                'width': int(rec.width),
            })
        annotations.append(rec.annotation(image_id))
    coco: dict[str, Any] = {}
    if info is not None:
        coco['info'] = info
    coco['categories'] = json.loads(json.dumps(FACE_CATEGORIES))
    coco['images'] = images
    coco['annotations'] = annotations
    return coco


def write_json_atomic(obj: Any, path: str | os.PathLike) -> None:
    """Write JSON via a temporary file in the same folder + ``os.replace``:
    either the complete file appears at ``path`` or nothing changes."""
    with atomic_open(path, 'w', encoding='utf-8') as f:
        # allow_nan=False: never write NaN/Infinity, which standard
        # JSON readers refuse (the value checks should stop them first)
        json.dump(obj, f, ensure_ascii=False, allow_nan=False)


def write_image_atomic(image: np.ndarray, path: str | os.PathLike) -> None:
    """``cv2.imwrite`` via a temporary file + ``os.replace``; OSError if
    OpenCV cannot encode or write the image."""
    with atomic_path(path, keep_extension=True) as tmp:
        if not cv2.imwrite(tmp, image):
            raise OSError(f'cv2.imwrite failed for {os.fspath(path)}')


@dataclass
class SplitOutput:
    """One output file: its name, its records, its ``info`` and, for a
    subset file, the image ids of its parent file (see :func:`build_coco`).
    """

    file_name: str
    records: list[FaceRecord]
    info: dict[str, Any] | None = None
    image_ids: dict[str, int] | None = None


def write_outputs(outputs: Sequence[SplitOutput], out_dir: str | os.PathLike,
                  expected: dict[str, int] | None = None,
                  log: Callable[[str], None] = print,
                  policy: BadRecordPolicy | None = None) -> dict[str, int]:
    """Write each output atomically, log its counts and then ``policy``'s
    report; return the face count per file name.

    All records are built before this is called, so a bad record stops a
    conversion before any JSON file is written. ``expected`` holds the face
    counts of the full official release: a different count is pointed out,
    not refused (a partial release is converted as it is).
    """
    counts: dict[str, int] = {}
    for out in outputs:
        write_json_atomic(build_coco(out.records, out.info, out.image_ids),
                          osp.join(out_dir, out.file_name))
        counts[out.file_name] = len(out.records)
        line = (f'{out.file_name}: {len(out.records)} faces, '
                f'{len({r.file_name for r in out.records})} images')
        want = (expected or {}).get(out.file_name)
        if want is not None and want != len(out.records):
            line += f' (the full official release has {want})'
        log(line)
    if policy is not None:
        policy.report()
    return counts


def converter_parser(description: str, default_root: str, root_help: str,
                     out_dir_default: str = 'ROOT/annotations'
                     ) -> argparse.ArgumentParser:
    """The options every converter has: ``--root``, ``--out-dir`` and
    ``--skip-bad``; a converter adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        '--root',
        default=default_root,
        help=f'{root_help} (default: %(default)s)')
    parser.add_argument(
        '--out-dir', help=f'output folder (default: {out_dir_default})')
    parser.add_argument(
        '--skip-bad',
        action='store_true',
        help='report and skip bad records instead of stopping at the first')
    return parser


def run_cli(convert: Callable[[], Any]) -> int:
    """Run a conversion for a command-line tool; return its exit status: 1,
    with ``error: ...`` on stderr, for a bad record or missing input."""
    try:
        convert()
    except (ConversionError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0
