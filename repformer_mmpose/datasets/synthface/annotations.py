"""MMPose 300W-style COCO JSON records for SynthFace.

The layout is the one of MMPose's 300W annotation files (``images`` with
``id, file_name, height, width``; ``annotations`` with ``id, image_id,
category_id, iscrowd, num_keypoints, keypoints`` as flat ``x, y, v``,
``bbox`` = tight landmark box ``[x, y, w, h]``, ``area``, ``center`` = box
centre, ``scale`` = longer side / 200; one ``face`` category), so
``Face300WDataset`` (68 points) and ``WFLWDataset`` (98 points) read it
unchanged.  Each annotation also carries an ``attributes`` dict with the
six WFLW-style flags (the six test subsets are copies restricted to the
flagged faces) and ``keypoints_occluded``, 1 for every keypoint an
occluder covers (MMPose ignores the field; visibility stays 2, as the
point's position is known).  Keypoints are multiples of 1/16 pixel, so they are
written exactly.
"""
from __future__ import annotations

import json

import numpy as np

from ...utils.atomic_write import atomic_open
from .attributes import ATTRIBUTES


def image_record(image_id: int, file_name: str, size: int) -> dict:
    """The ``images`` entry of one image."""
    return {'id': image_id, 'file_name': file_name, 'height': size,
            'width': size}


def annotation_record(ann_id: int, image_id: int, keypoints: np.ndarray,
                      flags: dict[str, int],
                      occluded: np.ndarray | None = None) -> dict:
    """The ``annotations`` entry of one face (all keypoints visible;
    ``occluded``: which of them an occluder covers)."""
    kpts = np.asarray(keypoints, np.float64)
    lo, hi = kpts.min(0), kpts.max(0)
    w, h = float(hi[0] - lo[0]), float(hi[1] - lo[1])
    flat = np.concatenate([kpts, np.full((len(kpts), 1), 2.0)], 1)
    record = {
        'id': ann_id,
        'image_id': image_id,
        'category_id': 1,
        'iscrowd': 0,
        'num_keypoints': len(kpts),
        'keypoints': [float(v) for v in flat.ravel()],
        'bbox': [float(lo[0]), float(lo[1]), w, h],
        'area': w * h,
        'center': [float(lo[0]) + w / 2, float(lo[1]) + h / 2],
        'scale': round(max(w, h) / 200.0, 6),
        'attributes': {name: int(flags[name]) for name in ATTRIBUTES},
    }
    if occluded is not None:
        record['keypoints_occluded'] = [int(v) for v in occluded]
    return record


def categories(num_keypoints: int) -> list[dict]:
    """The single ``face`` category with numbered keypoints."""
    return [{'id': 1, 'name': 'face', 'supercategory': 'face',
             'keypoints': [str(i) for i in range(num_keypoints)],
             'skeleton': []}]


def coco_dict(images: list[dict], annotations: list[dict],
              num_keypoints: int) -> dict:
    """A complete annotation file."""
    return {'images': images, 'annotations': annotations,
            'categories': categories(num_keypoints)}


def attribute_subset(coco: dict, attribute: str) -> dict:
    """The faces of ``coco`` flagged with ``attribute`` (and their images).
    """
    anns = [a for a in coco['annotations'] if a['attributes'][attribute]]
    keep = {a['image_id'] for a in anns}
    images = [im for im in coco['images'] if im['id'] in keep]
    return {'images': images, 'annotations': anns,
            'categories': coco['categories']}


def write_json(path: str, obj: dict) -> None:
    """Write ``obj`` compactly and atomically (temporary file + rename)."""
    with atomic_open(path, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
