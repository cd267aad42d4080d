"""Crop box -> centre and scale, with a padding the record may set.

MMPose's ``GetBBoxCenterScale`` pads every box by one factor (1.25 in its
face configs), which suits MMPose's own face boxes (tight landmark boxes or
``center``/``scale``). The paper's crop protocol (PIPNet's: WFLW's official
rectangle x 1.2, 300W's landmark box x 1.1, COFW's and AFLW's released
boxes), which our converters store as ``crop_bbox``, already holds its
margin. A face dataset of :mod:`repformer_mmpose.datasets.face_datasets`
built with ``bbox_field='crop_bbox', bbox_padding=1.0`` writes that padding
into each record as ``bbox_padding``, and :class:`GetFaceBBoxCenterScale`
uses it instead of its own, so one pipeline serves both crops.
"""
from __future__ import annotations

from mmpose.datasets.transforms import GetBBoxCenterScale
from mmpose.registry import TRANSFORMS
from mmpose.structures.bbox import bbox_xyxy2cs


@TRANSFORMS.register_module()
class GetFaceBBoxCenterScale(GetBBoxCenterScale):
    """MMPose's ``GetBBoxCenterScale``; a record's ``bbox_padding``, when
    present, replaces ``padding``.

    The same maths as MMPose's: a record's own ``bbox_center`` and
    ``bbox_scale`` (300W's ``center``/``scale``) are padded, else they
    come from ``bbox``; without MMPose's warning at every such record.

    Args:
        padding: Padding of records that set none (MMPose's 1.25).
    """

    def transform(self, results: dict) -> dict:
        padding = float(results.get('bbox_padding') or self.padding)
        if 'bbox_center' in results and 'bbox_scale' in results:
            results['bbox_scale'] = results['bbox_scale'] * padding
        else:
            results['bbox_center'], results['bbox_scale'] = bbox_xyxy2cs(
                results['bbox'], padding=padding)
        return results
