"""Records of a custom landmark set (see :mod:`.custom`): one row -> a
checked COCO record, and the train/test split."""
from __future__ import annotations

import numpy as np

from ..keypoint_range import DEFAULT_KEYPOINT_MARGIN
from .core import (ConversionError, FaceRecord, ImageSizeCache,
                   check_points_in_image, flat_keypoints, hrnet_center_scale,
                   landmark_box)
from .custom_scheme import COMMAND_LINE, PointScheme
from .custom_table import AnnotationTable, RawRow, parse_face


class CustomFaceRecord(FaceRecord):
    """A face whose ``num_keypoints`` counts its visible points only."""

    @property
    def num_keypoints(self) -> int:
        return sum(1 for v in self.keypoints[2::3] if v > 0)


def make_record(table: AnnotationTable, row: RawRow, ann_id: int,
                images: ImageSizeCache, scheme: PointScheme,
                margin: float | None = DEFAULT_KEYPOINT_MARGIN
                ) -> CustomFaceRecord:
    """One row of ``table`` as a checked record; ``margin``: how far a
    given point may lie outside the image, as a fraction of its size (the
    data sets' rule), or None for no such check."""
    face = parse_face(table, row, scheme.names)
    source = table.path
    visible = face.visible
    shown = face.points[visible]
    if len(shown) < 2 or np.ptp(shown[:, 0]) <= 0 or np.ptp(
            shown[:, 1]) <= 0:
        raise ConversionError(
            source, face.location, 'keypoints',
            f'{len(shown)} visible point(s) spanning no box: a face needs '
            'at least two points that differ in x and in y')
    if scheme.norm_points is not None:
        for i in scheme.norm_points:
            if not visible[i]:
                raise ConversionError(
                    source, face.location, scheme.names[i],
                    'missing, but it is a normalisation point '
                    '(norm_points): the NME of this face would be '
                    'undefined')
    height, width = images.size(face.image, source=source,
                                location=face.location)
    if margin is not None:
        check_points_in_image(face.points, height, width, source=source,
                              location=face.location, visible=visible,
                              names=scheme.names, margin=margin,
                              option='--max-keypoint-margin')
    x0, y0, x1, y1 = landmark_box(shown)
    center, scale = hrnet_center_scale(shown)
    bbox = [x0, y0, x1 - x0, y1 - y0]
    return CustomFaceRecord(
        ann_id=ann_id,
        file_name=face.image,
        height=height,
        width=width,
        keypoints=flat_keypoints(
            np.where(visible[:, None], face.points, 0.0),
            visible.astype(float).tolist()),
        bbox=bbox,
        area=bbox[2] * bbox[3],
        center=center,
        scale=scale)


def split_by_image(records: list[CustomFaceRecord], test_fraction: float,
                   seed: int, source: str
                   ) -> tuple[list[CustomFaceRecord], list[CustomFaceRecord]]:
    """A seeded random train/test split; an image's faces stay together."""
    images = list(dict.fromkeys(r.file_name for r in records))
    num_test = int(round(test_fraction * len(images)))
    if not 0 < test_fraction < 1 or not 0 < num_test < len(images):
        raise ConversionError(
            COMMAND_LINE, '--test-fraction', 'test_fraction',
            f'{test_fraction} of the {len(images)} images of {source} '
            'leaves the train or the test split empty')
    order = np.random.default_rng(seed).permutation(len(images))
    test_images = {images[i] for i in order[:num_test]}
    train = [r for r in records if r.file_name not in test_images]
    test = [r for r in records if r.file_name in test_images]
    return train, test
