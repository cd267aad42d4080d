"""RePFormer's neck and head on other backbones (``projects/``).

Every project config (HRNetV2-W18, CSPNeXt-m, MobileNetV2, MMPretrain's
ConvNeXt-T) is the paper's 300W recipe with another backbone. For each:

- the config keeps the recipe and an ImageNet ``Pretrained`` entry, and
  changes only the backbone and the neck's channels/levels;
- the backbone returns the levels the neck expects (count, channels) and
  the levels the 3 PTH stages read have strides 8/16/32, so the head's
  ``initial_memory_size`` (8, 8) is the top level at 256x256;
- ``loss().backward()`` gives finite gradients down to the backbone's
  stem; parameters without a gradient are exactly the ones the config tells
  DDP about (``find_unused_parameters``);
- mmengine's Runner trains a few iterations on SynthFace and validates;
  predictions lie in the crop.

The tests build the configs with random init (``init_cfg=None``: nothing
to download) at 64x64 input (the smallest with a stride-32 level of 2x2);
the widths are the configs'.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import InstanceData

import repformer_mmpose  # noqa: F401  (registers the plugin)
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from repformer_mmpose.datasets.synthface import generate_synthface

REPO = Path(__file__).resolve().parents[1]
PROJECTS = REPO / 'projects'
BASE_CONFIG = (REPO / 'configs' / 'repformer' / '300w' /
               'repformer_res18_1xb16-360e_300w-256x256.py')
# project folder -> (backbone type, channels of every returned level,
# parameters that get no gradient: the last fusion into HRNet's stride-4
# branch, which no PTH stage reads)
PROJECT_BACKBONES = {
    'repformer_hrnet': ('HRNet', [18, 36, 72, 144],
                        'backbone.stage4.2.fuse_layers.0.'),
    'repformer_cspnext': ('CSPNeXt', [192, 384, 768], None),
    'repformer_mobilenetv2': ('MobileNetV2', [32, 96, 1280], None),
    'repformer_convnext': ('mmpretrain.ConvNeXt', [192, 384, 768], None),
}
CONFIGS = sorted(PROJECTS.glob('*/configs/*.py'))
IDS = [path.parents[1].name for path in CONFIGS]
INPUT = 64  # test input side; the configs' is 256
CONFIG_INPUT = 256
NUM_KEYPOINTS = 68
READ_STRIDES = [8, 16, 32]  # what the 3 PTH stages read


def _project(path: Path) -> str:
    return path.parents[1].name


def _small_config(path: Path) -> Config:
    """The project config at 64x64 input with random init."""
    cfg = Config.fromfile(str(path))
    cfg.model.backbone.init_cfg = None
    cfg.model.head.initial_memory_size = (INPUT // 32, INPUT // 32)
    cfg.model.head.decoder.input_size = (INPUT, INPUT)
    return cfg


def _build(cfg: Config):
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def _samples(batch: int) -> list[PoseDataSample]:
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(batch):
        sample = PoseDataSample(metainfo=dict(input_size=(INPUT, INPUT)))
        sample.gt_instance_labels = InstanceData(
            keypoint_labels=torch.from_numpy(
                rng.uniform(0.2, 0.8, (1, NUM_KEYPOINTS, 2)).astype(
                    np.float32)),
            keypoint_weights=torch.ones(1, NUM_KEYPOINTS))
        samples.append(sample)
    return samples


def test_every_project_has_a_readme_and_a_config():
    folders = sorted(p.name for p in PROJECTS.iterdir() if p.is_dir())
    assert folders == sorted(PROJECT_BACKBONES)
    assert sorted(IDS) == sorted(PROJECT_BACKBONES)  # one config each
    for name in folders:
        readme = ' '.join((PROJECTS / name / 'README.md').read_text().split())
        assert 'not been trained here' in readme, name
        (config, ) = (PROJECTS / name / 'configs').glob('*.py')
        assert config.name in readme, f'{name}/README.md names no config'


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_keeps_the_recipe_and_swaps_the_backbone(path):
    cfg, base = Config.fromfile(str(path)), Config.fromfile(str(BASE_CONFIG))
    backbone_type, channels, _ = PROJECT_BACKBONES[_project(path)]
    assert cfg.model.backbone.type == backbone_type
    # online users start from ImageNet weights, as the paper's ResNets
    init = cfg.model.backbone.init_cfg
    assert init.type == 'Pretrained' and init.checkpoint
    assert cfg.model.neck.in_channels == channels
    neck = {k: v for k, v in cfg.model.neck.items()
            if k not in ('in_channels', 'in_indices')}
    base_neck = {k: v for k, v in base.model.neck.items()
                 if k not in ('in_channels', 'in_indices')}
    assert neck == base_neck
    assert cfg.model.head == base.model.head
    assert cfg.model.head.initial_memory_size == (8, 8)
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                'train_dataloader', 'val_evaluator', 'codec'):
        assert cfg[key] == base[key], key


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_backbone_levels_are_the_ones_the_neck_reads(path):
    cfg = _small_config(path)
    model = _build(cfg).eval()
    with torch.no_grad():
        levels = model.backbone(torch.zeros(1, 3, INPUT, INPUT))
    assert [level.shape[1] for level in levels] == cfg.model.neck.in_channels
    read = [levels[i] for i in model.neck.in_indices]
    strides = [INPUT // level.shape[-1] for level in read]
    assert strides == READ_STRIDES
    assert all(level.shape[-1] == level.shape[-2] for level in read)
    # the config's head reads a top memory of 256 / 32 = 8 cells a side
    assert CONFIG_INPUT // strides[-1] == 8


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_loss_backward_reaches_the_backbone(path):
    cfg = _small_config(path)
    model = _build(cfg).train()
    torch.manual_seed(0)
    inputs = torch.randn(2, 3, INPUT, INPUT)
    losses = model.loss(inputs, _samples(2))
    stage_losses = [v for k, v in losses.items() if k.startswith('loss_')]
    assert len(stage_losses) == 4  # L^0..L^3, each supervised
    total = sum(stage_losses)
    assert torch.isfinite(total) and total > 0
    total.backward()

    _, _, unused_prefix = PROJECT_BACKBONES[_project(path)]
    without_grad = []
    for name, param in model.named_parameters():
        if param.grad is None:
            without_grad.append(name)
            continue
        assert torch.isfinite(param.grad).all(), name
    if unused_prefix is None:
        assert without_grad == []
    else:
        assert without_grad and all(
            name.startswith(unused_prefix) for name in without_grad)
    # DDP fails on parameters without gradient unless told about them
    assert cfg.get('find_unused_parameters', False) == bool(without_grad)
    # gradients reach the first layer of the backbone
    first_name, first = next(
        (n, p) for n, p in model.backbone.named_parameters()
        if p.requires_grad)
    assert first.grad is not None and first.grad.abs().sum() > 0, \
        first_name


# ----------------------------------------------------------------------
# a few training iterations through mmengine's Runner
# ----------------------------------------------------------------------
@pytest.fixture(scope='module')
def synthface(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('synthface')
    generate_synthface(str(root), num_train=6, num_test=2, seed=5,
                       image_size=64, workers=1, verbose=False)
    return root


class _Recorder(Hook):
    """Backbone weights after init, and each iteration's loss."""

    def __init__(self) -> None:
        self.initial: dict[str, torch.Tensor] = {}
        self.losses: list[float] = []

    def before_train(self, runner) -> None:
        self.initial = {
            name: param.detach().clone()
            for name, param in runner.model.backbone.named_parameters()
        }

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.losses.append(float(outputs['loss'].detach()))


def _runner_config(path: Path, data_root: Path, work_dir: Path) -> Config:
    cfg = _small_config(path)
    codec = dict(type='DLRLabel', input_size=(INPUT, INPUT))
    train_pipeline = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='TopdownAffine', input_size=(INPUT, INPUT)),
        dict(type='GenerateTarget', encoder=codec),
        dict(type='PackPoseInputs'),
    ]
    val_pipeline = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='TopdownAffine', input_size=(INPUT, INPUT)),
        dict(type='PackPoseInputs'),
    ]
    for loader, split, pipeline in (
            ('train_dataloader', 'train', train_pipeline),
            ('val_dataloader', 'test', val_pipeline)):
        cfg[loader].update(batch_size=2, num_workers=0,
                           persistent_workers=False)
        cfg[loader].dataset.update(
            data_root=str(data_root),
            ann_file=f'annotations/synthface_{split}.json',
            data_prefix=dict(img='images/'),
            pipeline=pipeline)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
    cfg.default_hooks.checkpoint = None  # nothing to keep
    cfg.default_hooks.logger.interval = 1
    cfg.visualizer.name = f'visualizer_{_project(path)}'
    cfg.randomness = dict(seed=0)
    cfg.work_dir = str(work_dir)
    return cfg


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_runner_trains_and_predicts_in_the_crop(path, synthface, tmp_path):
    runner = Runner.from_cfg(_runner_config(path, synthface, tmp_path))
    recorder = _Recorder()
    runner.register_hook(recorder)
    runner.train()

    assert len(recorder.losses) == 3  # 6 faces, batch 2
    assert all(math.isfinite(loss) and loss > 0
               for loss in recorder.losses)
    moved = [
        name for name, param in runner.model.backbone.named_parameters()
        if not torch.equal(param.detach(), recorder.initial[name])
    ]
    assert len(moved) > len(recorder.initial) // 2
    nme = runner.message_hub.get_scalar('val/NME').current()
    assert math.isfinite(nme) and nme > 0

    runner.model.eval()
    batch = next(iter(runner.val_dataloader))
    with torch.no_grad():
        results = runner.model.val_step(batch)
    assert len(results) == 2
    for result in results:
        keypoints = result.pred_instances.keypoints
        assert keypoints.shape == (1, NUM_KEYPOINTS, 2)
        assert np.isfinite(keypoints).all()
        # image space, inside the crop the model saw
        center = np.asarray(result.metainfo['input_center'])
        scale = np.asarray(result.metainfo['input_scale'])
        low, high = center - scale / 2, center + scale / 2
        assert (keypoints >= low - 1).all() and (keypoints <= high + 1).all()
