"""AFLW, 19-point protocol -> MMPose's ``face_landmarks_aflw_*.json``.

Input: ``AFLWinfo_release.mat`` of prior work (Zhu et al., CVPR 2016; used
by SAN, HRNet, PIPNet), a MATLAB v5 file read with ``scipy.io.loadmat``, and
AFLW's ``flickr/`` images. Its fields, one row per face (24386 faces):

* ``data``: 38 values, the 19 x then the 19 y coordinates;
* ``mask_new``: 19 flags, 1 where the point is visible;
* ``bbox``: the released face box ``[x_min x_max y_min y_max]``;
* ``nameList``: cell array of image paths relative to ``flickr/``;
* ``ra``: a random permutation of 1..24386 (MATLAB indices): its first
  20000 entries are the train faces, the rest (4386) the test faces.

Output: ``face_landmarks_aflw_train.json`` (20000),
``face_landmarks_aflw_test.json`` (4386, "full") and
``face_landmarks_aflw_test_frontal.json`` (1314: the test faces whose 19
points are all visible in ``mask_new``). Faces are in ``ra`` order; ``id`` is
the 0-based position in its split (the frontal file keeps the test ids),
``image_id`` the id of the image's first face in the split.

Record fields (see :mod:`.core`): keypoints as released with visibility 1
(the protocol scores all 19 points); ``bbox`` the landmark box x 1.2;
``center`` the released box's centre and ``scale`` its longer side / 200
(HRNet's ``scale = max(w, h) / 200``); ``box_size`` -- the NME normalisation
factor of the protocol -- ``sqrt(w * h)`` of the released box (the released
boxes are square, so ``box_size == 200 * scale`` as in MMPose's files).
Extra fields: ``crop_bbox`` (xywh) -- ``crop_bbox_source``: the released box
itself, which PIPNet crops AFLW faces with; ``visible_mask``: ``mask_new``.
"""
from __future__ import annotations

import math
import os
import os.path as osp
from collections.abc import Sequence
from typing import Any

import numpy as np

from .core import (BadRecordPolicy, ConversionError, FaceRecord,
                   ImageSizeCache, SplitOutput, check_finite,
                   converter_parser, first_face_ids, labelled_face,
                   mat_variable, run_cli, write_outputs)

NUM_POINTS = 19
NUM_TRAIN = 20000
MAT_NAME = 'AFLWinfo_release.mat'
EXPECTED_COUNTS = {
    'face_landmarks_aflw_train.json': 20000,
    'face_landmarks_aflw_test.json': 4386,
    'face_landmarks_aflw_test_frontal.json': 1314,
}


def _field(mat: dict[str, Any], name: str, source: str,
           columns: int | None = None) -> np.ndarray:
    """A top-level variable of the .mat file, checked for its width."""
    array = mat_variable(mat, name, source)
    if columns is not None and (array.ndim != 2
                                or array.shape[1] != columns):
        raise ConversionError(
            source, 'file', name,
            f'shape {array.shape}, expected N x {columns}')
    return array


def _name(entry: Any) -> str:
    """A ``nameList`` cell as a string (loadmat wraps it in arrays)."""
    while isinstance(entry, np.ndarray):
        if entry.size != 1 and entry.dtype.kind not in 'US':
            raise ValueError(f'not a string: {entry!r}')
        if entry.dtype.kind in 'US':
            return str(entry.reshape(-1)[0]) if entry.size else ''
        entry = entry.reshape(-1)[0]
    return str(entry)


def read_release(path: str) -> dict[str, np.ndarray]:
    """The variables of ``AFLWinfo_release.mat``, their shapes checked and
    ``ra`` a permutation, turned 0-based."""
    from scipy.io import loadmat

    mat = loadmat(path)
    data = _field(mat, 'data', path, 2 * NUM_POINTS)
    num = data.shape[0]
    mask = _field(mat, 'mask_new', path, NUM_POINTS)
    bbox = _field(mat, 'bbox', path, 4)
    names = _field(mat, 'nameList', path).reshape(-1)
    ra_raw = _field(mat, 'ra', path).reshape(-1)
    for name, array in (('mask_new', mask), ('bbox', bbox),
                        ('nameList', names), ('ra', ra_raw)):
        if len(array) != num:
            raise ConversionError(path, 'file', name,
                                  f'{len(array)} entries, data has {num}')
    ra = check_finite(ra_raw, source=path, location='file', field='ra')
    if not np.array_equal(np.sort(ra), np.arange(1, num + 1)):
        raise ConversionError(path, 'file', 'ra',
                              f'not a permutation of 1..{num}')
    return dict(data=data, mask_new=mask, bbox=bbox, nameList=names,
                ra=ra.astype(np.int64) - 1)


def make_record(release: dict[str, np.ndarray], index: int, ann_id: int,
                source: str, images: ImageSizeCache,
                name_prefix: str = '') -> FaceRecord:
    """Face ``index`` (0-based row of the .mat file) as a FaceRecord."""
    loc = f'index {index} (MATLAB {index + 1})'
    values = check_finite(release['data'][index], source=source,
                          location=loc, field='data')
    mask = check_finite(release['mask_new'][index], source=source,
                        location=loc, field='mask_new')
    if not np.isin(mask, (0, 1)).all():
        raise ConversionError(source, loc, 'mask_new', 'flags not 0/1')
    x_min, x_max, y_min, y_max = check_finite(
        release['bbox'][index], source=source, location=loc,
        field='bbox').tolist()
    if x_max <= x_min or y_max <= y_min:
        raise ConversionError(
            source, loc, 'bbox',
            f'empty box [x_min x_max y_min y_max] = '
            f'{[x_min, x_max, y_min, y_max]}')
    try:
        name = _name(release['nameList'][index])
    except (ValueError, IndexError) as err:
        raise ConversionError(source, loc, 'nameList', str(err)) from None
    if not name:
        raise ConversionError(source, loc, 'nameList', 'empty image name')
    file_name = f'{name_prefix.rstrip("/")}/{name}' if name_prefix else name
    w, h = x_max - x_min, y_max - y_min
    return labelled_face(
        values.reshape(2, NUM_POINTS).T, file_name, images, source=source,
        location=loc, ann_id=ann_id,
        center_scale=([(x_min + x_max) / 2, (y_min + y_max) / 2],
                      max(w, h) / 200),
        extra={
            'box_size': math.sqrt(w * h),
            'crop_bbox': [x_min, y_min, w, h],
            'visible_mask': [int(v) for v in mask],
        })


def convert_aflw(mat_path: str | os.PathLike,
                 image_root: str | os.PathLike,
                 out_dir: str | os.PathLike,
                 skip_bad: bool = False,
                 num_train: int = NUM_TRAIN,
                 name_prefix: str = '') -> dict[str, int]:
    """Convert AFLW with ``AFLWinfo_release.mat`` (19-point protocol);
    return the face count per file.

    Images are read from ``image_root/name_prefix/<nameList entry>``;
    ``file_name`` is ``name_prefix/<nameList entry>``, relative to
    ``image_root`` (MMPose's ``data_prefix['img']``). The first
    ``num_train`` faces of ``ra`` are the train faces. A bad record raises
    a ConversionError before any file is written, unless ``skip_bad``
    reports and skips it; a missing .mat file, FileNotFoundError.
    """
    mat_path = os.fspath(mat_path)
    if not osp.isfile(mat_path):
        raise FileNotFoundError(f'AFLW file not found: {mat_path}')
    release = read_release(mat_path)
    ra = release['ra']
    if not 0 < num_train < len(ra):
        raise ConversionError(mat_path, 'file', 'ra',
                              f'{len(ra)} faces, cannot take {num_train} '
                              'for training and keep some for testing')
    policy = BadRecordPolicy(skip_bad)
    images = ImageSizeCache(image_root)
    splits: dict[str, list[FaceRecord]] = {}
    for split, indices in (('train', ra[:num_train]),
                           ('test', ra[num_train:])):
        splits[split] = []
        for pos, index in enumerate(indices.tolist()):
            policy.collect(splits[split], make_record, release, index, pos,
                           mat_path, images, name_prefix)
    frontal = [r for r in splits['test'] if all(r.extra['visible_mask'])]
    outputs = [
        SplitOutput('face_landmarks_aflw_train.json', splits['train']),
        SplitOutput('face_landmarks_aflw_test.json', splits['test']),
        SplitOutput('face_landmarks_aflw_test_frontal.json', frontal,
                    image_ids=first_face_ids(splits['test'])),
    ]
    return write_outputs(outputs, out_dir, EXPECTED_COUNTS, policy=policy)


def main(argv: Sequence[str] | None = None) -> int:
    """``tools/dataset_converters/aflw2coco.py``; returns the exit status."""
    parser = converter_parser(
        'Convert AFLW (AFLWinfo_release.mat, 19 points) to MMPose JSON.',
        'data/aflw', f'folder holding {MAT_NAME} and flickr/')
    parser.add_argument('--mat', help=f'the .mat file (default: ROOT/'
                        f'{MAT_NAME})')
    parser.add_argument(
        '--image-root',
        help='folder file_name fields are relative to (default: '
        'ROOT/flickr)')
    parser.add_argument(
        '--name-prefix',
        default='',
        help='prefix of file_name before the nameList entry, e.g. flickr '
        'with --image-root ROOT (default: none)')
    parser.add_argument(
        '--num-train',
        type=int,
        default=NUM_TRAIN,
        help='leading ra entries taken for training (default: %(default)s)')
    args = parser.parse_args(argv)
    return run_cli(lambda: convert_aflw(
        args.mat or osp.join(args.root, MAT_NAME),
        args.image_root or osp.join(args.root, 'flickr'),
        args.out_dir or osp.join(args.root, 'annotations'),
        skip_bad=args.skip_bad,
        num_train=args.num_train,
        name_prefix=args.name_prefix))
