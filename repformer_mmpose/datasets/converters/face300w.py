"""300W (68 points) -> MMPose's ``face_landmarks_300w_*.json``.

Input, the iBUG release (one ``.pts`` file next to each image)::

    ROOT/lfpw/{trainset,testset}/*.png + *.pts
    ROOT/helen/{trainset,testset}/*.jpg + *.pts
    ROOT/afw/*.jpg + *.pts
    ROOT/ibug/*.jpg + *.pts
    ROOT/300W/{01_Indoor,02_Outdoor}/*.png + *.pts   (optional; the folders
                                                      may sit in ROOT too)

Output (the usual split of prior work, HRNet / PIPNet / MMPose):

* ``face_landmarks_300w_train.json``: lfpw/trainset + helen/trainset + afw
  (3148 faces);
* ``face_landmarks_300w_valid.json``: the full set, common + challenge (689);
* ``face_landmarks_300w_valid_common.json``: lfpw/testset + helen/testset
  (554);
* ``face_landmarks_300w_valid_challenge.json``: ibug (135);
* ``face_landmarks_300w_test.json``: 300W's own 01_Indoor + 02_Outdoor
  (600), when present.

Files are taken in sorted order within each folder; ``id`` is the 0-based
index of the face in its output file (the common/challenge files keep the
ids of the full ``valid`` file), and each image, holding one face, has the
face's id. ``file_name`` is the image path relative to ``ROOT``.

Coordinates are written as the ``.pts`` files hold them. The PTS format is
often said to be 1-based (menpo subtracts 1), but HRNet's loaders (whose CSV
files MMPose's JSON files were made from) and PIPNet use the values
unchanged, so no offset is applied by default; ``coord_offset=-1``
(``--pts-offset -1``) turns them 0-based. MMPose's own annotations cannot
settle it: a whole-pixel shift keeps every value's form (the raw files'
whole-number extremes stay whole, ``center``/``scale`` move by exactly 1),
and the raw ``.pts`` of MMPose's test images are not at hand to compare.

Record fields (see :mod:`.core`): visibility 1, ``center``/``scale`` from the
landmark box rounded outwards, ``bbox`` the landmark box x 1.2. Extra field
``crop_bbox`` (xywh) -- ``crop_bbox_source``: the landmark box scaled x 1.1
about its centre, PIPNet's 300W crop (PIPNet truncates the points to whole
pixels first; the box here is not truncated).
"""
from __future__ import annotations

import os
import os.path as osp
from collections.abc import Sequence

import numpy as np

from .core import (BadRecordPolicy, ConversionError, FaceRecord,
                   ImageSizeCache, SplitOutput, converter_parser,
                   labelled_face, landmark_box, parse_float, run_cli,
                   scale_box_about_centre, write_outputs)

NUM_POINTS = 68
CROP_FACTOR = 1.1
TRAIN_FOLDERS = ('lfpw/trainset', 'helen/trainset', 'afw')
COMMON_FOLDERS = ('lfpw/testset', 'helen/testset')
CHALLENGE_FOLDERS = ('ibug', )
TEST_FOLDERS = ('01_Indoor', '02_Outdoor')
IMAGE_EXTENSIONS = ('.jpg', '.png', '.jpeg', '.JPG', '.PNG', '.JPEG')
EXPECTED_COUNTS = {
    'face_landmarks_300w_train.json': 3148,
    'face_landmarks_300w_valid.json': 689,
    'face_landmarks_300w_valid_common.json': 554,
    'face_landmarks_300w_valid_challenge.json': 135,
    'face_landmarks_300w_test.json': 600,
}


def read_pts(path: str, num_points: int = NUM_POINTS) -> np.ndarray:
    """The ``(num_points, 2)`` points of a ``.pts`` file, as written."""
    with open(path, encoding='utf-8', errors='replace') as f:
        lines = f.read().splitlines()
    n_points = None
    start = None
    for i, line in enumerate(lines):
        text = line.strip()
        if text.startswith('n_points'):
            _, _, value = text.partition(':')
            try:
                n_points = int(value)
            except ValueError:
                raise ConversionError(path, f'line {i + 1}', 'n_points',
                                      f'not an integer: {value.strip()!r}'
                                      ) from None
        elif text == '{':
            start = i + 1
            break
    if n_points is None or start is None:
        raise ConversionError(path, 'header', 'header',
                              "no 'n_points:' line or no '{' line")
    if n_points != num_points:
        raise ConversionError(path, 'header', 'n_points',
                              f'{n_points}, expected {num_points}')
    points = []
    for i in range(start, len(lines)):
        text = lines[i].strip()
        if text == '}':
            break
        if not text:
            continue
        loc = f'line {i + 1}'
        tokens = text.split()
        if len(tokens) != 2:
            raise ConversionError(path, loc, f'point {len(points)}',
                                  f'{len(tokens)} values, expected 2 (x y)')
        points.append([
            parse_float(tok, source=path, location=loc,
                        field=f'point {len(points)} {axis}')
            for tok, axis in zip(tokens, 'xy')
        ])
    if len(points) != num_points:
        raise ConversionError(path, 'points', 'points',
                              f'{len(points)} points, expected {num_points}')
    return np.array(points, dtype=np.float64)


def find_image(pts_path: str) -> str | None:
    """The image next to a ``.pts`` file (same stem), or None."""
    stem = osp.splitext(pts_path)[0]
    for ext in IMAGE_EXTENSIONS:
        if osp.isfile(stem + ext):
            return stem + ext
    return None


def make_record(pts_path: str, root: str, ann_id: int,
                images: ImageSizeCache,
                coord_offset: float = 0.0) -> FaceRecord:
    """One ``.pts`` file and its image as a :class:`FaceRecord`."""
    points = read_pts(pts_path) + coord_offset
    image_path = find_image(pts_path)
    if image_path is None:
        raise ConversionError(
            pts_path, 'file', 'image',
            'no image with the same name (tried '
            f'{", ".join(IMAGE_EXTENSIONS)})')
    return labelled_face(
        points, osp.relpath(image_path, root).replace(os.sep, '/'), images,
        source=pts_path, location='file', ann_id=ann_id,
        extra={'crop_bbox': scale_box_about_centre(*landmark_box(points),
                                                   CROP_FACTOR)})


def list_pts(folder: str) -> list[str]:
    """Sorted ``.pts`` files of a folder (FileNotFoundError if absent)."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'300W folder not found: {folder}')
    return [
        osp.join(folder, name) for name in sorted(os.listdir(folder))
        if name.endswith('.pts')
    ]


def read_folders(root: str, folders: Sequence[str], images: ImageSizeCache,
                 policy: BadRecordPolicy, coord_offset: float,
                 first_id: int = 0) -> list[FaceRecord]:
    """Faces of some folders in order, ids counting from ``first_id``."""
    records = []
    ann_id = first_id
    for folder in folders:
        for pts_path in list_pts(osp.join(root, folder)):
            policy.collect(records, make_record, pts_path, root, ann_id,
                           images, coord_offset)
            ann_id += 1
    return records


def find_test_folders(root: str) -> list[str] | None:
    """``01_Indoor``/``02_Outdoor`` relative to root, under 300W/ or root."""
    for base in ('300W', ''):
        if all(osp.isdir(osp.join(root, base, f)) for f in TEST_FOLDERS):
            return [osp.join(base, f) if base else f for f in TEST_FOLDERS]
    return None


def convert_300w(root: str | os.PathLike,
                 out_dir: str | os.PathLike,
                 skip_bad: bool = False,
                 coord_offset: float = 0.0) -> dict[str, int]:
    """Convert the 300W release (layout: see the module docstring); return
    the face count per file.

    ``root`` holds lfpw/, helen/, afw/, ibug/ (and 300W/) and is the folder
    the ``file_name`` fields are relative to; ``coord_offset`` is added to
    every coordinate (``-1`` for 0-based). A bad record raises a
    ConversionError before any file is written, unless ``skip_bad`` reports
    and skips it; a missing train/valid folder, FileNotFoundError.
    """
    root = os.fspath(root)
    policy = BadRecordPolicy(skip_bad)
    images = ImageSizeCache(root)
    train = read_folders(root, TRAIN_FOLDERS, images, policy, coord_offset)
    n_common = sum(
        len(list_pts(osp.join(root, f))) for f in COMMON_FOLDERS)
    common = read_folders(root, COMMON_FOLDERS, images, policy,
                          coord_offset)
    challenge = read_folders(root, CHALLENGE_FOLDERS, images, policy,
                             coord_offset, first_id=n_common)
    outputs = [
        SplitOutput('face_landmarks_300w_train.json', train),
        SplitOutput('face_landmarks_300w_valid.json', common + challenge),
        SplitOutput('face_landmarks_300w_valid_common.json', common),
        SplitOutput('face_landmarks_300w_valid_challenge.json', challenge),
    ]
    test_folders = find_test_folders(root)
    if test_folders is None:
        print('300W test folders (01_Indoor, 02_Outdoor) not found under '
              f'{root} or {osp.join(root, "300W")}: no test file written')
    else:
        outputs.append(
            SplitOutput(
                'face_landmarks_300w_test.json',
                read_folders(root, test_folders, images, policy,
                             coord_offset)))
    return write_outputs(outputs, out_dir, EXPECTED_COUNTS, policy=policy)


def main(argv: Sequence[str] | None = None) -> int:
    """``tools/dataset_converters/300w2coco.py``; returns the exit status."""
    parser = converter_parser(
        'Convert the 300W release (.pts files) to MMPose JSON.',
        'data/300w/images',
        'folder holding lfpw/ helen/ afw/ ibug/ [300W/]; file_name fields '
        'are relative to it', out_dir_default='ROOT/../annotations')
    parser.add_argument(
        '--pts-offset',
        type=float,
        default=0.0,
        help='added to every coordinate, e.g. -1 for 0-based output '
        '(default: 0, as HRNet/MMPose)')
    args = parser.parse_args(argv)
    out_dir = args.out_dir or osp.join(
        osp.dirname(osp.abspath(args.root)), 'annotations')
    return run_cli(lambda: convert_300w(
        args.root, out_dir, skip_bad=args.skip_bad,
        coord_offset=args.pts_offset))
