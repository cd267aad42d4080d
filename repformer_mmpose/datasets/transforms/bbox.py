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


@TRANSFORMS.register_module()
class GetFaceBBoxCenterScale(GetBBoxCenterScale):
    """MMPose's ``GetBBoxCenterScale``; a record's ``bbox_padding``, when
    present, replaces ``padding``.

    Args:
        padding: Padding of records that set none (MMPose's 1.25).
    """

    def transform(self, results: dict) -> dict:
        record_padding = results.get('bbox_padding')
        if record_padding is None:
            return super().transform(results)
        default, self.padding = self.padding, float(record_padding)
        try:
            return super().transform(results)
        finally:
            self.padding = default
