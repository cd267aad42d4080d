"""Eq. 9-10 (dynamically aggregated queries) and the pixel grid."""
import math

import numpy as np
import pytest
import torch

from repformer_mmpose.models.utils import (SinePositionalEncoding2D,
                                           aggregate_queries,
                                           aggregation_weights, pixel_centers)


def numpy_eq10(landmarks, pixels, tau):
    """Independent Eq. 10: explicit loops, float64, max-shifted softmax."""
    weights = np.zeros((len(landmarks), len(pixels)))
    for j, (lx, ly) in enumerate(landmarks):
        logits = [-tau * ((lx - cx)**2 + (ly - cy)**2) for cx, cy in pixels]
        top = max(logits)
        exps = [math.exp(v - top) for v in logits]
        weights[j] = np.array(exps) / sum(exps)
    return weights


def test_pixel_centers_of_a_2x3_grid():
    expected = [[1 / 6, 1 / 4], [3 / 6, 1 / 4], [5 / 6, 1 / 4],
                [1 / 6, 3 / 4], [3 / 6, 3 / 4], [5 / 6, 3 / 4]]
    assert torch.allclose(pixel_centers(2, 3), torch.tensor(expected))


def test_eq10_weights_match_hand_computed_case():
    # 2x2 memory: centres (.25,.25) (.75,.25) (.25,.75) (.75,.75).
    # A landmark at (.25, .25) with tau = 4: squared distances 0, .25, .25,
    # .5 -> weights proportional to 1, e^-1, e^-1, e^-2.
    weights = aggregation_weights(
        torch.tensor([[[0.25, 0.25]]]), pixel_centers(2, 2), tau=4.)
    raw = np.array([1, math.exp(-1), math.exp(-1), math.exp(-2)])
    assert np.allclose(weights[0, 0].numpy(), raw / raw.sum(), atol=1e-6)


@pytest.mark.parametrize('tau', [10., 100., 1000., 10000.])
def test_eq10_weights_match_independent_numpy(tau):
    rng = np.random.default_rng(0)
    landmarks = rng.uniform(-0.1, 1.1, size=(5, 2))
    pixels = pixel_centers(4, 6).double()
    weights = aggregation_weights(
        torch.from_numpy(landmarks)[None], pixels, tau)[0]
    expected = numpy_eq10(landmarks, pixels.numpy(), tau)
    assert np.allclose(weights.numpy(), expected, atol=1e-10)
    assert np.allclose(weights.sum(-1).numpy(), 1.)


def test_eq9_is_the_weighted_sum_of_memory_pixels():
    torch.manual_seed(0)
    memory = torch.randn(2, 6, 3)
    landmarks = torch.rand(2, 4, 2)
    pixels = pixel_centers(2, 3)
    queries = aggregate_queries(memory, landmarks, pixels, tau=50.)
    weights = aggregation_weights(landmarks, pixels, 50.)
    for b in range(2):
        for j in range(4):
            expected = sum(weights[b, j, k] * memory[b, k] for k in range(6))
            assert torch.allclose(queries[b, j], expected, atol=1e-6)


def test_large_tau_is_a_hard_crop_of_the_nearest_pixel():
    memory = torch.arange(12.).view(1, 4, 3)  # 2x2 map, 3 channels
    landmark = torch.tensor([[[0.7, 0.3]]])  # nearest centre: (.75, .25)
    query = aggregate_queries(memory, landmark, pixel_centers(2, 2), 1e6)
    assert torch.allclose(query[0, 0], memory[0, 1])


def test_queries_are_differentiable_wrt_landmark_coordinates():
    torch.manual_seed(0)
    memory = torch.randn(1, 16, 8)
    landmarks = torch.rand(1, 3, 2, requires_grad=True)
    queries = aggregate_queries(memory, landmarks, pixel_centers(4, 4), 100.)
    queries.sum().backward()
    assert landmarks.grad is not None
    assert landmarks.grad.abs().min() > 0


def test_sine_encoding_values_and_cache():
    encoding = SinePositionalEncoding2D(8, temperature=10000.)
    values = encoding(1, 2, torch.device('cpu'))

    def channels(t):  # DETR: frequencies 1, 1, 100, 100 for 4 channels
        a = 2 * math.pi * t
        return [math.sin(a), math.cos(a), math.sin(a / 100),
                math.cos(a / 100)]

    for k, (x, y) in enumerate([(0.25, 0.5), (0.75, 0.5)]):
        expected = channels(y) + channels(x)
        assert np.allclose(values[k].numpy(), expected, atol=1e-6)
    assert encoding(1, 2, torch.device('cpu')) is values
    with pytest.raises(ValueError, match='divisible by 4'):
        SinePositionalEncoding2D(6)


def test_caches_filled_in_inference_mode_work_in_training():
    from repformer_mmpose.models import PTHHead
    head = PTHHead(
        num_keypoints=3, embed_dims=8, num_heads=2, ffn_dims=16,
        predictor_dims=8, initial_memory_size=(2, 2))
    memories = tuple(torch.randn(1, 8, s, s) for s in (7, 5, 2))
    with torch.inference_mode():
        head(memories)
    head(memories)[-1].sum().backward()  # no "inference tensor" error
    assert head.landmark_embed.weight.grad is not None
