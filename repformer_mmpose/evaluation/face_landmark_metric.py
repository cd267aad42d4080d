"""``FaceLandmarkMetric``: the paper's Table 1 metrics as an mmengine metric.
"""
from __future__ import annotations

import os.path as osp
from collections.abc import Mapping, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpose.registry import METRICS

from .face_alignment import CED_STEP, FR_THRESHOLD
from .face_results import (FaceEvaluation, evaluate_faces, face_from_sample,
                           resolve_norm_mode)
from .subsets import SubsetFace, load_subsets


@METRICS.register_module()
class FaceLandmarkMetric(BaseMetric):
    """NME, failure rate and CED AUC of facial landmarks, per subset and
    per refinement stage.

    A drop-in ``val_evaluator``/``test_evaluator`` for MMPose's ``NME``:
    ``NME`` is computed exactly as MMPose's (equal to within float32
    rounding) and the metric adds (definitions: :mod:`.face_alignment`):

    * ``FR@0.10`` and ``AUC@0.10`` (PIPNet's ``compute_fr_and_auc``; HRNet
      and the paper follow it);
    * ``NME/stage<i>``: the NME of every refinement stage ``L^i`` when the
      head returns ``stage_keypoints`` (``PTHHead`` with
      ``test_cfg.output_stages=True``); stages are numbered from
      ``first_stage`` (0 with DLR, whose first output is ``L^0``; 1
      without);
    * ``NME/<subset>``, ``FR@0.10/<subset>``, ``AUC@0.10/<subset>`` for
      every subset given by ``subset_files`` or by the attribute flags of
      ``attribute_file``'s records (see :mod:`.subsets`).

    All values are fractions (MMPose's convention), not percent. A face
    without a visible point counts for no figure (a warning names it).

    Normalisation (``norm_mode``):

    * ``'auto'`` (default): ``'box_size'`` for AFLW, else
      ``'keypoint_distance'``;
    * ``'keypoint_distance'``: inter-ocular, the outer eye corners of
      MMPose's ``NME.DEFAULT_KEYPOINT_INDICES`` (WFLW 60/72, 300W 36/45,
      COFW 8/9) unless ``keypoint_indices`` is given;
    * ``'box_size'``: the record's ``box_size`` (HRNet's, PIPNet's and the
      paper's AFLW protocol; ``PackPoseInputs`` must list ``'box_size'``
      in ``meta_keys``, as our face data configs do), or, for a record
      without it, the longer side of the center/scale box, which is what
      MMPose 1.x's ``NME(norm_mode='use_norm_item',
      norm_item='bbox_size')`` divides by; the log says which was used;
    * ``'use_norm_item'`` with ``norm_item``: exactly MMPose's.

    Args:
        norm_mode (str): See above.
        norm_item (str, optional): For ``'use_norm_item'``.
        keypoint_indices (Sequence[int], optional): Two keypoints whose
            distance normalises (``'keypoint_distance'``).
        fr_threshold (float): FR / AUC threshold. Default 0.1.
        ced_step (float): CED grid step. Default 1e-4.
        subset_files (dict[str, str], optional): ``{subset: ann_file}``.
        attribute_file (str, optional): An annotation file whose records
            carry ``attributes`` flags (each flag is a subset; ``pose`` is
            named ``largepose``).
        data_root (str, optional): Prefix of relative subset paths.
        first_stage (int): Index of the first ``stage_keypoints`` entry.
        uncertainty_distribution (str): The head's error model
            (``'laplace'`` or ``'gaussian'``), for the calibration of
            predicted ``keypoint_scales``: where every prediction has them
            the metric adds ``Unc/Spearman``, ``Unc/AUSE``,
            ``Unc/NMEdrop@10%``, ``Unc/coverage@50%``, ``Unc/coverage@90%``
            and, where the records carry ``keypoints_occluded``,
            ``Unc/occlusion_AUROC`` (see :mod:`.uncertainty_metrics`).
        collect_device (str): As mmengine's ``BaseMetric``.
        prefix (str, optional): As mmengine's ``BaseMetric``.
    """

    # no prefix: keys as MMPose's NME ('NME', ...); '' rather than None so
    # that mmengine does not warn that it is unset
    default_prefix = ''

    def __init__(self,
                 norm_mode: str = 'auto',
                 norm_item: str | None = None,
                 keypoint_indices: Sequence[int] | None = None,
                 fr_threshold: float = FR_THRESHOLD,
                 ced_step: float = CED_STEP,
                 subset_files: Mapping[str, str] | None = None,
                 attribute_file: str | None = None,
                 data_root: str | None = None,
                 first_stage: int = 0,
                 uncertainty_distribution: str = 'laplace',
                 collect_device: str = 'cpu',
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        resolve_norm_mode(norm_mode, None)  # validates the name
        if norm_mode == 'use_norm_item' and not norm_item:
            raise ValueError('norm_mode "use_norm_item" needs norm_item')
        if keypoint_indices is not None and len(keypoint_indices) != 2:
            raise ValueError('keypoint_indices must be two indices, got '
                             f'{keypoint_indices}')
        self.norm_mode = norm_mode
        self.norm_item = norm_item
        self.keypoint_indices = (tuple(keypoint_indices)
                                 if keypoint_indices is not None else None)
        self.fr_threshold = fr_threshold
        self.ced_step = ced_step
        self.subset_files = {
            name: self._path(path, data_root)
            for name, path in (subset_files or {}).items()
        }
        self.attribute_file = (self._path(attribute_file, data_root)
                               if attribute_file else None)
        self.first_stage = first_stage
        self.uncertainty_distribution = uncertainty_distribution
        self.last_evaluation: FaceEvaluation | None = None
        self._subsets: dict[str, list[SubsetFace]] | None = None

    @staticmethod
    def _path(path: str, data_root: str | None) -> str:
        return osp.join(data_root, path) if data_root else path

    def subsets(self) -> dict[str, list[SubsetFace]]:
        """The subsets, read once."""
        if self._subsets is None:
            for path in [*self.subset_files.values(), self.attribute_file]:
                if path and not osp.isfile(path):
                    raise FileNotFoundError(
                        f'FaceLandmarkMetric: subset file not found: {path}')
            self._subsets = load_subsets(self.subset_files,
                                         self.attribute_file)
        return self._subsets

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        dataset_name = (self.dataset_meta or {}).get('dataset_name')
        for sample in data_samples:
            self.results.append(
                face_from_sample(sample, self.norm_mode,
                                 self.keypoint_indices, self.norm_item,
                                 dataset_name))

    def compute_metrics(self, results: list) -> dict[str, float]:
        logger = MMLogger.get_current_instance()
        evaluation = evaluate_faces(results, self.subsets(),
                                    self.fr_threshold, self.ced_step,
                                    self.uncertainty_distribution)
        self.last_evaluation = evaluation
        logger.info(f'{type(self).__name__}: {evaluation.full.faces} faces, '
                    f'NME normalised by {evaluation.normalisation()}')
        if evaluation.unscored:
            logger.warning(
                f'{len(evaluation.unscored)} face(s) without a visible '
                'point are in no NME, FR or AUC: '
                f'{", ".join(evaluation.unscored[:5])}')
        empty = [n for n, r in evaluation.subsets.items() if not r.faces]
        if empty:
            logger.warning(f'empty test subsets (not reported): {empty}')
        return evaluation.metrics(self.first_stage)
