"""CrossScaleNeck: pyramid memories built top-down (Eq. 3-4)."""
import pytest
import torch
import torch.nn.functional as F

from repformer_mmpose.models import CrossScaleNeck
from repformer_mmpose.models.necks import CrossScaleAttention

RESNET18_CHANNELS = [64, 128, 256, 512]


def resnet18_like_features(batch=1, size=128):
    return [
        torch.randn(batch, c, size // s, size // s)
        for c, s in zip(RESNET18_CHANNELS, (4, 8, 16, 32))
    ]


def test_value_path_is_hadamard_product_with_upsampled_memory():
    features = torch.tensor([[[[1., 1., 2., 2.]]]])  # (1, 1, 1, 4)
    upper = torch.tensor([[[[0., 4.]]]])  # (1, 1, 1, 2)
    # Bilinear x2 (half-pixel centres): 0, 0*.75+4*.25, 0*.25+4*.75, 4
    fused = CrossScaleAttention.fuse_value(features, upper)
    assert torch.allclose(fused, torch.tensor([[[[0., 1., 6., 8.]]]]))


def test_cross_scale_attention_follows_eq3_eq4():
    torch.manual_seed(0)
    block = CrossScaleAttention(8, 2, 16, dropout=0.).eval()
    features, upper = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 2, 2)
    pos = torch.randn(16, 8)
    out = block(features, upper, pos)

    z = features.flatten(2).transpose(1, 2)
    v_bar = F.interpolate(upper, size=(4, 4), mode='bilinear')
    v_hat = (features * v_bar).flatten(2).transpose(1, 2)
    attn = block.attention.attn(z + pos, v_hat + pos, v_hat)[0]
    z_hat = block.attention.norm(z + attn)  # Eq. 3
    ffn = block.feed_forward
    v = ffn.norm(z_hat + ffn.ffn(z_hat))  # Eq. 4
    assert torch.allclose(out, v.transpose(1, 2).reshape(2, 8, 4, 4),
                          atol=1e-5)


def test_default_levels_and_top_memory_is_projected_top_feature():
    torch.manual_seed(0)
    neck = CrossScaleNeck(RESNET18_CHANNELS, embed_dims=32, num_heads=4,
                          ffn_dims=64).eval()
    assert neck.in_indices == (1, 2, 3)  # no attention at stride 4
    feats = resnet18_like_features()
    memories = neck(feats)
    assert [tuple(m.shape) for m in memories] == [(1, 32, 16, 16),
                                                  (1, 32, 8, 8),
                                                  (1, 32, 4, 4)]
    # Eq. 4, i = M: v_M = z_M.
    assert torch.allclose(memories[-1], neck.input_projections[-1](feats[3]))


def test_memories_propagate_top_down_only():
    torch.manual_seed(0)
    neck = CrossScaleNeck(RESNET18_CHANNELS, embed_dims=32, num_heads=4,
                          ffn_dims=64).eval()
    feats = resnet18_like_features()
    base = neck(feats)
    # Changing the top level changes every lower memory ...
    top_changed = list(feats)
    top_changed[3] = feats[3] + 1.
    changed = neck(top_changed)
    assert not torch.allclose(changed[0], base[0])
    # ... changing the lowest used level leaves the ones above unchanged.
    low_changed = list(feats)
    low_changed[1] = feats[1] + 1.
    changed = neck(low_changed)
    assert not torch.allclose(changed[0], base[0])
    assert torch.allclose(changed[1], base[1])
    assert torch.allclose(changed[2], base[2])


def test_single_level_neck_is_projection_only():
    neck = CrossScaleNeck(RESNET18_CHANNELS, in_indices=(3, ), embed_dims=32)
    assert len(neck.cross_scale_attentions) == 0
    assert len(neck(resnet18_like_features())) == 1


@pytest.mark.parametrize('in_indices', [(2, 1), (1, 1, 2), (2, 4), ()])
def test_bad_in_indices_are_rejected(in_indices):
    with pytest.raises(ValueError, match='in_indices'):
        CrossScaleNeck(RESNET18_CHANNELS, in_indices=in_indices)
