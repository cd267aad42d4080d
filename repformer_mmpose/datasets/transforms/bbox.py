"""Crop box -> centre and scale, with a padding the record may set.

MMPose's ``GetBBoxCenterScale`` pads every box by one factor (1.25 in its
face configs). The paper's crop protocol (PIPNet's), stored by our
converters as ``crop_bbox``, already holds its margin: a face dataset built
with ``bbox_field='crop_bbox', bbox_padding=1.0`` writes that padding into
each record, and :class:`GetFaceBBoxCenterScale` uses it instead of its
own, so one pipeline serves both crops.
"""
from __future__ import annotations

from mmpose.datasets.transforms import GetBBoxCenterScale
from mmpose.registry import TRANSFORMS
from mmpose.structures.bbox import bbox_xyxy2cs


@TRANSFORMS.register_module()
class GetFaceBBoxCenterScale(GetBBoxCenterScale):
    """MMPose's ``GetBBoxCenterScale`` (without its warning at every
    record that has ``bbox_center``/``bbox_scale``); a record's
    ``bbox_padding``, when present, replaces ``padding``.

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
