"""COFW (29 points) -> MMPose's ``cofw_train.json`` / ``cofw_test.json``.

Input, the official colour release (MATLAB v7.3 files, i.e. HDF5, read with
h5py)::

    COFW_train_color.mat   IsTr, phisTr, bboxesTr   (1345 faces)
    COFW_test_color.mat    IsT,  phisT,  bboxesT    (507 faces)

``Is*`` is a cell array of images (uint8, H x W x 3 RGB or H x W grey),
``phis*`` has one row per face: 29 x, 29 y (1-based MATLAB pixels), 29
occlusion flags (1 = occluded); ``bboxes*`` one ``[x y w h]`` row per face.
HDF5 stores MATLAB arrays transposed, so in the file ``phis*`` is 87 x N,
``bboxes*`` 4 x N and ``Is*`` 1 x N object references.

Output, as MMPose's ``parse_cofw_dataset.py`` lays it out (and as MMPose's
own COFW annotations are): each face's image is written to
``IMAGE_DIR/{id:06d}.jpg`` (BGR, re-encoded); ``id`` = ``image_id`` counts
from 1 over the train faces and then on over the test faces (the first test
face is 1346); keypoints are shifted to 0-based pixels (minus 1) with
visibility ``2 - occluded`` (2 visible, 1 occluded); ``bbox`` is the released
box, ``area`` its ``w * h``; negative coordinates are clamped to 0; no
``center``/``scale`` (``COFWDataset`` crops with ``bbox``).

Extra field ``keypoints_occluded``: COFW's occlusion flags (1 = occluded),
one per point, as SynthFace writes them (MMPose ignores the field; the
uncertainty metrics of ``FaceLandmarkMetric`` read it).

Extra field ``crop_bbox`` (xywh) -- ``crop_bbox_source``: the released box,
the box PIPNet crops COFW faces with, moved by -1 into the 0-based frame of
the keypoints (PIPNet uses 1-based points and box together; the box keeps
its place relative to the face) and not clamped.
"""
from __future__ import annotations

import os
import os.path as osp
import time
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from .core import (BadRecordPolicy, ConversionError, FaceRecord,
                   SplitOutput, check_finite, check_points_in_image,
                   converter_parser, flat_keypoints, mat_variable, run_cli,
                   write_image_atomic, write_outputs)

NUM_POINTS = 29
#: (mat file, image field, points field, box field, output file)
SPLITS = (
    ('COFW_train_color.mat', 'IsTr', 'phisTr', 'bboxesTr', 'cofw_train.json'),
    ('COFW_test_color.mat', 'IsT', 'phisT', 'bboxesT', 'cofw_test.json'),
)
EXPECTED_COUNTS = {'cofw_train.json': 1345, 'cofw_test.json': 507}


def _columns(mat: Any, name: str, rows: int, source: str) -> np.ndarray:
    """A numeric MATLAB N x rows matrix of a v7.3 file, as rows x N."""
    array = mat_variable(mat, name, source)
    if array.ndim != 2 or rows not in array.shape:
        raise ConversionError(
            source, 'file', name,
            f'shape {array.shape} has no axis of {rows} values per face')
    if array.shape[0] != rows:  # stored untransposed (not MATLAB's way)
        array = array.T
    return array


def _image(mat: Any, ref: Any, source: str, location: str,
           field: str) -> np.ndarray:
    """Dereference one image of a cell array; return it H x W (x 3) BGR."""
    try:
        data = np.asarray(mat[ref])
    except Exception as err:  # a broken or null reference
        raise ConversionError(source, location, field,
                              f'unreadable image reference: {err}') from None
    if data.ndim == 3 and data.shape[0] in (1, 3):
        image = np.ascontiguousarray(data.transpose(2, 1, 0))
        if image.shape[2] == 1:
            image = image[:, :, 0]
        else:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif data.ndim == 2:
        image = np.ascontiguousarray(data.T)
    else:
        raise ConversionError(source, location, field,
                              f'not an image: array of shape {data.shape}')
    if image.dtype != np.uint8 or min(image.shape[:2]) == 0:
        raise ConversionError(
            source, location, field,
            f'not an 8-bit image: {image.dtype} {image.shape}')
    return image


def read_split(path: str, image_field: str, pts_field: str, box_field: str,
               image_dir: str, first_id: int,
               policy: BadRecordPolicy) -> tuple[list[FaceRecord], int]:
    """Faces of one .mat file; returns them and the number of faces read.

    Face ``i`` (0-based) gets ``id = first_id + i`` whether or not it is
    skipped, so ids never depend on skipped records.
    """
    import h5py  # only COFW needs it

    with h5py.File(path, 'r') as mat:
        phis = _columns(mat, pts_field, 3 * NUM_POINTS, path)
        boxes = _columns(mat, box_field, 4, path)
        refs = mat_variable(mat, image_field, path).reshape(-1)
        num = phis.shape[1]
        if boxes.shape[1] != num or refs.size != num:
            raise ConversionError(
                path, 'file', image_field,
                f'{refs.size} images, {boxes.shape[1]} boxes and {num} '
                'point sets: counts differ')
        records = []
        for idx in range(num):
            policy.collect(records, _make_record, mat, refs[idx],
                           phis[:, idx], boxes[:, idx], path,
                           f'index {idx} (MATLAB {idx + 1})', image_field,
                           pts_field, box_field, image_dir, first_id + idx)
    return records, num


def _make_record(mat: Any, ref: Any, phis: np.ndarray, box: np.ndarray,
                 source: str, loc: str, image_field: str, pts_field: str,
                 box_field: str, image_dir: str, ann_id: int) -> FaceRecord:
    """One COFW face as a :class:`FaceRecord`, its image written out."""
    phis = check_finite(phis, source=source, location=loc, field=pts_field)
    box = check_finite(box, source=source, location=loc, field=box_field)
    occluded = phis[2 * NUM_POINTS:]
    if not np.isin(occluded, (0, 1)).all():
        raise ConversionError(source, loc, pts_field,
                              'occlusion flags (values 59-87) not 0/1')
    if box[2] <= 0 or box[3] <= 0:
        raise ConversionError(source, loc, box_field,
                              f'non-positive width/height: {box.tolist()}')
    image = _image(mat, ref, source, loc, image_field)

    points = phis[:2 * NUM_POINTS].reshape(2, NUM_POINTS).T - 1
    points[points < 0] = 0
    check_points_in_image(points, image.shape[0], image.shape[1],
                          source=source, location=loc, field=pts_field)
    bbox = box.copy()
    bbox[bbox < 0] = 0
    file_name = f'{ann_id:06d}.jpg'
    path = osp.join(image_dir, file_name)
    write_image_atomic(image, path)
    if cv2.imread(path) is None:
        raise ConversionError(source, loc, image_field,
                              f'written image cannot be read: {path}')
    x, y, w, h = box.tolist()
    return FaceRecord(
        ann_id=ann_id,
        file_name=file_name,
        height=int(image.shape[0]),
        width=int(image.shape[1]),
        keypoints=flat_keypoints(points, (2 - occluded).tolist()),
        bbox=bbox.tolist(),
        area=float(bbox[2] * bbox[3]),
        extra={'crop_bbox': [x - 1, y - 1, w, h],
               'keypoints_occluded': [int(v) for v in occluded]})


def convert_cofw(mat_dir: str | os.PathLike,
                 image_dir: str | os.PathLike,
                 out_dir: str | os.PathLike,
                 skip_bad: bool = False) -> dict[str, int]:
    """Convert the official COFW colour release; return the face count per
    file.

    ``mat_dir`` holds ``COFW_{train,test}_color.mat``; the face images are
    written to ``image_dir`` (MMPose's ``data_prefix['img']``). A bad
    record raises a ConversionError before any JSON file is written, unless
    ``skip_bad`` reports and skips it; a missing .mat file,
    FileNotFoundError.
    """
    mat_dir, image_dir = os.fspath(mat_dir), os.fspath(image_dir)
    for mat_name, *_ in SPLITS:
        if not osp.isfile(osp.join(mat_dir, mat_name)):
            raise FileNotFoundError(
                f'COFW file not found: {osp.join(mat_dir, mat_name)}')
    policy = BadRecordPolicy(skip_bad)
    info = {
        'description': 'COFW, converted by repformer_mmpose',
        'version': '1.0',
        'year': time.strftime('%Y'),
        'date_created': time.strftime('%Y/%m/%d'),
    }
    outputs = []
    next_id = 1
    for mat_name, image_field, pts_field, box_field, out_name in SPLITS:
        records, num = read_split(
            osp.join(mat_dir, mat_name), image_field, pts_field, box_field,
            image_dir, next_id, policy)
        next_id += num
        outputs.append(SplitOutput(out_name, records, info))
    return write_outputs(outputs, out_dir, EXPECTED_COUNTS, policy=policy)


def main(argv: Sequence[str] | None = None) -> int:
    """``tools/dataset_converters/cofw2coco.py``; returns the exit status."""
    parser = converter_parser(
        'Convert the COFW colour release (.mat) to MMPose JSON.', 'data/cofw',
        'folder holding COFW_{train,test}_color.mat')
    parser.add_argument(
        '--image-dir', help='where images are written (default: ROOT/images)')
    args = parser.parse_args(argv)
    return run_cli(lambda: convert_cofw(
        args.root,
        args.image_dir or osp.join(args.root, 'images'),
        args.out_dir or osp.join(args.root, 'annotations'),
        skip_bad=args.skip_bad))
