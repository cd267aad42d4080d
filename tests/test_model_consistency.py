"""Neck, head, codec and pipelines must agree (issue 13, item 8).

Before: a neck/head ``embed_dims`` mismatch failed in the head's first
layer as "mat1 and mat2 shapes cannot be multiplied", and an input size
that is not a multiple of 32 (or a pipeline size that differs from the
codec's) trained silently. Now each is a one-line ``ModelConfigError``
naming the config keys, raised by ``init_face_model`` (the test pipeline:
by ``predict_landmarks``, which runs it) and, through
``ModelConsistencyHook`` in the configs, by every Runner (ours and
MMPose's ``tools/test.py``) before a weight is loaded.
"""
from __future__ import annotations

import os.path as osp
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

import mmpose
from mmpose.datasets.transforms import GenerateTarget
from repformer_mmpose.apis import init_face_model, predict_landmarks
from repformer_mmpose.codecs import DLRLabel
from repformer_mmpose.datasets.synthface import generate_synthface
from repformer_mmpose.models.consistency import (ModelConfigError,
                                                 check_pipelines)

REPO = Path(__file__).resolve().parents[1]
BASE = (REPO / 'configs' / 'repformer' / 'synthface' /
        'repformer_res18-d128_1xb16-6e_synthface-128x128.py')
MMPOSE_TEST = osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools',
                       'test.py')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
DIMS_MESSAGE = (
    'model.neck.embed_dims = 16 but model.head.embed_dims = 32: the head '
    "reads the neck's memories, so both must be the same d_model")
SIZE_MESSAGE = (
    'model.head.decoder.input_size = (100, 100): the input size must be a '
    "multiple of the backbone's total stride (32) on both axes, e.g. "
    '(96, 96); set it and every pipeline input_size (TopdownAffine, '
    'RandomShiftRotate, the codec) to one')


def _config(data: Path, size: int = 64, memory: int = 2) -> Config:
    """A quarter-width RePFormer-R18 at ``size`` px on ``data``, every
    pipeline at ``size``."""
    cfg = Config.fromfile(str(BASE))
    cfg.model.backbone.update(stem_channels=16, base_channels=16)
    cfg.model.neck.update(in_channels=[16, 32, 64, 128], embed_dims=32,
                          num_heads=2, ffn_dims=64)
    cfg.model.head.update(
        embed_dims=32, num_heads=2, ffn_dims=64, predictor_dims=32,
        initial_memory_size=(memory, memory),
        decoder=dict(type='DLRLabel', input_size=(size, size)))
    for name in LOADERS:
        cfg[name].update(batch_size=2, num_workers=0,
                         persistent_workers=False)
        cfg[name].dataset.data_root = f'{data}/'
        for transform in cfg[name].dataset.pipeline:
            for step in (transform, transform.get('encoder') or {}):
                if 'input_size' in step:
                    step['input_size'] = (size, size)
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    return cfg


@pytest.fixture(scope='module')
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('consistency') / 'synthface'
    generate_synthface(str(root), num_train=2, num_test=2, seed=0,
                       image_size=64, workers=1, verbose=False)
    return root


def _dump(cfg: Config, path: Path) -> str:
    cfg.dump(str(path))
    return str(path)


def test_embed_dims_mismatch_is_named_at_build(data, tmp_path, load_tool):
    cfg = _config(data)
    cfg.model.neck.embed_dims = 16
    with pytest.raises(ModelConfigError) as info:
        init_face_model(cfg)
    assert str(info.value) == DIMS_MESSAGE
    # the Runner (tools/train.py) stops before training or loading
    config = _dump(_config(data), tmp_path / 'tiny.py')
    with pytest.raises(ModelConfigError) as info:
        load_tool('train').main([
            config, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
            'model.neck.embed_dims=16', 'visualizer.name=vis_dims_train'])
    assert str(info.value) == DIMS_MESSAGE
    assert not list((tmp_path / 'work').glob('*.pth'))


@pytest.mark.skipif(not osp.isfile(MMPOSE_TEST),
                    reason=f'MMPose was installed without {MMPOSE_TEST}')
def test_mmpose_own_test_tool_runs_the_check(data, tmp_path, monkeypatch):
    cfg = _config(data)
    torch.manual_seed(0)
    checkpoint = tmp_path / 'tiny.pth'
    torch.save({'state_dict': init_face_model(cfg).state_dict()},
               checkpoint)
    cfg.model.neck.embed_dims = 16
    monkeypatch.setattr(sys, 'argv', [
        MMPOSE_TEST, _dump(cfg, tmp_path / 'dims.py'), str(checkpoint),
        '--work-dir', str(tmp_path / 'work'), '--cfg-options',
        'visualizer.name=vis_dims_mmpose_test'])
    with pytest.raises(ModelConfigError) as info:
        runpy.run_path(MMPOSE_TEST, run_name='__main__')
    assert str(info.value) == DIMS_MESSAGE


def test_input_size_not_a_multiple_of_32_is_refused(data, tmp_path,
                                                    load_tool):
    # every size agrees (100) and the head's memory fits ceil(100 / 32):
    # this trained silently before
    cfg = _config(data, size=100, memory=4)
    with pytest.raises(ModelConfigError) as info:
        init_face_model(cfg)
    assert str(info.value) == SIZE_MESSAGE
    with pytest.raises(ModelConfigError) as info:
        load_tool('train').main([
            _dump(cfg, tmp_path / 'size100.py'), '--work-dir',
            str(tmp_path / 'work'), '--cfg-options',
            'visualizer.name=vis_size100'])
    assert str(info.value) == SIZE_MESSAGE


def test_neck_refuses_levels_that_are_no_exact_pyramid(data):
    model = init_face_model(_config(data))
    with torch.no_grad():
        assert len(model.extract_feat(torch.zeros(1, 3, 64, 64))) == 3
        with pytest.raises(ValueError) as info:
            model.extract_feat(torch.zeros(1, 3, 100, 100))
    assert str(info.value) == (
        'the backbone levels read (model.neck.in_indices (1, 2, 3)) are '
        '[(13, 13), (7, 7), (4, 4)] cells, not an exact pyramid: the input '
        "size must be a multiple of the backbone's total stride (32); "
        "check the pipeline's TopdownAffine input_size and "
        'model.head.decoder.input_size')


def test_pipeline_size_must_be_the_codec_size(data):
    cfg = _config(data)
    affine = [i for i, t in enumerate(cfg.test_dataloader.dataset.pipeline)
              if t['type'] == 'TopdownAffine'][0]
    cfg.test_dataloader.dataset.pipeline[affine]['input_size'] = [96, 96]
    model = init_face_model(cfg)  # the model itself is fine
    with pytest.raises(ModelConfigError) as info:
        predict_landmarks(model, np.zeros((64, 64, 3), np.uint8),
                          [[0, 0, 63, 63]])
    assert str(info.value) == (
        f'test_dataloader.dataset.pipeline[{affine}].input_size = (96, 96) '
        'but model.head.decoder.input_size = (64, 64): the pipeline, the '
        'codec and the head must use one input size (else labels and '
        'predictions are scaled with the wrong one)')
    # only the loaders that run are checked: training does not read it
    check_pipelines(cfg, model, ['train_dataloader', 'val_dataloader'])
    # the training codec of GenerateTarget is checked as well
    train = _config(data)
    for transform in train.train_dataloader.dataset.pipeline:
        if transform['type'] == 'GenerateTarget':
            transform['encoder']['input_size'] = (128, 128)
    with pytest.raises(ModelConfigError, match=r'^train_dataloader\.dataset'
                       r'\.pipeline\[\d+\]\.encoder\.input_size = '
                       r'\(128, 128\) but model\.head\.decoder'):
        check_pipelines(train, model)


def test_codec_refuses_keypoints_of_another_input_size():
    keypoints = np.array([[[10., 20.], [30., 40.]]])
    results = dict(keypoints=keypoints, transformed_keypoints=keypoints,
                   keypoints_visible=np.ones((1, 2)), input_size=(100, 100))
    generate = GenerateTarget(encoder=dict(type='DLRLabel',
                                           input_size=(128, 128)))
    with pytest.raises(ValueError) as info:
        generate(dict(results))
    assert str(info.value) == (
        "the pipeline made a (100, 100) input (its TopdownAffine "
        "input_size) but the DLRLabel codec's input_size is (128, 128): "
        'set the codec (GenerateTarget encoder, model.head.decoder) and '
        'the pipeline to one input size')
    labels = generate(dict(results, input_size=(128, 128)))
    np.testing.assert_allclose(
        labels['keypoint_labels'],
        DLRLabel((128, 128)).encode(keypoints)['keypoint_labels'])
