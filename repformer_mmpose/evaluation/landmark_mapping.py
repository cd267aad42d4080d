"""NME of predictions mapped to the annotation's landmark layout.

Scores a model trained on one scheme on data annotated in another, e.g. a
WFLW-trained (98-point) model on 300W-format (68-point) data: the
predictions go through the map of
:mod:`repformer_mmpose.datasets.transforms.landmark_layout` (the index
map and its source: ``docs/data_preparation.md``) and are then scored by
MMPose's :class:`~mmpose.evaluation.NME` against the 68-point ground truth,
normalised as the data set is (300W: outer eye corners 36/45).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmpose.evaluation import NME
from mmpose.registry import METRICS

from ..datasets.transforms.landmark_layout import get_landmark_mapping


@METRICS.register_module()
class MappedNME(NME):
    """MMPose's NME after mapping each prediction to the data's layout.

    Example, a WFLW model tested on 300W (``--cfg-options`` or a config)::

        test_dataloader = dict(dataset=dict(
            type='Face300WDataset', data_root='data/300w/',
            ann_file='annotations/face_landmarks_300w_valid.json'))
        test_evaluator = dict(type='MappedNME',
                              mapping='wflw98_to_ibug68',
                              norm_mode='keypoint_distance')

    MMPose's flip test must stay off (as in this project's configs): it
    would flip the 98-point predictions with the 68-point data's pairs.

    Args:
        mapping: Name of the mapping (``'wflw98_to_ibug68'``).
        mode: ``'interpolate'`` (default) or ``'index'``.
        norm_mode, norm_item, keypoint_indices, collect_device, prefix:
            As MMPose's :class:`~mmpose.evaluation.NME`; keypoint indices
            refer to the data's (target) layout.
    """

    def __init__(self,
                 mapping: str = 'wflw98_to_ibug68',
                 mode: str = 'interpolate',
                 norm_mode: str = 'keypoint_distance',
                 **kwargs) -> None:
        super().__init__(norm_mode=norm_mode, **kwargs)
        self.mapping = get_landmark_mapping(mapping, mode)

    def process(self, data_batch: Sequence[dict],
                data_samples: Sequence[dict]) -> None:
        """Map each sample's ``pred_instances`` and hand it to NME.

        Raises:
            ValueError: A prediction or ground truth whose point count is
                not the mapping's source / target count (names the image).
        """
        mapped = []
        for sample in data_samples:
            where = sample.get('img_path', sample.get('img_id', '?'))
            pred = dict(sample['pred_instances'])
            keypoints = np.asarray(pred['keypoints'])
            if keypoints.shape[-2] != self.mapping.num_source:
                raise ValueError(
                    f'{where}: MappedNME({self.mapping.name!r}) needs '
                    f'predictions of {self.mapping.num_source} points, the '
                    f'model gives {keypoints.shape[-2]}')
            num_gt = np.shape(sample['gt_instances']['keypoints'])[-2]
            if num_gt != self.mapping.num_target:
                raise ValueError(
                    f'{where}: MappedNME({self.mapping.name!r}) maps to '
                    f'{self.mapping.num_target} points, the ground truth '
                    f'has {num_gt}')
            pred['keypoints'] = self.mapping.map_points(keypoints)
            if 'keypoint_scores' in pred:
                pred['keypoint_scores'] = self.mapping.map_scores(
                    pred['keypoint_scores'])
            mapped.append({**sample, 'pred_instances': pred})
        super().process(data_batch, mapped)
