"""The mean-shape baseline: the floor any trained detector must beat.

It predicts, for every test face, the training set's mean landmark
configuration placed into the face's box, so it knows where the face is but
nothing about its pose or expression.
"""
from __future__ import annotations

import json

import numpy as np


def _load_faces(ann_file: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints ``(F, K, 2)``, centres ``(F, 2)`` and box sides ``(F,)``
    of an MMPose top-down face annotation file (300W/WFLW layout)."""
    with open(ann_file) as f:
        annotations = json.load(f)['annotations']
    if not annotations:
        raise ValueError(f'{ann_file}: no annotations')
    try:
        keypoints = np.array([a['keypoints'] for a in annotations],
                             dtype=np.float64)
        centers = np.array([a['center'] for a in annotations], np.float64)
        sides = np.array([a['scale'] for a in annotations], np.float64) * 200
    except KeyError as error:
        raise KeyError(f'{ann_file}: annotation without field {error}; the '
                       'mean-shape baseline needs center and scale') from None
    return keypoints.reshape(len(annotations), -1, 3)[..., :2], centers, sides


def mean_shape_errors(train_ann_file: str, test_ann_file: str,
                      eye_indices: tuple[int, int]) -> np.ndarray:
    """Per-face NME of the mean-shape predictor.

    The mean is taken in each face's box frame (``(p - center) / side``),
    and the error is normalised by the ground-truth distance between the
    two ``eye_indices`` (inter-ocular, as MMPose's ``NME`` metric).

    Returns:
        np.ndarray: ``(F_test,)`` per-face normalised mean errors.
    """
    train_kpts, train_centers, train_sides = _load_faces(train_ann_file)
    mean_shape = ((train_kpts - train_centers[:, None]) /
                  train_sides[:, None, None]).mean(axis=0)
    test_kpts, test_centers, test_sides = _load_faces(test_ann_file)
    if test_kpts.shape[1] != mean_shape.shape[0]:
        raise ValueError(
            f'{test_ann_file} has {test_kpts.shape[1]} keypoints per face, '
            f'{train_ann_file} has {mean_shape.shape[0]}')
    predictions = (mean_shape[None] * test_sides[:, None, None] +
                   test_centers[:, None])
    ocular = np.linalg.norm(
        test_kpts[:, eye_indices[0]] - test_kpts[:, eye_indices[1]], axis=-1)
    return np.linalg.norm(predictions - test_kpts, axis=-1).mean(-1) / ocular
