"""Every shipped config loads, builds, trains one step and keeps the recipe.

The configs are ``configs/repformer/**/*.py``; each test is parametrized
over them with ids such as ``300w/ablation/table3_tau10_res18_...``.
"""
from __future__ import annotations

import copy
import functools
import json
import math
import os
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

import mmpose.datasets  # noqa: F401  (registers MMPose's datasets)
import repformer_mmpose  # noqa: F401
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import DATASETS, MODELS
from mmpose.structures import PoseDataSample

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_ROOT = REPO_ROOT / 'configs' / 'repformer'
CONFIG_FILES = sorted(CONFIG_ROOT.glob('**/*.py'))
CONFIG_IDS = [
    path.relative_to(CONFIG_ROOT).with_suffix('').as_posix()
    for path in CONFIG_FILES
]
# The paper's recipe (Sec. 4.1) vs. the CPU-sized from-scratch configs.
PAPER_FILES = [
    p for p in CONFIG_FILES
    if '1xb16-360e' in p.name and not p.name.startswith('repformer-refine_')
]
# the paper recipe + the refinement option chosen on 300W-subset
REFINE_FILES = [
    p for p in CONFIG_FILES if p.name.startswith('repformer-refine_')
]
# the custom-landmark template is tested by tests/test_custom_landmarks.py
CUSTOM_FILES = [p for p in CONFIG_FILES if p.parent.name == 'custom']
PAPER_IDS = [
    path.relative_to(CONFIG_ROOT).with_suffix('').as_posix()
    for path in PAPER_FILES
]
# refinement rows: the 128 px model at the paper's input size, and at
# 128 px with memories one octave finer (strides 4/8/16)
INPUT_256_FILES = [
    p for p in CONFIG_FILES
    if p.parent.name == 'refinement' and '256x256' in p.name
]
# file name part -> (neck.in_indices, memory sizes at 128 px, low to high)
FINER_MEMORY = {
    '-s4-nodrop_': ((0, 1, 2), [(32, 32), (16, 16), (8, 8)]),
    '-dilated_': ((1, 2, 3), [(16, 16), (8, 8), (8, 8)]),
}
FINER_MEMORY_FILES = [
    p for p in CONFIG_FILES
    if p.parent.name == 'refinement' and '256x256' not in p.name
]
CPU_FILES = [
    p for p in CONFIG_FILES if p not in PAPER_FILES + REFINE_FILES +
    CUSTOM_FILES + INPUT_256_FILES + FINER_MEMORY_FILES
]
CPU_IDS = [p.stem for p in CPU_FILES]
ABLATION_FILES = [p for p in CONFIG_FILES if p.parent.name == 'ablation']
ABLATION_IDS = [p.stem for p in ABLATION_FILES]

# dataset folder -> (checked dataset class, landmarks, NME normalisation)
DATASETS_BY_DIR = {
    '300w': ('RePFormer300WDataset', 68, 'keypoint_distance'),
    'wflw': ('RePFormerWFLWDataset', 98, 'keypoint_distance'),
    'cofw': ('RePFormerCOFWDataset', 29, 'keypoint_distance'),
    'aflw': ('RePFormerAFLWDataset', 19, 'box_size'),
    'synthface': ('RePFormer300WDataset', 68, 'keypoint_distance'),
}
# our checked classes are MMPose's, with the same metainfo
MMPOSE_DATASET = {
    'RePFormer300WDataset': 'Face300WDataset',
    'RePFormerWFLWDataset': 'WFLWDataset',
    'RePFormerCOFWDataset': 'COFWDataset',
    'RePFormerAFLWDataset': 'AFLWDataset',
}
PAPER_DATASETS = ('300w', 'wflw', 'cofw', 'aflw')
# ResNet depth -> channels of its 4 stages
RESNET_CHANNELS = {
    18: [64, 128, 256, 512],
    50: [256, 512, 1024, 2048],
    101: [256, 512, 1024, 2048],
}
# Table 2 of the paper: row name -> (use_pyramid, use_dlr)
TABLE2 = {
    'baseline': (False, False),
    'pth': (True, False),
    'dlr': (False, True),
}
INPUT_SIZE = (256, 256)


# ----------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------
def _dataset_dir(path: Path) -> str:
    return path.relative_to(CONFIG_ROOT).parts[0]


def _depth(path: Path) -> int:
    match = re.search(r'_res(\d+)_', path.name)
    assert match, f'{path.name} does not name its ResNet depth'
    return int(match.group(1))


def _expected_tau(path: Path) -> float:
    match = re.match(r'table3_tau(\d+)_', path.name)
    if match:
        return float(match.group(1))
    return 1000.


def _expected_switches(path: Path) -> tuple[bool, bool]:
    match = re.match(r'table2_([a-z]+)_', path.name)
    return TABLE2[match.group(1)] if match else (True, True)


@functools.cache
def _load(path: Path) -> Config:
    return Config.fromfile(str(path))


def load_config(path: Path) -> Config:
    """A private copy of the parsed config (tests may edit it)."""
    return copy.deepcopy(_load(path))


def _transforms(pipeline) -> dict:
    types = [step['type'] for step in pipeline]
    assert len(types) == len(set(types)), f'repeated transform in {types}'
    return {step['type']: step for step in pipeline}


def _build_model(cfg: Config):
    cfg.model.backbone.init_cfg = None  # no torchvision download here
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def _fake_batch(num_keypoints: int, input_size=INPUT_SIZE):
    """One image of ``input_size``; labels alternate 0.2 / 0.8."""
    inputs = torch.randn(1, 3, *input_size[::-1],
                         generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0.2, 0.8]).repeat(num_keypoints).view(
        1, num_keypoints, 2)
    sample = PoseDataSample()
    sample.gt_instance_labels = InstanceData(
        keypoint_labels=labels,
        keypoint_weights=torch.ones(1, num_keypoints))
    return inputs, [sample], labels


def _grad_sum(module: torch.nn.Module) -> float:
    return sum(
        p.grad.abs().sum().item() for p in module.parameters()
        if p.grad is not None)


def _loss_sum(losses: dict) -> torch.Tensor:
    return sum(v for k, v in losses.items() if k.startswith('loss'))


# ----------------------------------------------------------------------
# the set of configs
# ----------------------------------------------------------------------
def test_every_dataset_has_every_depth_and_the_ablations_exist():
    found = {
        (_dataset_dir(p), _depth(p)) for p in PAPER_FILES
        if p.parent.name != 'ablation'
    }
    assert found == {(d, depth) for d in PAPER_DATASETS
                     for depth in RESNET_CHANNELS}
    assert sorted(ABLATION_IDS) == sorted([
        'table2_baseline_res18_1xb16-360e_300w-256x256',
        'table2_dlr_res18_1xb16-360e_300w-256x256',
        'table2_pth_res18_1xb16-360e_300w-256x256',
        'table3_tau10000_res18_1xb16-360e_300w-256x256',
        'table3_tau100_res18_1xb16-360e_300w-256x256',
        'table3_tau10_res18_1xb16-360e_300w-256x256',
    ])


# ----------------------------------------------------------------------
# per config: loading, recipe, switches
# ----------------------------------------------------------------------
@pytest.mark.parametrize('path', CONFIG_FILES, ids=CONFIG_IDS)
def test_config_loads_with_plugin_import(path):
    cfg = load_config(path)
    assert 'repformer_mmpose' in cfg.custom_imports['imports']
    assert cfg.custom_imports.get('allow_failed_imports', False) is False
    assert cfg.default_scope == 'mmpose'
    assert cfg.model.type == 'TopdownPoseEstimator'
    assert cfg.model.neck.type == 'CrossScaleNeck'
    assert cfg.model.head.type == 'PTHHead'


@pytest.mark.parametrize('path', PAPER_FILES, ids=PAPER_IDS)
def test_backbone_is_torchvision_pretrained_resnet(path):
    cfg = load_config(path)
    depth = _depth(path)
    backbone = cfg.model.backbone
    assert backbone.type == 'ResNet' and backbone.depth == depth
    assert dict(backbone.init_cfg) == {
        'type': 'Pretrained',
        'checkpoint': f'torchvision://resnet{depth}'
    }
    assert list(cfg.model.neck.in_channels) == RESNET_CHANNELS[depth]


@pytest.mark.parametrize('path', PAPER_FILES, ids=PAPER_IDS)
def test_recipe_matches_the_paper(path):
    cfg = load_config(path)
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'Adam'
    assert optimizer.lr == pytest.approx(1e-4, rel=0, abs=1e-12)
    assert tuple(optimizer.betas) == (0.9, 0.999)
    assert optimizer.weight_decay == 0

    (scheduler, ) = cfg.param_scheduler
    assert scheduler.type == 'MultiStepLR'
    assert list(scheduler.milestones) == [200]
    assert scheduler.gamma == pytest.approx(0.1)
    assert scheduler.by_epoch is True
    assert scheduler.get('begin', 0) == 0

    assert cfg.train_cfg.by_epoch is True
    assert cfg.train_cfg.max_epochs == 360
    assert cfg.train_dataloader.batch_size == 16
    assert cfg.auto_scale_lr.base_batch_size == 16
    assert cfg.model.head.tau == _expected_tau(path)
    assert '1xb16-360e' in path.name and '256x256' in path.name


@pytest.mark.parametrize('path', PAPER_FILES, ids=PAPER_IDS)
def test_input_size_is_256(path):
    cfg = load_config(path)
    head = cfg.model.head
    assert tuple(head.decoder.input_size) == INPUT_SIZE
    # the stride-32 map of a 256x256 input, read by the initial predictor
    assert tuple(head.initial_memory_size) == (256 // 32, 256 // 32)
    train = _transforms(cfg.train_dataloader.dataset.pipeline)
    val = _transforms(cfg.val_dataloader.dataset.pipeline)
    test = _transforms(cfg.test_dataloader.dataset.pipeline)
    for pipeline in (train, val, test):
        assert tuple(pipeline['TopdownAffine']['input_size']) == INPUT_SIZE
    assert tuple(train['RandomShiftRotate']['input_size']) == INPUT_SIZE
    encoder = train['GenerateTarget']['encoder']
    assert encoder.type == 'DLRLabel'
    assert tuple(encoder.input_size) == INPUT_SIZE


@pytest.mark.parametrize('path', CONFIG_FILES, ids=CONFIG_IDS)
def test_train_pipeline_has_the_paper_augmentation(path):
    cfg = load_config(path)
    # pixel sizes are PIPNet's at 256 px, scaled with the input size
    px = cfg.train_dataloader.dataset.pipeline[-2]['encoder']['input_size'][
        0] / 256
    pipeline = cfg.train_dataloader.dataset.pipeline
    order = [step['type'] for step in pipeline]
    steps = _transforms(pipeline)
    # PIPNet's augmentation with PIPNet's probabilities
    assert steps['RandomFlip']['direction'] == 'horizontal'
    assert steps['RandomFlip']['prob'] == 0.5
    shift_rotate = steps['RandomShiftRotate']
    assert (shift_rotate['max_shift_px'], shift_rotate['shift_prob']) == (
        30 * px, 0.5)
    assert (shift_rotate['max_rotate_deg'],
            shift_rotate['rotate_prob']) == (30, 0.5)
    assert steps['RandomOcclusion']['prob'] == 0.5
    assert steps['RandomOcclusion']['max_size_ratio'] == 0.4
    assert steps['RandomGaussianBlur']['prob'] == 0.3
    assert steps['RandomGaussianBlur']['max_sigma'] == 5 * px
    assert steps['RandomLumaGrayscale']['prob'] == 0.2
    # geometric jitter before the crop, photometric after it
    affine = order.index('TopdownAffine')
    assert order.index('RandomFlip') < affine
    assert order.index('RandomShiftRotate') < affine
    for name in ('RandomOcclusion', 'RandomGaussianBlur',
                 'RandomLumaGrayscale'):
        assert affine < order.index(name) < order.index('GenerateTarget')
    assert order[0] == 'LoadFaceImage' and order[-1] == 'PackPoseInputs'
    # evaluation is not augmented
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        # (the custom template first checks the point count)
        assert [
            s['type'] for s in loader.dataset.pipeline
            if s['type'] != 'CheckNumKeypoints'
        ] == [
            'LoadFaceImage', 'GetFaceBBoxCenterScale', 'TopdownAffine',
            'PackPoseInputs'
        ]


@pytest.mark.parametrize('path', CPU_FILES, ids=CPU_IDS)
def test_cpu_configs_train_from_scratch_at_128(path):
    """The CPU-sized configs: random init, 128x128, d_model 128, and a
    cosine schedule that ends with training."""
    cfg = load_config(path)
    assert '-d128_' in path.name and '128x128' in path.name
    assert cfg.model.backbone.init_cfg is None
    head = cfg.model.head
    assert tuple(head.decoder.input_size) == (128, 128)
    assert tuple(head.initial_memory_size) == (4, 4)
    assert cfg.model.neck.embed_dims == head.embed_dims == 128
    assert head.tau == 1000. and head.use_pyramid and head.use_dlr
    warmup, cosine = cfg.param_scheduler
    assert cosine.type == 'CosineAnnealingLR'
    assert cosine.end == cosine.T_max == cfg.train_cfg.max_epochs
    assert f'-{cfg.train_cfg.max_epochs}e_' in path.name
    assert cfg.optim_wrapper.optimizer.weight_decay == 0


def test_refine_variants_are_the_paper_configs_plus_the_chosen_option():
    """12 ``repformer-refine_*`` configs (R18/50/101 x 4 data sets), each
    its paper config with ``subcell_offset=True`` and nothing else."""
    assert len(REFINE_FILES) == 12
    for path in REFINE_FILES:
        paper_path = path.with_name(
            path.name.replace('repformer-refine_', 'repformer_'))
        assert paper_path in PAPER_FILES, path
        cfg, paper = load_config(path), load_config(paper_path)
        assert cfg.model.head.subcell_offset is True
        assert not paper.model.head.get('subcell_offset', False)
        cfg.model.head.pop('subcell_offset')
        paper.model.head.pop('subcell_offset', None)
        assert cfg.to_dict() == paper.to_dict(), path


@pytest.mark.parametrize('path', INPUT_256_FILES,
                         ids=[p.stem for p in INPUT_256_FILES])
def test_256_config_is_the_300w_subset_config_at_the_paper_input(path):
    """Only the input size (and with it the memory sizes and PIPNet's
    pixel-valued augmentation) and the fast recipe's attention dropout
    differ from the 128 px 300W-subset run."""
    cfg = load_config(path)
    cpu = load_config(path.parents[1] /
                      'repformer_res18-d128_1xb16-15e_300w-subset-128x128.py')
    head = cfg.model.head
    assert tuple(head.decoder.input_size) == (256, 256)
    assert tuple(head.initial_memory_size) == (8, 8)
    for key in ('embed_dims', 'tau', 'num_keypoints', 'use_pyramid',
                'use_dlr'):
        assert head[key] == cpu.model.head[key], key
    assert cfg.model.backbone.init_cfg is None
    assert cfg.train_cfg == cpu.train_cfg
    assert cfg.optim_wrapper == cpu.optim_wrapper
    assert cfg.param_scheduler == cpu.param_scheduler
    assert (cfg.train_dataloader.dataset.ann_file ==
            cpu.train_dataloader.dataset.ann_file)


def _finer_memory(path: Path) -> tuple:
    """``(neck.in_indices, memory sizes)`` of a finer-memory config."""
    (layout, ) = [v for k, v in FINER_MEMORY.items() if k in path.name]
    return layout


@pytest.mark.parametrize('path', FINER_MEMORY_FILES,
                         ids=[p.stem for p in FINER_MEMORY_FILES])
def test_finer_memory_configs_read_finer_memories_at_128(path):
    """At 128 px: ResNet stages 1-3 (strides 4/8/16) give the PTH stages
    8x8 / 16x16 / 32x32 memories (the paper's at 256 px); a dilated stage 4
    gives 8x8 / 8x8 / 16x16. Only the backbone levels (and dropout) differ
    from the 128 px 300W-subset config."""
    in_indices, sizes = _finer_memory(path)
    assert len(FINER_MEMORY_FILES) == len(FINER_MEMORY)
    cfg = load_config(path)
    cpu = load_config(path.parents[1] /
                      'repformer_res18-d128_1xb16-15e_300w-subset-128x128.py')
    model = _build_model(cfg).eval()
    with torch.no_grad():
        memories = model.neck(model.backbone(torch.zeros(1, 3, 128, 128)))
    assert [tuple(m.shape[-2:]) for m in memories] == sizes
    assert tuple(cfg.model.head.initial_memory_size) == sizes[-1]
    if in_indices == (0, 1, 2):
        # stage 4 would feed nothing; dropout off for the fused attention
        assert len(model.backbone.res_layers) == 3
        assert cfg.model.neck.dropout == cfg.model.head.dropout == 0
    for part in ('backbone', 'neck', 'head'):
        for key in ('num_stages', 'strides', 'dilations', 'out_indices',
                    'in_channels', 'in_indices', 'dropout',
                    'initial_memory_size'):
            cfg.model[part].pop(key, None)
            cpu.model[part].pop(key, None)
    assert cfg.to_dict() == cpu.to_dict()

# MMPose's own face models, trained like RePFormer's 300W-subset config:
# file -> (head type, model outputs for one 128x128 face)
BASELINES = {
    'td-reg_res18_1xb16-15e_300w-subset-128x128.py':
    ('RegressionHead', [(1, 68, 2)]),
    'rtmpose-m_1xb16-15e_300w-subset-128x128.py':
    ('RTMCCHead', [(1, 68, 256), (1, 68, 256)]),  # SimCC x / y, ratio 2
    'td-hm_hrnetv2-w18_1xb16-15e_300w-subset-128x128.py':
    ('HeatmapHead', [(1, 68, 32, 32)]),
    'td-hm_hrnetv2-w18_dark_1xb16-15e_300w-subset-128x128.py':
    ('HeatmapHead', [(1, 68, 32, 32)]),
}


@pytest.mark.parametrize('name', sorted(BASELINES))
def test_baselines_are_mmpose_models_with_the_same_recipe(name):
    baseline = load_config(REPO_ROOT / 'configs' / 'baselines' / name)
    ours = load_config(CONFIG_ROOT / '300w' /
                       'repformer_res18-d128_1xb16-15e_300w-subset-128x128.py')
    head_type, output_shapes = BASELINES[name]
    assert baseline.model.head.type == head_type
    assert baseline.model.backbone.init_cfg is None  # random init, as ours
    assert baseline.model.test_cfg.flip_test is False
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert baseline[key] == ours[key], key
    for key in ('batch_size', 'sampler'):
        assert baseline.train_dataloader[key] == \
            ours.train_dataloader[key], key
    for loader in ('train_dataloader', 'test_dataloader'):
        assert baseline[loader].dataset.ann_file == \
            ours[loader].dataset.ann_file
        ours_steps = [dict(s) for s in ours[loader].dataset.pipeline]
        base_steps = [dict(s) for s in baseline[loader].dataset.pipeline]
        encoders = [s.pop('encoder') for s in base_steps if 'encoder' in s]
        for step in ours_steps:
            step.pop('encoder', None)  # the codecs differ, by design
        assert base_steps == ours_steps, loader
        # the pipeline encodes with the codec the head decodes with
        assert all(e == baseline.model.head.decoder for e in encoders)
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(baseline.model).eval()
    with torch.no_grad():
        outputs = model._forward(torch.zeros(1, 3, 128, 128))
    outputs = outputs if isinstance(outputs, tuple) else (outputs, )
    assert [tuple(o.shape) for o in outputs] == output_shapes


@pytest.mark.parametrize('path', CONFIG_FILES, ids=CONFIG_IDS)
def test_ablation_switches_follow_the_name(path):
    cfg = load_config(path)
    head, neck = cfg.model.head, cfg.model.neck
    use_pyramid, use_dlr = _expected_switches(path)
    assert (head.use_pyramid, head.use_dlr) == (use_pyramid, use_dlr)
    assert head.num_stages == 3
    if path in FINER_MEMORY_FILES:
        assert tuple(neck.in_indices) == _finer_memory(path)[0]
    elif use_pyramid:
        # stage i reads v_{M-i+1}: strides 32/16/8
        assert tuple(neck.in_indices) == (1, 2, 3)
    else:
        # Table 2 rows without PTH read the backbone's last stage only
        assert tuple(neck.in_indices) == (3, )


@pytest.mark.parametrize(
    'path, tau', [(p, float(re.search(r'tau(\d+)_', p.name).group(1)))
                  for p in ABLATION_FILES if p.name.startswith('table3')],
    ids=lambda value: value.stem if isinstance(value, Path) else None)
def test_table3_configs_set_tau(path, tau):
    assert tau in (10., 100., 10000.)
    cfg = load_config(path)
    assert cfg.model.head.tau == tau
    # only tau differs from the full model
    assert (cfg.model.head.use_pyramid, cfg.model.head.use_dlr) == (True,
                                                                   True)


# ----------------------------------------------------------------------
# per config: the dataset
# ----------------------------------------------------------------------
@pytest.fixture(scope='module')
def dataset_num_keypoints(tmp_path_factory) -> dict:
    """Landmarks per dataset class, from its METAINFO.

    ``parse_pose_metainfo`` is called from an empty folder: MMPose's
    ``METAINFO['from_file']`` is a *relative* path
    (``configs/_base_/datasets/wflw.py``) that would otherwise resolve to
    this repository's own dataset config (see
    ``test_dataset_builds_from_the_repo_root``).
    """
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp('metainfo_cwd'))
    try:
        return {
            name: parse_pose_metainfo(
                DATASETS.get(name).METAINFO)['num_keypoints']
            for name, _, _ in DATASETS_BY_DIR.values()
        }
    finally:
        os.chdir(cwd)


def test_dataset_metainfo_landmark_counts(dataset_num_keypoints):
    assert dataset_num_keypoints == {
        name: num for name, num, _ in DATASETS_BY_DIR.values()
    }


@pytest.mark.parametrize('ours, theirs', MMPOSE_DATASET.items())
def test_checked_datasets_are_mmposes(ours, theirs):
    """Same class, same keypoint layout: MMPose's own file, named by its
    installed path (MMPose's relative one resolves only from MMPose's
    source tree, else with a warning at every build)."""
    import mmpose
    assert issubclass(DATASETS.get(ours), DATASETS.get(theirs))
    layout = DATASETS.get(theirs).METAINFO['from_file']
    assert DATASETS.get(ours).METAINFO == dict(from_file=str(
        Path(mmpose.__file__).parent / '.mim' / layout))


@pytest.mark.parametrize('path', PAPER_FILES, ids=PAPER_IDS)
def test_paper_configs_state_their_crop(path):
    """MMPose's crop by default; the paper's crop one _base_ line away."""
    if path.parent.name != 'ablation':
        name = _dataset_dir(path)
        assert (f"'../../_base_/datasets/face_{name}_paper-crop.py' instead"
                in path.read_text())
    cfg = load_config(path)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.get('bbox_field') is None, loader


@pytest.mark.parametrize('name', PAPER_DATASETS)
def test_paper_crop_base_switches_every_loader(name):
    mmpose_crop = load_config(CONFIG_ROOT.parent / '_base_' / 'datasets' /
                              f'face_{name}.py')
    paper_crop = load_config(CONFIG_ROOT.parent / '_base_' / 'datasets' /
                             f'face_{name}_paper-crop.py')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = paper_crop[loader].dataset
        assert (dataset.bbox_field, dataset.bbox_padding) == ('crop_bbox',
                                                              1.0)
        expected = dict(mmpose_crop[loader].dataset,
                        bbox_field='crop_bbox', bbox_padding=1.0)
        assert dict(dataset) == expected, loader


@pytest.mark.parametrize('path', [
    p for p in CONFIG_FILES if p not in CUSTOM_FILES
], ids=[i for p, i in zip(CONFIG_FILES, CONFIG_IDS) if p not in CUSTOM_FILES])
def test_head_landmarks_match_the_dataset(path, dataset_num_keypoints):
    cfg = load_config(path)
    dataset_type, num_keypoints, norm_mode = DATASETS_BY_DIR[_dataset_dir(
        path)]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.type == dataset_type, loader
    assert cfg.test_dataloader.dataset.test_mode is True
    assert cfg.model.head.num_keypoints == num_keypoints
    assert cfg.model.head.num_keypoints == dataset_num_keypoints[
        dataset_type]
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        assert evaluator.type == 'FaceLandmarkMetric'
        assert evaluator.norm_mode == norm_mode


@pytest.mark.parametrize('name', PAPER_DATASETS)
def test_dataset_builds_from_the_repo_root(name, fixture_dir, monkeypatch):
    """``python tools/train.py configs/...`` runs from the repo root.

    MMPose's face datasets name their metainfo as
    ``from_file='configs/_base_/datasets/<name>.py'``, relative to the
    working directory, and only fall back to MMPose's own copy if no such
    file exists there: our dataset bases must not take those paths.
    """
    root = fixture_dir(name)
    path = CONFIG_ROOT / name / (
        f'repformer_res18_1xb16-360e_{name}-256x256.py')
    cfg = load_config(path)
    dataset_cfg = cfg.val_dataloader.dataset
    dataset_cfg.update(
        data_root=str(root), ann_file=f'test_{name}.json',
        data_prefix=dict(img=''))
    monkeypatch.chdir(REPO_ROOT)
    with DefaultScope.overwrite_default_scope('mmpose'):
        dataset = DATASETS.build(dataset_cfg)
    _, num_keypoints, _ = DATASETS_BY_DIR[name]
    assert dataset.metainfo['num_keypoints'] == num_keypoints
    with open(root / f'test_{name}.json') as f:
        assert len(dataset) == len(json.load(f)['annotations'])
    item = dataset[0]
    assert tuple(item['inputs'].shape) == (3, *INPUT_SIZE[::-1])
    assert item['data_samples'].gt_instances.keypoints.shape == (
        1, num_keypoints, 2)


# ----------------------------------------------------------------------
# per config: the model
# ----------------------------------------------------------------------
@pytest.mark.parametrize('path', CONFIG_FILES, ids=CONFIG_IDS)
def test_model_builds_and_trains_one_step(path):
    """Losses, gradients into every part, and one step of the config's
    own optimizer."""
    torch.manual_seed(0)
    cfg = load_config(path)
    num_keypoints = cfg.model.head.num_keypoints
    use_dlr = cfg.model.head.use_dlr
    model = _build_model(cfg)
    head, neck = model.head, model.neck
    assert head.num_keypoints == num_keypoints
    assert head.tau == _expected_tau(path)
    assert (head.use_pyramid, head.use_dlr) == _expected_switches(path)
    assert neck.num_levels == len(cfg.model.neck.in_indices)
    model.train()

    inputs, samples, _ = _fake_batch(
        num_keypoints, tuple(cfg.model.head.decoder.input_size))
    losses = model(inputs, samples, mode='loss')
    stage_keys = [f'loss_stage{i}' for i in range(0 if use_dlr else 1, 4)]
    # the confidence branch's NLL, on L^1..L^K (the CPU configs)
    uncertainty = cfg.model.head.get('uncertainty') or {}
    nll_keys = [f'loss_nll_stage{i}' for i in range(1, 4)
                ] if uncertainty else []
    # and the occlusion predictor's loss (the SynthFace config)
    if uncertainty.get('occlusion_weight', 0) > 0:
        nll_keys.append('loss_occlusion')
    assert sorted(k for k in losses
                  if k.startswith('loss')) == sorted(stage_keys + nll_keys)
    for key, value in losses.items():
        assert value.ndim == 0 and math.isfinite(value.item()), key
        if key in stage_keys:
            # predictions lie in (0, 1) (sigmoid), labels in {0.2, 0.8}
            assert 0 < value.item() < 0.8, key
    assert 0 <= losses['acc_pose'].item() <= 1
    if use_dlr:
        # L^0 = sigmoid(~0) ~ 0.5, so each L1 is about |0.5 - 0.2|; the
        # residual predictors start (near) zero, so every stage (nearly)
        # repeats L^0 and no landmark is within 0.05 of its label.
        assert losses['loss_stage0'].item() == pytest.approx(0.3, abs=0.02)
        # the sub-cell offset's projection (default init) makes the first
        # residuals a little larger: measured 0.021 on these fake faces
        spread = 0.05 if cfg.model.head.get('subcell_offset') else 0.02
        for key in stage_keys[1:]:
            assert losses[key].item() == pytest.approx(
                losses['loss_stage0'].item(), abs=spread), key
        assert losses['acc_pose'].item() == 0

    with DefaultScope.overwrite_default_scope('mmpose'):
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    # mmengine's standard wrapper (MMPose's --amp requires it), guarded
    # against NaN/inf losses by NonFiniteLossHook
    assert type(optim_wrapper).__name__ == 'OptimWrapper'
    assert dict(type='NonFiniteLossHook', action='stop') in cfg.custom_hooks
    optim_wrapper.zero_grad()
    optim_wrapper.backward(_loss_sum(losses))

    assert _grad_sum(model.backbone.conv1) > 0
    if list(neck.parameters()):
        assert _grad_sum(neck) > 0
    for index, projection in enumerate(neck.input_projections):
        assert _grad_sum(projection) > 0, f'neck projection {index}'
    for index, attention in enumerate(neck.cross_scale_attentions):
        assert _grad_sum(attention) > 0, f'neck attention {index}'
    assert _grad_sum(head.landmark_embed) > 0
    for index in range(head.num_stages):
        assert _grad_sum(head.stages[index]) > 0, f'head stage {index}'
        assert _grad_sum(head.coordinate_predictors[index]) > 0, (
            f'coordinate predictor {index}')
    if use_dlr:
        assert _grad_sum(head.initial_predictor) > 0

    # Adam's first step moves every weight with a gradient by about lr
    # (m / sqrt(v) = g / (|g| + eps), within 1 % for |g| > 1e-6); no weight
    # decay is added to it.
    before = model.backbone.conv1.weight.detach().clone()
    grad = model.backbone.conv1.weight.grad.detach().clone()
    optim_wrapper.step()
    step = model.backbone.conv1.weight.detach() - before
    moved = grad.abs() > 1e-6
    assert moved.any()
    lr = cfg.optim_wrapper.optimizer.lr
    torch.testing.assert_close(
        step[moved], -lr * grad[moved].sign(), rtol=0, atol=1e-2 * lr)


# ----------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------
@pytest.mark.parametrize('part, name', [
    ('head', 'NoSuchHead'),
    ('neck', 'NoSuchNeck'),
    ('backbone', 'NoSuchBackbone'),
])
def test_unknown_component_is_named_in_the_error(part, name, tmp_path):
    base = CONFIG_ROOT / '300w' / 'repformer_res18_1xb16-360e_300w-256x256.py'
    config = tmp_path / f'bad_{part}.py'
    config.write_text(f'_base_ = [{str(base)!r}]\n'
                      f'model = dict({part}=dict(type={name!r}))\n')
    cfg = Config.fromfile(str(config))
    assert cfg.model[part].type == name
    with pytest.raises(KeyError, match=name):
        _build_model(cfg)
