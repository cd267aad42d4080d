"""The fast CPU recipe: bf16 autocast under ``--amp`` (float32 landmark
path), attention-weight dropout as its own option, channels-last.

The paper's recipe stays as it was: float32, dropout 0.1 on the attention
weights as well as in the FFNs, standard ``OptimWrapper``.
"""
import math

import numpy as np
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch.testing import assert_close

from repformer_mmpose.datasets.synthface import generate_synthface
from repformer_mmpose.engine.hooks import to_channels_last
from repformer_mmpose.engine.recipes import use_amp, use_channels_last
from repformer_mmpose.models import PTHHead
from repformer_mmpose.models.heads.landmark_predictors import (
    CoordinatePredictor, InitialLandmarkPredictor)
from repformer_mmpose.models.utils import AttentionBlock, set_fast_path

REPO = Path(__file__).resolve().parents[1]
SYNTHFACE_CONFIG = REPO / 'configs/repformer/synthface/' \
    'repformer_res18-d128_1xb16-6e_synthface-128x128.py'
PAPER_CONFIGS = sorted(
    p for p in (REPO / 'configs/repformer').glob('**/*.py')
    if '360e' in p.name)
FAST_CONFIGS = sorted((REPO / 'configs/repformer/300w/refinement').glob(
    '*-256x256.py'))


def bf16_autocast():
    return torch.autocast('cpu', dtype=torch.bfloat16)


# ------------------------------------------------------------ --amp on CPU
def test_amp_on_cpu_selects_the_bf16_wrapper_without_loss_scale():
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper',
                                         loss_scale='dynamic')))
    use_amp(cfg)
    assert cfg.optim_wrapper.type == 'BF16AutocastOptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper
    with pytest.raises(ValueError, match='bf16 only'):
        use_amp(cfg, 'float16')


def test_amp_on_a_gpu_keeps_mmengines_wrapper(monkeypatch):
    from repformer_mmpose.engine import recipes
    monkeypatch.setattr(recipes, 'accelerator_available', lambda: True)
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper')))
    use_amp(cfg, 'bfloat16')
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.optim_wrapper.dtype == 'bfloat16'


def _train_and_record_dtypes(load_tool, tmp_path, *flags):
    """tools/train.py on 8 generated faces for one epoch (batch 4);
    returns the output dtypes seen in training of the convolutions, the
    initial predictor (L^0) and the residual predictors, and the run's
    log."""
    data = tmp_path / 'synthface'
    generate_synthface(str(data), num_train=8, num_test=4, seed=1,
                       verbose=False)
    seen = {}

    def record(module, inputs, output):
        name = type(module).__name__
        if module.training and isinstance(output, torch.Tensor) and name in (
                'Conv2d', 'InitialLandmarkPredictor', 'CoordinatePredictor'):
            seen.setdefault(name, set()).add(output.dtype)

    handle = torch.nn.modules.module.register_module_forward_hook(record)
    work_dir = tmp_path / 'work'
    try:
        load_tool('train').main([
            str(SYNTHFACE_CONFIG), '--work-dir', str(work_dir), *flags,
            '--cfg-options', 'train_cfg.max_epochs=1',
            'train_cfg.val_interval=2', 'train_dataloader.batch_size=4',
            f'train_dataloader.dataset.data_root={data}/',
            f'val_dataloader.dataset.data_root={data}/',
            f'test_dataloader.dataset.data_root={data}/'])
    finally:
        handle.remove()
    log = next(work_dir.glob('*/*.log')).read_text()
    return seen, log


def test_train_amp_runs_bf16_inside_the_model_on_cpu(load_tool, tmp_path):
    seen, log = _train_and_record_dtypes(load_tool, tmp_path, '--amp')
    assert seen['Conv2d'] == {torch.bfloat16}
    # the landmark path stays float32 (Eq. 7-8)
    assert seen['InitialLandmarkPredictor'] == {torch.float32}
    assert seen['CoordinatePredictor'] == {torch.float32}
    assert 'no loss scaler' in log


def test_train_without_amp_stays_float32(load_tool, tmp_path):
    seen, log = _train_and_record_dtypes(load_tool, tmp_path)
    assert seen['Conv2d'] == {torch.float32}
    assert 'BF16AutocastOptimWrapper' not in log


# ------------------------------------------------- float32 landmark path
def test_predictors_return_float32_equal_to_the_float32_maths():
    torch.manual_seed(0)
    initial = InitialLandmarkPredictor(16, 5, 'flatten', (2, 2))
    torch.nn.init.normal_(initial.fc.weight, std=0.1)
    residual = CoordinatePredictor(16, 8, small_init=False)
    memory, queries = torch.randn(3, 16, 2, 2), torch.randn(3, 5, 16)
    with bf16_autocast():
        landmarks, residuals = initial(memory), residual(queries)
    assert landmarks.dtype == residuals.dtype == torch.float32
    assert_close(landmarks, initial(memory), rtol=0, atol=0)
    assert_close(residuals, residual(queries), rtol=0, atol=0)


def test_head_under_autocast_keeps_sub_cell_landmark_precision():
    """bf16 rounds 0.9 + 1e-3 to 0.8984 (8 mantissa bits); under autocast
    the landmarks of every stage are float32 and within 1e-3 of the
    float32 head's (the features differ by bf16 rounding only)."""
    assert torch.tensor(0.901).bfloat16().float().item() != pytest.approx(
        0.901, abs=1e-3)
    torch.manual_seed(0)
    head = PTHHead(num_keypoints=4, embed_dims=32, num_heads=4, ffn_dims=64,
                   predictor_dims=32, initial_memory_size=(2, 2),
                   subcell_offset=True).eval()
    memories = [torch.randn(2, 32, size, size) for size in (8, 4, 2)]
    reference = head(memories)
    with bf16_autocast():
        mixed = head(memories)
    for stage, (ref, low) in enumerate(zip(reference, mixed)):
        assert low.dtype == torch.float32, stage
        assert_close(low, ref, rtol=0, atol=1e-3, msg=f'L^{stage}')


# ------------------------------------------------- attention-weight dropout
def _attention_by_hand(block, query, key, value):
    """``softmax(q k^T / sqrt(d)) v`` per head with the block's own
    projections (Eq. 3's MHA, no dropout)."""
    weight, bias = block.attn.in_proj_weight, block.attn.in_proj_bias
    channels, heads = query.shape[-1], block.attn.num_heads
    q, k, v = (F.linear(x, w, b) for x, w, b in zip(
        (query, key, value), weight.chunk(3), bias.chunk(3)))

    def split(x):
        return x.unflatten(-1, (heads, -1)).transpose(1, 2)

    logits = split(q) @ split(k).transpose(-1, -2) / math.sqrt(
        channels // heads)
    attended = (logits.softmax(-1) @ split(v)).transpose(1, 2).flatten(2)
    return block.attn.out_proj(attended)


@pytest.mark.parametrize('fast', [True, False])
def test_attention_without_weight_dropout_is_exact_in_training(fast):
    """attn_dropout=0 with the output dropout on: in training the
    attention itself is the hand-computed maths, on the fast (fused) and
    the reference path; only the output dropout is random."""
    torch.manual_seed(0)
    block = AttentionBlock(16, 4, dropout=0.5, attn_dropout=0.).train()
    block.fast = fast
    block.dropout = torch.nn.Identity()  # look at the attention alone
    x, key = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    expected = block.norm(x + _attention_by_hand(block, x, key, key))
    assert_close(block(x, x, key, key), expected, rtol=1e-5, atol=1e-6)


def test_attention_dropout_defaults_to_the_dropout():
    assert AttentionBlock(16, 4, dropout=0.1).attn.dropout == 0.1
    block = AttentionBlock(16, 4, dropout=0.1, attn_dropout=0.)
    assert block.attn.dropout == 0. and block.dropout.p == 0.1
    # with weight dropout in training the output is random
    block = AttentionBlock(16, 4, dropout=0., attn_dropout=0.5).train()
    x = torch.randn(2, 5, 16)
    assert not torch.equal(block(x, x, x, x), block(x, x, x, x))


def _dropouts(model_cfg):
    from mmengine.registry import init_default_scope

    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    model_cfg.backbone.init_cfg = None
    model = MODELS.build(model_cfg)
    attention = {m.dropout for m in model.modules()
                 if isinstance(m, torch.nn.MultiheadAttention)}
    other = {m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)}
    return attention, other


@pytest.mark.parametrize('config', PAPER_CONFIGS,
                         ids=[p.name for p in PAPER_CONFIGS])
def test_paper_recipe_configs_keep_their_recipe(config):
    cfg = Config.fromfile(str(config))
    assert _dropouts(cfg.model) == ({0.1}, {0.1})
    assert cfg.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'
    assert not any(h['type'] == 'ChannelsLastHook'
                   for h in cfg.get('custom_hooks', []))


@pytest.mark.parametrize('config', FAST_CONFIGS,
                         ids=[p.name for p in FAST_CONFIGS])
def test_fast_recipe_configs_drop_only_the_attention_weight_dropout(config):
    cfg = Config.fromfile(str(config))
    assert _dropouts(cfg.model) == ({0.}, {0.1})


# ----------------------------------------------------------- channels-last
def test_channels_last_changes_the_layout_not_the_maths():
    from mmengine.registry import init_default_scope

    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    cfg = Config.fromfile(str(SYNTHFACE_CONFIG))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = set_fast_path(MODELS.build(cfg.model)).eval()
    images = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        expected = model._forward(images)
        to_channels_last(model)
        layouts = []
        model.backbone.conv1.register_forward_hook(
            lambda m, i, o: layouts.append(i[0].is_contiguous(
                memory_format=torch.channels_last)))
        got = model._forward(images)
    assert layouts == [True]
    assert model.backbone.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    for ref, out in zip(expected, got):
        assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_channels_last_flag_adds_the_hook_once():
    cfg = Config(dict(custom_hooks=[dict(type='EpochSeedHook')]))
    use_channels_last(cfg)
    use_channels_last(cfg)
    assert [h['type'] for h in cfg.custom_hooks] == [
        'EpochSeedHook', 'ChannelsLastHook']


def test_python_api_bf16_inference_is_close_to_float32(tiny_model,
                                                       face300w_fixture):
    """``FaceLandmarkDetector(..., amp=True)``: bf16 autocast inference,
    float32 landmarks within a pixel of the float32 model's on a real
    photo (64 px tiny model: features rounded, landmark path float32)."""
    import json

    from repformer_mmpose.apis import FaceLandmarkDetector
    data = json.loads((face300w_fixture / 'test_300w.json').read_text())
    image = str(face300w_fixture / data['images'][0]['file_name'])
    x, y, w, h = data['annotations'][0]['bbox']
    box = [[x, y, x + w, y + h]]
    config, checkpoint = tiny_model
    plain = FaceLandmarkDetector(config, checkpoint)(image, box)[0]
    seen = set()
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, inputs, output: seen.add(output.dtype) if isinstance(
            module, torch.nn.Conv2d) else None)
    try:
        mixed = FaceLandmarkDetector(config, checkpoint,
                                     amp=True)(image, box)[0]
    finally:
        handle.remove()
    assert seen == {torch.bfloat16}  # the network really ran in bf16
    assert mixed.keypoints.dtype == np.float32
    assert np.abs(mixed.keypoints - plain.keypoints).max() < 1.0
