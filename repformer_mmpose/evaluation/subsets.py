"""Test subsets (WFLW's six attributes, 300W common/challenge, AFLW
frontal) as sets of faces of the full test set.

A subset comes either from a subset annotation file (MMPose's naming:
``<test stem>_<subset>.json`` beside the test file, e.g.
``face_landmarks_wflw_test_largepose.json``) or from attribute flags
stored in the test records (``"attributes": {"pose": 1, ...}``, as the
WFLW converter and SynthFace write them).

A subset face is found among the evaluated faces by its image file and its
ground-truth keypoints, so subset files need not share annotation ids or
box conventions with the full test file.
"""
from __future__ import annotations

import json
import os.path as osp
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: Subset names looked for beside a test file, in Table 1's column order.
KNOWN_SUBSETS = ('common', 'challenge', 'largepose', 'expression',
                 'illumination', 'makeup', 'occlusion', 'blur', 'frontal')
#: Attribute flag -> subset name, where they differ (WFLW's naming).
ATTRIBUTE_SUBSETS = {'pose': 'largepose'}
#: Ground truth of a subset record and of the evaluated face agree to this
#: many pixels (JSON float64 against the data set's float32).
KEYPOINT_TOLERANCE = 1e-2


@dataclass(frozen=True)
class SubsetFace:
    """One face of a subset: where it is listed, its image, its points."""

    source: str
    ann_id: object
    file_name: str
    keypoints: np.ndarray


def _load_annotations(path: str) -> tuple[list[dict], dict]:
    with open(path) as f:
        coco = json.load(f)
    if 'annotations' not in coco or 'images' not in coco:
        raise ValueError(f'{path}: not a COCO-style annotation file '
                         '(needs "images" and "annotations")')
    return coco['annotations'], {image['id']: image['file_name']
                                 for image in coco['images']}


def _subset_face(path: str, ann: dict, images: dict) -> SubsetFace:
    ann_id = ann.get('id')
    if ann.get('image_id') not in images:
        raise ValueError(f'{path}: annotation id {ann_id}: image_id '
                         f'{ann.get("image_id")} is not in "images"')
    try:
        keypoints = np.asarray(ann['keypoints'], np.float64)
    except KeyError:
        raise ValueError(f'{path}: annotation id {ann_id} has no '
                         '"keypoints"') from None
    if keypoints.size % 3:
        raise ValueError(f'{path}: annotation id {ann_id}: "keypoints" '
                         f'has {keypoints.size} values, not x, y, v '
                         'triples')
    return SubsetFace(path, ann_id, images[ann['image_id']],
                      keypoints.reshape(-1, 3)[:, :2])


def load_subset_file(path: str) -> list[SubsetFace]:
    """The faces of a subset annotation file."""
    annotations, images = _load_annotations(path)
    return [_subset_face(path, ann, images) for ann in annotations]


def load_attribute_subsets(path: str) -> dict[str, list[SubsetFace]]:
    """``{subset: faces}`` from the ``attributes`` flags of ``path``'s
    records (every flag becomes a subset, ``pose`` named ``largepose``).

    Raises:
        ValueError: a record has no ``attributes`` dict.
    """
    annotations, images = _load_annotations(path)
    subsets: dict[str, list[SubsetFace]] = defaultdict(list)
    names: list[str] = []
    for ann in annotations:
        flags = ann.get('attributes')
        if not isinstance(flags, Mapping):
            raise ValueError(f'{path}: annotation id {ann.get("id")} has no '
                             '"attributes" dict of flags')
        for flag, value in flags.items():
            name = ATTRIBUTE_SUBSETS.get(flag, flag)
            if name not in names:
                names.append(name)
            if value:
                subsets[name].append(_subset_face(path, ann, images))
    return {name: subsets.get(name, []) for name in names}


def find_subset_files(ann_file: str,
                      names: Sequence[str] = KNOWN_SUBSETS
                      ) -> dict[str, str]:
    """``{subset: path}`` of the subset files beside ``ann_file``
    (``<stem>_<subset><ext>``), in ``names`` order."""
    stem, ext = osp.splitext(ann_file)
    candidates = {name: f'{stem}_{name}{ext}' for name in names}
    return {name: path for name, path in candidates.items()
            if osp.isfile(path)}


def has_attributes(ann_file: str) -> bool:
    """Whether the records of ``ann_file`` carry attribute flags."""
    annotations, _ = _load_annotations(ann_file)
    return bool(annotations) and all(
        isinstance(a.get('attributes'), Mapping) for a in annotations)


def load_subsets(subset_files: Mapping[str, str] | None = None,
                 attribute_file: str | None = None
                 ) -> dict[str, list[SubsetFace]]:
    """Subsets from files and/or attribute flags; a name given both ways
    takes the file."""
    subsets: dict[str, list[SubsetFace]] = {}
    if attribute_file:
        subsets.update(load_attribute_subsets(attribute_file))
    for name, path in (subset_files or {}).items():
        subsets[name] = load_subset_file(path)
    return subsets


def _path_matches(img_path: str, file_name: str) -> bool:
    img = img_path.replace('\\', '/')
    name = file_name.replace('\\', '/')
    if name.startswith('./'):
        name = name[2:]
    return img == name or img.endswith('/' + name)


def subset_masks(img_paths: Sequence[str], keypoints: Sequence[np.ndarray],
                 subsets: Mapping[str, Iterable[SubsetFace]]
                 ) -> dict[str, np.ndarray]:
    """``{subset: (F,) bool}``: which evaluated faces each subset holds.

    Args:
        img_paths: image path of each evaluated face.
        keypoints: its ground truth ``(K, 2)``.
        subsets: from :func:`load_subsets`.

    Raises:
        ValueError: a subset face matches no evaluated face, or several
            (names the subset file and annotation id).
    """
    by_name: dict[str, list[int]] = defaultdict(list)
    for index, path in enumerate(img_paths):
        by_name[osp.basename(path)].append(index)
    masks = {}
    for name, faces in subsets.items():
        mask = np.zeros(len(img_paths), bool)
        for face in faces:
            hits = [
                i for i in by_name.get(osp.basename(face.file_name), [])
                if _path_matches(img_paths[i], face.file_name)
                and keypoints[i].shape == face.keypoints.shape
                and np.allclose(keypoints[i], face.keypoints,
                                rtol=0, atol=KEYPOINT_TOLERANCE)
            ]
            where = (f'{face.source}: subset "{name}", annotation id '
                     f'{face.ann_id} ({face.file_name})')
            if not hits:
                raise ValueError(f'{where} matches no evaluated face (same '
                                 'image file and ground-truth keypoints); '
                                 'is it a subset of the test set?')
            if len(hits) > 1:
                raise ValueError(f'{where} matches {len(hits)} evaluated '
                                 'faces')
            mask[hits[0]] = True
        masks[name] = mask
    return masks
