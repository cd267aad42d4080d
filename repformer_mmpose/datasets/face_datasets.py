"""MMPose's face datasets, with checked records and a choice of crop box.

``RePFormer300WDataset``, ``RePFormerWFLWDataset``, ``RePFormerCOFWDataset``
and ``RePFormerAFLWDataset`` are MMPose's ``Face300WDataset``,
``WFLWDataset``, ``COFWDataset`` and ``AFLWDataset`` (same metainfo,
parsing and output); ``FaceLandmarkDataset`` is ``BaseCocoStyleDataset``
for any N-point face set. :class:`CheckedFaceDatasetMixin` adds to each the
load-time checks of :mod:`.validation` and :mod:`.record_checks` and the
options ``skip_invalid``, ``bbox_field``, ``bbox_padding``, ``check_images``
and ``max_keypoint_margin``, described in ``docs/data_preparation.md``
("Dataset classes: checks and crop-box options").
"""
from __future__ import annotations

import os.path as osp

import numpy as np
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.datasets.datasets.face import (AFLWDataset, COFWDataset,
                                           Face300WDataset, WFLWDataset)
from mmpose.registry import DATASETS
from mmpose.structures.bbox import bbox_cs2xyxy
from xtcocotools.coco import COCO

from .keypoint_range import DEFAULT_KEYPOINT_MARGIN, check_margin
from .record_checks import (check_box_in_image, check_center_scale,
                            check_fields, check_image_file,
                            check_keypoint_range, check_keypoints,
                            xywh_to_xyxy)
from .validation import (FILE, REJECTED, AnnotationError, InvalidRecordPolicy,
                         check_file_structure, describe_record,
                         load_annotation_file, rejection_reason)

#: MMPose's ``pixel_std``: ``scale`` in the files is a box side / 200.
PIXEL_STD = 200.
CHECK_IMAGES = ('none', 'exists', 'decode')


def installed_metainfo(metainfo: dict) -> dict:
    """MMPose's dataset classes name their keypoint layout by a path
    relative to MMPose's source tree (``configs/_base_/datasets/300w.py``),
    which MMPose resolves to its installed copy with a warning at every
    dataset build; name the installed copy directly."""
    from_file = metainfo.get('from_file')
    if not from_file or osp.isabs(from_file):
        return metainfo
    import mmpose
    installed = osp.join(osp.dirname(mmpose.__file__), '.mim', from_file)
    return dict(metainfo, from_file=installed) if osp.isfile(
        installed) else metainfo


class CheckedFaceDatasetMixin:
    """Checks every record of a COCO-style face dataset at load time.

    Put it before an MMPose dataset class in the bases.

    Args:
        bbox_field: Annotation field (``[x, y, w, h]``) that gives the crop
            box, or None for the parent class's own box.
        bbox_padding: Padding of the crop box for
            ``GetFaceBBoxCenterScale``, or None for the pipeline's.
        skip_invalid: Skip invalid records, logging a count per reason,
            instead of raising :class:`~.validation.AnnotationError`.
        check_images: ``'none'``, ``'exists'`` or ``'decode'`` (decoded
            in full, :mod:`.image_integrity`; slow).
        max_keypoint_margin: Allowed distance of a labelled point beyond
            the image and the crop box, as a fraction of their size, or
            None for no such check (:mod:`.keypoint_range`).
        **kwargs: The parent dataset's arguments.
    """

    #: Annotation fields the parent's ``parse_data_info`` reads.
    ANN_FIELDS: tuple[str, ...] = ('id', 'image_id', 'keypoints', 'bbox',
                                   'category_id')
    #: Image-entry fields it reads.
    IMG_FIELDS: tuple[str, ...] = ('file_name', 'width', 'height')
    #: Whether the parent crops with the file's ``center``/``scale``.
    USES_CENTER_SCALE = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.METAINFO = installed_metainfo(getattr(cls, 'METAINFO', {}))

    def __init__(self,
                 *args,
                 bbox_field: str | None = None,
                 bbox_padding: float | None = None,
                 skip_invalid: bool = False,
                 check_images: str = 'exists',
                 max_keypoint_margin: float | None = DEFAULT_KEYPOINT_MARGIN,
                 **kwargs) -> None:
        if check_images not in CHECK_IMAGES:
            raise ValueError(f'{type(self).__name__}: check_images must be '
                             f'one of {CHECK_IMAGES}, got {check_images!r}')
        if bbox_field is not None and not isinstance(bbox_field, str):
            raise TypeError(f'{type(self).__name__}: bbox_field must be a '
                            f'field name or None, got {bbox_field!r}')
        if bbox_padding is not None and not bbox_padding > 0:
            raise ValueError(f'{type(self).__name__}: bbox_padding must be '
                             f'positive, got {bbox_padding!r}')
        self.max_keypoint_margin = check_margin(
            f'{type(self).__name__}: max_keypoint_margin',
            max_keypoint_margin)
        self.bbox_field = bbox_field
        self.bbox_padding = bbox_padding
        self.skip_invalid = skip_invalid
        self.check_images = check_images
        self.invalid_records = InvalidRecordPolicy(skip_invalid)
        self._good_images: set[str] = set()
        super().__init__(*args, **kwargs)
        if bbox_padding is not None:
            self._check_pipeline_reads_bbox_padding()

    def _check_pipeline_reads_bbox_padding(self) -> None:
        """MMPose's own ``GetBBoxCenterScale`` would ignore the records'
        ``bbox_padding``: refuse such a pipeline instead of cropping
        wrong."""
        from mmpose.datasets.transforms import GetBBoxCenterScale

        from .transforms import GetFaceBBoxCenterScale
        for transform in self.pipeline.transforms:
            if (isinstance(transform, GetBBoxCenterScale) and
                    not isinstance(transform, GetFaceBBoxCenterScale)):
                raise ValueError(
                    f'{type(self).__name__} ({self.ann_file}): '
                    f'bbox_padding={self.bbox_padding} needs '
                    'GetFaceBBoxCenterScale in the pipeline; MMPose\'s '
                    'GetBBoxCenterScale ignores it')

    # -- the file ------------------------------------------------------
    def load_data_list(self) -> list[dict]:
        """MMPose's loading, then the skip report; an error if no valid
        record is left."""
        self.invalid_records = InvalidRecordPolicy(self.skip_invalid)
        self._good_images = set()
        data_list = super().load_data_list()
        self.invalid_records.report(type(self).__name__, self.ann_file)
        if not data_list and not self.bbox_file:
            raise AnnotationError(self.ann_file, 'file', 'annotations',
                                  'no valid record left', FILE)
        return data_list

    def _load_annotations(self) -> tuple[list[dict], list[dict]]:
        """MMPose's ``BaseCocoStyleDataset._load_annotations``, on a file
        that was checked first: the COCO index is built from the checked
        data, without the records it could not hold."""
        data = load_annotation_file(self.ann_file)
        unindexable = check_file_structure(data, self.ann_file)
        for _, error in unindexable:
            self.invalid_records.handle(error)
        if unindexable:
            drop = {index for index, _ in unindexable}
            data['annotations'] = [
                ann for index, ann in enumerate(data['annotations'])
                if index not in drop
            ]
        self.coco = COCO(self.ann_file, ann_data=data)
        if 'categories' in self.coco.dataset:
            self._metainfo['CLASSES'] = self.coco.loadCats(
                self.coco.getCatIds())

        instance_list, image_list = [], []
        for img_id in self.coco.getImgIds():
            if img_id % self.sample_interval != 0:
                continue
            img = self.coco.loadImgs(img_id)[0]
            img.update({
                'img_id': img_id,
                'img_path': osp.join(self.data_prefix['img'],
                                     img['file_name']),
            })
            image_list.append(img)
            for ann in self.coco.loadAnns(self.coco.getAnnIds(imgIds=img_id)):
                info = self.parse_data_info(
                    dict(raw_ann_info=ann, raw_img_info=img))
                if info:  # None: invalid and skipped (counted)
                    instance_list.append(info)
        return instance_list, image_list

    # -- one record ----------------------------------------------------
    def parse_data_info(self, raw_data_info: dict) -> dict | None:
        """Check a record, then parse it with the parent class.

        Returns:
            The parsed record, or None when it is invalid and
            ``skip_invalid`` is set (it is counted).

        Raises:
            AnnotationError: An invalid record, without ``skip_invalid``.
        """
        try:
            return self._parse_checked(raw_data_info)
        except AnnotationError as error:
            self.invalid_records.handle(error)
            return None

    def _required_ann_fields(self) -> tuple[str, ...]:
        fields = self.ANN_FIELDS
        if self.bbox_field is not None and self.bbox_field not in fields:
            fields += (self.bbox_field, )
        return fields

    def _parse_checked(self, raw_data_info: dict) -> dict:
        ann = raw_data_info['raw_ann_info']
        img = raw_data_info['raw_img_info']
        ann_file = self.ann_file
        record = describe_record(ann, img)
        check_fields(ann, img, self._required_ann_fields(), self.IMG_FIELDS,
                     ann_file=ann_file)
        keypoints = check_keypoints(ann, img, self.metainfo['num_keypoints'],
                                    ann_file=ann_file)
        if self.USES_CENTER_SCALE:
            check_center_scale(ann, img, ann_file=ann_file)
        if 'bbox' in self.ANN_FIELDS:
            xywh_to_xyxy(ann['bbox'], ann_file=ann_file, record=record,
                         field='bbox')

        # the crop box as the file gives it, before any clipping
        box_field = self.bbox_field if self.bbox_field is not None else (
            'center/scale' if self.USES_CENTER_SCALE else 'bbox')
        if box_field == 'center/scale':
            box = bbox_cs2xyxy(np.array([ann['center']], np.float64),
                               np.full((1, 2), ann['scale'] * PIXEL_STD))
        else:
            box = xywh_to_xyxy(ann[box_field], ann_file=ann_file,
                               record=record, field=box_field)
        check_box_in_image(box, ann, img, ann_file=ann_file,
                           field=box_field)
        check_keypoint_range(keypoints, box, ann, img, ann_file=ann_file,
                             box_field=box_field,
                             margin=self.max_keypoint_margin)

        info = super().parse_data_info(raw_data_info)
        if not info:
            raise AnnotationError(ann_file, record, 'record',
                                  'MMPose\'s parser rejected it', REJECTED)
        if self.bbox_field is not None:
            info['bbox'] = box.astype(np.float32)
            # GetBBoxCenterScale then derives them from the box
            info.pop('bbox_center', None)
            info.pop('bbox_scale', None)
        if self.bbox_padding is not None:
            info['bbox_padding'] = self.bbox_padding
        if 'keypoints_occluded' in ann:
            # per-point occlusion labels (SynthFace, COFW) for the metric's
            # occlusion AUROC; MMPose's face parsers do not keep the record
            info.setdefault('raw_ann_info', dict(
                keypoints_occluded=ann['keypoints_occluded']))
        if self.check_images != 'none':
            self._check_image(info['img_path'], ann, img)
        return info

    def _check_image(self, path: str, ann: dict, img: dict) -> None:
        """Check an image file once, however many faces it holds (the
        other faces of a failed image fail alike, each named)."""
        if path not in self._good_images:
            check_image_file(path, ann, img, ann_file=self.ann_file,
                             decode=self.check_images == 'decode')
            self._good_images.add(path)

    def _get_topdown_data_infos(self, instance_list: list[dict]) -> list[dict]:
        """MMPose drops the records its ``_is_valid_instance`` rejects
        without a word; here they are faults (raised, or skipped and
        counted)."""
        kept = []
        for info in instance_list:
            if self._is_valid_instance(info):
                kept.append(info)
                continue
            self.invalid_records.handle(
                AnnotationError(
                    self.ann_file,
                    f'annotation id {info.get("id")} (image '
                    f'{info.get("img_path")})', 'record',
                    f'MMPose would drop it: {rejection_reason(info)}',
                    REJECTED))
        return kept


@DATASETS.register_module()
class RePFormer300WDataset(CheckedFaceDatasetMixin, Face300WDataset):
    """MMPose's ``Face300WDataset`` (68 points), checked; crop box from
    ``center``/``scale`` unless ``bbox_field`` is set."""

    # (``iscrowd`` is read too; the COCO index fills it in when absent)
    ANN_FIELDS = ('id', 'image_id', 'keypoints', 'num_keypoints', 'center',
                  'scale')
    IMG_FIELDS = ('file_name', )
    USES_CENTER_SCALE = True


@DATASETS.register_module()
class RePFormerWFLWDataset(CheckedFaceDatasetMixin, WFLWDataset):
    """MMPose's ``WFLWDataset`` (98 points), checked; crop box from
    ``center``/``scale`` unless ``bbox_field`` is set."""

    ANN_FIELDS = RePFormer300WDataset.ANN_FIELDS
    IMG_FIELDS = ('file_name', )
    USES_CENTER_SCALE = True


@DATASETS.register_module()
class RePFormerAFLWDataset(CheckedFaceDatasetMixin, AFLWDataset):
    """MMPose's ``AFLWDataset`` (19 points), checked; crop box from
    ``center``/``scale`` unless ``bbox_field`` is set. In test mode a record
    also needs ``box_size`` (the NME normalisation)."""

    ANN_FIELDS = RePFormer300WDataset.ANN_FIELDS
    IMG_FIELDS = ('file_name', )
    USES_CENTER_SCALE = True

    def _required_ann_fields(self) -> tuple[str, ...]:
        fields = super()._required_ann_fields()
        return fields + ('box_size', ) if self.test_mode else fields


@DATASETS.register_module()
class RePFormerCOFWDataset(CheckedFaceDatasetMixin, COFWDataset):
    """MMPose's ``COFWDataset`` (29 points), checked; crop box from
    ``bbox`` (clipped to the image) unless ``bbox_field`` is set."""


@DATASETS.register_module()
class FaceLandmarkDataset(CheckedFaceDatasetMixin, BaseCocoStyleDataset):
    """A COCO-style face-landmark set with any number of points, checked.

    The keypoint layout comes from ``metainfo=dict(from_file=...)`` (an
    MMPose dataset-info file: names, flip pairs, sigmas); records are parsed
    as ``BaseCocoStyleDataset`` does (crop box from ``bbox``, clipped to the
    image) unless ``bbox_field`` is set.
    """

    def __init__(self, *args, metainfo: dict | None = None, **kwargs):
        if not metainfo:
            raise ValueError(
                'FaceLandmarkDataset needs metainfo=dict(from_file=...) '
                'naming a dataset-info file (keypoint names, flip pairs)')
        super().__init__(*args, metainfo=metainfo, **kwargs)
