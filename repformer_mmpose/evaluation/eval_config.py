"""Turn a config's test setting into the face-landmark evaluation.

Shared by ``tools/test.py --report``, ``tools/main_job.py`` and
``tools/analysis/run_ablation.py``: the config's MMPose ``NME`` evaluator
becomes a :class:`FaceLandmarkMetric` with the same normalisation, the
subsets found beside the test annotation file, and the head's refinement
stages (``PTHHead``).
"""
from __future__ import annotations

import copy
import os.path as osp

from mmengine.config import Config, ConfigDict

from .subsets import find_subset_files, has_attributes

#: ``data_root`` folder name -> data set label in tables.
DATASET_LABELS = {
    'wflw': 'WFLW',
    '300w': '300W',
    'cofw': 'COFW',
    'aflw': 'AFLW',
    'synthface': 'SynthFace',
    '300w-subset': '300W-subset',
}


def test_ann_path(cfg: Config) -> str:
    """The test annotation file, joined with the data root."""
    dataset = cfg.test_dataloader.dataset
    return osp.join(dataset.get('data_root') or '', dataset.ann_file)


def dataset_label(cfg: Config) -> str:
    """A table label for the test data set, from its ``data_root``."""
    dataset = cfg.test_dataloader.dataset
    root = (dataset.get('data_root') or '').rstrip('/\\')
    name = osp.basename(root)
    if name.lower() in DATASET_LABELS:
        return DATASET_LABELS[name.lower()]
    ann_name = osp.basename(dataset.ann_file).lower()
    for key in ('synthface', 'wflw', '300w', 'cofw', 'aflw'):
        if key in ann_name:
            return DATASET_LABELS[key]
    return name or osp.splitext(osp.basename(dataset.ann_file))[0]


def first_stage(cfg: Config) -> int:
    """Index of the first stage ``PTHHead`` returns: 0 (``L^0``) with DLR,
    1 without."""
    head = cfg.model.get('head', {})
    return 0 if head.get('use_dlr', True) else 1


def face_metric_cfg(cfg: Config,
                    with_subsets: bool = True) -> dict:
    """A ``FaceLandmarkMetric`` config equivalent to the config's NME.

    MMPose's ``NME(norm_mode='use_norm_item', norm_item='bbox_size')``
    (AFLW) becomes ``norm_mode='box_size'``: the annotation's
    ``box_size`` where the record has it, MMPose's box side otherwise.
    """
    metric: dict = dict(type='FaceLandmarkMetric', norm_mode='auto')
    evaluators = cfg.get('test_evaluator') or []
    if not isinstance(evaluators, (list, tuple)):
        evaluators = [evaluators]
    for evaluator in evaluators:
        kind = evaluator.get('type')
        if kind == 'FaceLandmarkMetric':
            metric = dict(copy.deepcopy(evaluator))
            break
        if kind == 'NME':
            mode = evaluator.get('norm_mode')
            if mode == 'keypoint_distance':
                metric['norm_mode'] = 'keypoint_distance'
                if evaluator.get('keypoint_indices') is not None:
                    metric['keypoint_indices'] = list(
                        evaluator['keypoint_indices'])
            elif evaluator.get('norm_item') == 'bbox_size':
                metric['norm_mode'] = 'box_size'
            else:
                metric.update(norm_mode='use_norm_item',
                              norm_item=evaluator.get('norm_item'))
            break
    metric.setdefault('first_stage', first_stage(cfg))
    uncertainty = cfg.model.get('head', {}).get('uncertainty') or {}
    if uncertainty:
        metric.setdefault('uncertainty_distribution',
                          uncertainty.get('distribution', 'laplace'))
    has_subsets = metric.get('subset_files') or metric.get('attribute_file')
    if with_subsets and not has_subsets:
        ann_file = test_ann_path(cfg)
        if osp.isfile(ann_file):
            files = find_subset_files(ann_file)
            if files:
                metric['subset_files'] = files
            elif has_attributes(ann_file):
                metric['attribute_file'] = ann_file
    return metric


def use_face_metric(cfg: Config,
                    dump_file: str | None = None,
                    output_stages: bool = True,
                    with_subsets: bool = True) -> Config:
    """A copy of ``cfg`` whose test evaluator is the face metric (plus
    ``DumpResults`` to ``dump_file``) and whose ``PTHHead`` returns every
    stage when ``output_stages``."""
    cfg = copy.deepcopy(cfg)
    evaluators = [face_metric_cfg(cfg, with_subsets)]
    if dump_file:
        evaluators.append(dict(type='DumpResults', out_file_path=dump_file))
    cfg.test_evaluator = evaluators
    if output_stages and cfg.model.get('head', {}).get('type') == 'PTHHead':
        cfg.model.setdefault('test_cfg', ConfigDict())
        cfg.model.test_cfg.output_stages = True
    return cfg


def face_metric_of(runner):
    """The ``FaceLandmarkMetric`` of a Runner's test evaluator (after
    ``runner.test()``)."""
    from .face_landmark_metric import FaceLandmarkMetric
    for metric in runner.test_loop.evaluator.metrics:
        if isinstance(metric, FaceLandmarkMetric):
            return metric
    raise LookupError('the test evaluator has no FaceLandmarkMetric')
