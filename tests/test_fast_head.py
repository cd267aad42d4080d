"""The fast path of the neck and the head equals the reference path.

Same parameters, same maths: forward values and gradients (float32,
atol 1e-5) of the fused attention, the per-axis Eq. 10 weights and the
channels-last neck, and checkpoints keep their keys.
"""
import copy
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn
from torch.testing import assert_close

from mmpose.registry import MODELS
from repformer_mmpose.models import CrossScaleNeck, PTHHead
from repformer_mmpose.models.utils import (AttentionBlock, aggregate_queries,
                                           aggregate_queries_on_grid,
                                           aggregation_weights,
                                           grid_aggregation_weights,
                                           grid_axis_centers, pixel_centers,
                                           sdpa_attention, set_fast_path)

TOL = dict(rtol=1e-4, atol=1e-5)
EMBED = 32
R18_CONFIG = str(
    Path(__file__).resolve().parents[1] / 'configs/repformer/300w' /
    'repformer_res18_1xb16-360e_300w-256x256.py')


def fast_and_reference(module):
    """``(module, copy)`` with the fast and the reference path."""
    set_fast_path(module, True)
    return module, set_fast_path(copy.deepcopy(module), False)


def grads(module):
    return {
        name: param.grad.clone()
        for name, param in module.named_parameters()
        if param.grad is not None
    }


def assert_same_grads(fast, reference):
    fast_grads, ref_grads = grads(fast), grads(reference)
    assert fast_grads.keys() == ref_grads.keys() and fast_grads
    for name, grad in fast_grads.items():
        assert_close(grad, ref_grads[name], **TOL, msg=name)


# ---------------------------------------------------------------- Eq. 9-10
def test_grid_weights_of_a_hand_computed_case():
    # 1 x 2 grid: xs = (0.25, 0.75), ys = (0.5,). A landmark on the first
    # centre; tau = 4 ln 3 makes the second centre's term
    # exp(-tau * 0.5^2) = 1/3 of the first's: weights 3/4, 1/4.
    xs, ys = grid_axis_centers(1, 2)
    assert xs.tolist() == [0.25, 0.75] and ys.tolist() == [0.5]
    weights = grid_aggregation_weights(
        torch.tensor([[[0.25, 0.5]]]), xs, ys, tau=4 * math.log(3))
    assert_close(weights, torch.tensor([[[0.75, 0.25]]]))


@pytest.mark.parametrize('height,width', [(1, 1), (3, 5), (8, 8), (7, 2)])
@pytest.mark.parametrize('tau', [10., 1000.])
def test_grid_weights_equal_eq10_on_every_pixel_centre(height, width, tau):
    torch.manual_seed(0)
    landmarks = torch.rand(2, 6, 2, dtype=torch.float64) * 1.4 - 0.2
    xs, ys = grid_axis_centers(height, width, dtype=torch.float64)
    reference = aggregation_weights(
        landmarks, pixel_centers(height, width, dtype=torch.float64), tau)
    assert_close(grid_aggregation_weights(landmarks, xs, ys, tau), reference,
                 rtol=1e-9, atol=1e-12)


def test_grid_aggregation_flushes_only_subnormal_weights():
    torch.manual_seed(0)
    landmarks = torch.rand(2, 5, 2)
    memory = torch.randn(2, 16 * 16, EMBED)
    xs, ys = grid_axis_centers(16, 16)
    reference = aggregation_weights(landmarks, pixel_centers(16, 16), 1000.)
    fast = grid_aggregation_weights(landmarks, xs, ys, 1000.)
    tiny = torch.finfo(torch.float32).tiny
    subnormal = (reference > 0) & (reference < tiny)
    assert subnormal.any()  # tau = 1000 on 16 x 16 makes them
    assert (fast[subnormal] == 0).all()
    assert_close(fast[~subnormal], reference[~subnormal], **TOL)
    assert_close(
        aggregate_queries_on_grid(memory, landmarks, xs, ys, 1000.),
        aggregate_queries(memory, landmarks, pixel_centers(16, 16), 1000.),
        **TOL)


def test_grid_aggregation_gradients_equal_reference():
    torch.manual_seed(0)
    inputs = [torch.rand(3, 7, 2), torch.randn(3, 4 * 6, EMBED)]
    fast_inputs = [t.clone().requires_grad_() for t in inputs]
    ref_inputs = [t.clone().requires_grad_() for t in inputs]
    xs, ys = grid_axis_centers(4, 6)
    weights = torch.randn(3, 7, EMBED)
    (aggregate_queries_on_grid(fast_inputs[1], fast_inputs[0], xs, ys, 100.)
     * weights).sum().backward()
    (aggregate_queries(ref_inputs[1], ref_inputs[0], pixel_centers(4, 6),
                       100.) * weights).sum().backward()
    for fast, ref in zip(fast_inputs, ref_inputs):
        assert_close(fast.grad, ref.grad, **TOL)


# --------------------------------------------------------------- attention
@pytest.mark.parametrize('self_attention', [True, False])
@pytest.mark.parametrize('batch,length,memory', [(1, 5, 9), (3, 68, 16)])
def test_sdpa_attention_equals_multihead_attention(self_attention, batch,
                                                   length, memory):
    torch.manual_seed(0)
    attn = nn.MultiheadAttention(EMBED, 4, batch_first=True)
    query = torch.randn(batch, length, EMBED, requires_grad=True)
    key = query if self_attention else torch.randn(batch, memory, EMBED)
    value = torch.randn(batch, key.shape[1], EMBED)
    fast = sdpa_attention(attn, query, key, value)
    weights = torch.randn_like(fast)
    (fast * weights).sum().backward()
    fast_grads = [query.grad.clone()] + [
        p.grad.clone() for p in attn.parameters()]
    query.grad = None
    attn.zero_grad()
    reference = attn(query, key, value, need_weights=False)[0]
    (reference * weights).sum().backward()
    ref_grads = [query.grad] + [p.grad for p in attn.parameters()]
    assert_close(fast, reference, **TOL)
    for fast_grad, ref_grad in zip(fast_grads, ref_grads):
        assert_close(fast_grad, ref_grad, **TOL)


def test_attention_block_uses_its_dropout_only_in_training():
    torch.manual_seed(0)
    block = AttentionBlock(EMBED, 4, dropout=0.5)
    block.dropout = nn.Identity()  # keep only the attention dropout
    x = torch.randn(2, 6, EMBED)
    block.eval()
    assert torch.equal(block(x, x, x, x), block(x, x, x, x))
    block.train()
    assert not torch.allclose(block(x, x, x, x), block(x, x, x, x))


# -------------------------------------------------------------- head, neck
def make_head(num_keypoints=5, **kwargs):
    torch.manual_seed(0)
    options = dict(
        num_keypoints=num_keypoints,
        embed_dims=EMBED,
        num_heads=4,
        ffn_dims=64,
        predictor_dims=32,
        dropout=0.,
        initial_memory_size=(4, 4),
        decoder=dict(type='DLRLabel', input_size=(128, 128)))
    options.update(kwargs)
    return PTHHead(**options)


def make_memories(batch, sizes=(16, 8, 4), channels_last=False):
    """Memories of square ``size`` or ``(height, width)`` maps."""
    torch.manual_seed(1)
    sizes = [size if isinstance(size, tuple) else (size, size)
             for size in sizes]
    memories = [torch.randn(batch, EMBED, *size) for size in sizes]
    if channels_last:
        memories = [m.contiguous(memory_format=torch.channels_last)
                    for m in memories]
    return memories


@pytest.mark.parametrize('batch,num_keypoints,options', [
    (1, 5, {}),
    (3, 19, {}),
    (2, 68, dict(query_update='add', initial_predictor='pool')),
    (2, 5, dict(use_pyramid=False)),
    (2, 5, dict(use_dlr=False)),
    (2, 5, dict(encode_landmark_positions=False, tau=10.)),
    (2, 5, dict(initial_memory_size=(4, 3), sizes=((16, 12), (8, 6),
                                                   (4, 3)))),
])
@pytest.mark.parametrize('training', [False, True])
def test_head_fast_path_equals_reference(batch, num_keypoints, options,
                                         training):
    options = dict(options)
    sizes = options.pop('sizes', (16, 8, 4))
    if not options.get('use_pyramid', True):
        sizes = sizes[-1:]
    fast, reference = fast_and_reference(
        make_head(num_keypoints, **options).train(training))
    outputs = []
    for head in (fast, reference):
        memories = [m.requires_grad_() for m in make_memories(batch, sizes)]
        landmark_sets = head(memories)
        torch.manual_seed(2)
        sum((s * torch.randn_like(s)).sum() for s in landmark_sets).backward()
        outputs.append((landmark_sets, [m.grad for m in memories]))
    (fast_sets, fast_memory_grads), (ref_sets, ref_memory_grads) = outputs
    assert len(fast_sets) == len(ref_sets) == 3 + options.get('use_dlr', 1)
    for fast_set, ref_set in zip(fast_sets, ref_sets):
        assert fast_set.shape == (batch, num_keypoints, 2)
        assert_close(fast_set, ref_set, **TOL)
    for fast_grad, ref_grad in zip(fast_memory_grads, ref_memory_grads):
        assert_close(fast_grad, ref_grad, **TOL)
    assert_same_grads(fast, reference)


def test_head_reads_channels_last_memories_like_contiguous_ones():
    head = make_head().eval()
    plain = head(make_memories(2))
    channels_last = head(make_memories(2, channels_last=True))
    for a, b in zip(plain, channels_last):
        assert_close(a, b, **TOL)


@pytest.mark.parametrize('batch', [1, 2])
def test_neck_fast_path_equals_reference_and_is_channels_last(batch):
    torch.manual_seed(0)
    fast, reference = fast_and_reference(
        CrossScaleNeck([16, 24, 40, 48], embed_dims=EMBED, num_heads=4,
                       ffn_dims=64, dropout=0.))
    torch.manual_seed(1)
    features = [torch.randn(batch, c, s, s)
                for c, s in zip([16, 24, 40, 48], (32, 16, 8, 4))]
    weights = [torch.randn(batch, EMBED, s, s) for s in (16, 8, 4)]
    fast_memories = fast(features)
    ref_memories = reference(features)
    for memory, ref_memory in zip(fast_memories, ref_memories):
        assert_close(memory, ref_memory, **TOL)
        # the fast path's point: (B, C, H, W) -> (B, HW, C) is a view
        assert memory.is_contiguous(memory_format=torch.channels_last)
        assert memory.flatten(2).transpose(1, 2).is_contiguous()
    for memories in (fast_memories, ref_memories):
        sum((m * w).sum() for m, w in zip(memories, weights)).backward()
    assert_same_grads(fast, reference)


def test_full_model_outputs_and_gradients_equal_reference():
    init_default_scope('mmpose')
    cfg = Config.fromfile(R18_CONFIG)
    cfg.model.backbone.init_cfg = None
    cfg.model.neck.update(embed_dims=EMBED, num_heads=4, ffn_dims=64,
                          dropout=0.)
    cfg.model.head.update(
        num_keypoints=7, embed_dims=EMBED, num_heads=4, ffn_dims=64,
        predictor_dims=32, dropout=0., initial_memory_size=(2, 2),
        decoder=dict(type='DLRLabel', input_size=(64, 64)))
    torch.manual_seed(0)
    fast, reference = fast_and_reference(MODELS.build(cfg.model))
    torch.manual_seed(1)
    inputs = torch.randn(2, 3, 64, 64)
    fast_sets = fast(inputs, None, mode='tensor')
    ref_sets = reference(inputs, None, mode='tensor')
    assert len(fast_sets) == 4
    for fast_set, ref_set in zip(fast_sets, ref_sets):
        assert_close(fast_set, ref_set, **TOL)
    torch.manual_seed(2)
    weights = [torch.randn_like(s) for s in fast_sets]
    sum((s * w).sum() for s, w in zip(fast_sets, weights)).backward()
    sum((s * w).sum() for s, w in zip(ref_sets, weights)).backward()
    assert_same_grads(fast, reference)


# ------------------------------------------------------------- checkpoints
def expected_head_keys(num_stages):
    keys = {'landmark_embed.weight', 'initial_predictor.fc.weight',
            'initial_predictor.fc.bias'}
    for i in range(num_stages):
        for block in ('landmark_to_landmark', 'landmark_to_memory'):
            prefix = f'stages.{i}.{block}'
            keys |= {f'{prefix}.attn.in_proj_weight',
                     f'{prefix}.attn.in_proj_bias',
                     f'{prefix}.attn.out_proj.weight',
                     f'{prefix}.attn.out_proj.bias',
                     f'{prefix}.norm.weight', f'{prefix}.norm.bias'}
        for layer in ('ffn.0', 'ffn.3', 'norm'):
            keys |= {f'stages.{i}.feed_forward.{layer}.{p}'
                     for p in ('weight', 'bias')}
        keys |= {f'coordinate_predictors.{i}.layers.{layer}.{p}'
                 for layer in (0, 2) for p in ('weight', 'bias')}
    return keys


def test_state_dict_keys_are_the_checkpoint_format():
    head = make_head(num_stages=2)
    assert set(head.state_dict()) == expected_head_keys(2)
    neck = CrossScaleNeck([16, 24, 40], embed_dims=EMBED, num_heads=4)
    assert {k for k in neck.state_dict() if 'attention' in k} >= {
        'cross_scale_attentions.0.attention.attn.in_proj_weight',
        'cross_scale_attentions.1.attention.attn.out_proj.bias',
        'cross_scale_attentions.1.feed_forward.norm.weight'}
    # no buffer or parameter comes with the fast path
    for module in (head, neck):
        _, reference = fast_and_reference(module)
        assert set(reference.state_dict()) == set(module.state_dict())


def test_reference_checkpoint_loads_strictly_into_fast_model():
    source = set_fast_path(make_head(num_keypoints=9), False).eval()
    checkpoint = copy.deepcopy(source.state_dict())
    torch.manual_seed(123)  # other weights, then overwritten
    target = PTHHead(**{**dict(
        num_keypoints=9, embed_dims=EMBED, num_heads=4, ffn_dims=64,
        predictor_dims=32, dropout=0., initial_memory_size=(4, 4))}).eval()
    assert target.fast
    target.load_state_dict(checkpoint, strict=True)
    memories = make_memories(2)
    for a, b in zip(target(memories), source(memories)):
        assert_close(a, b, **TOL)


def test_set_fast_path_switches_every_module_that_has_both():
    neck = CrossScaleNeck([16, 24, 40], embed_dims=EMBED, num_heads=4)
    head = make_head()
    model = nn.ModuleList([neck, head])
    switchable = [m for m in model.modules()
                  if getattr(m, 'supports_fast_path', False)]
    # neck, head, 2 neck attentions, 2 attentions in each of 3 stages
    assert len(switchable) == 2 + 2 + 6
    assert all(m.fast for m in switchable)
    assert set_fast_path(model, False) is model
    assert not any(m.fast for m in switchable)
