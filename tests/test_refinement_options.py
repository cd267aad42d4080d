"""PTHHead options beyond the paper (issue 17), each against its equation."""
import math

import numpy as np
import pytest
import torch
from test_head import make_head, make_memories, make_samples

from repformer_mmpose.models.heads.refinement_options import (
    LandmarkPositionEncoding, SubCellOffset, sigma_cells_to_tau)
from repformer_mmpose.models.utils import (aggregation_weights,
                                           grid_aggregation_weights,
                                           grid_axis_centers, pixel_centers)
from repformer_mmpose.models.utils.dynamic_aggregation import \
    aggregation_centroid


def test_sigma_in_cells_gives_tau_by_hand():
    # tau = size^2 / (2 sigma^2): 4x4 memory, sigma 0.5 cell -> 32
    assert sigma_cells_to_tau(0.5, (4, 4)) == (32., 32.)
    # per axis on a non-square memory (H=2, W=8), sigma 1 cell
    assert sigma_cells_to_tau(1., (2, 8)) == (32., 2.)
    # the paper's tau = 1000 on its 32x32 memory is sigma 0.72 cells
    assert sigma_cells_to_tau(1 / math.sqrt(2000) * 32, (32, 32))[0] == \
        pytest.approx(1000.)
    with pytest.raises(ValueError, match='positive'):
        sigma_cells_to_tau(0., (4, 4))


def test_sigma_in_cells_is_the_spread_of_the_weights():
    """On a fine grid the Eq. 10 weights are a sampled Gaussian: their
    standard deviation, in cells, is the sigma asked for."""
    size = 64
    xs, ys = grid_axis_centers(size, size)
    for sigma in (0.7, 2.):
        tau = sigma_cells_to_tau(sigma, (size, size))
        landmark = torch.tensor([[[0.5 + 0.5 / size, 0.5 + 0.5 / size]]])
        weights = grid_aggregation_weights(landmark, xs, ys, tau)
        weights = weights.view(size, size).sum(0)  # x marginal
        cells = torch.arange(size, dtype=torch.float64)
        mean = (weights * cells).sum()
        std = ((weights * (cells - mean)**2).sum()).sqrt()
        assert float(std) == pytest.approx(sigma, rel=0.02)


def test_per_axis_temperature_matches_numpy_on_both_paths():
    landmarks = torch.tensor([[[0.3, 0.6], [0.9, 0.1]]])
    tau = (40., 5.)
    pixels = pixel_centers(3, 4)
    expected = []
    for lx, ly in landmarks[0].tolist():
        logits = np.array([-(tau[0] * (lx - cx)**2 + tau[1] * (ly - cy)**2)
                           for cx, cy in pixels.tolist()])
        weights = np.exp(logits - logits.max())
        expected.append(weights / weights.sum())
    reference = aggregation_weights(landmarks, pixels, tau)[0]
    xs, ys = grid_axis_centers(3, 4)
    fast = grid_aggregation_weights(landmarks, xs, ys, tau)[0]
    assert np.allclose(reference.numpy(), expected, atol=1e-6)
    assert np.allclose(fast.numpy(), expected, atol=1e-6)


def test_centroid_of_the_weights_by_hand():
    # two columns at 0.25 and 0.75; tau = 4 ln 3 puts weights 3/4, 1/4 on
    # them for a landmark at 0.25 -> centroid 0.375 (the same on y)
    xs, ys = grid_axis_centers(2, 2)
    landmark = torch.tensor([[[0.25, 0.25]]])
    centroid = aggregation_centroid(landmark, xs, ys, 4 * math.log(3))
    assert torch.allclose(centroid, torch.tensor([[[0.375, 0.375]]]))


def test_subcell_offset_is_a_linear_map_of_the_offset_in_cells():
    offset = SubCellOffset(3)
    with torch.no_grad():
        offset.proj.weight.copy_(torch.tensor([[1., 0.], [0., 1.],
                                               [2., -1.]]))
        offset.proj.bias.zero_()
    xs, ys = grid_axis_centers(4, 4)
    # a sharp tau: the centroid is the centre of the landmark's cell
    # (0.125, 0.375); offsets (0.2 - 0.125) * 4 = 0.3, (0.3 - 0.375) * 4
    # = -0.3 cells
    out = offset(torch.tensor([[[0.2, 0.3]]]), xs, ys, 1e6)
    assert torch.allclose(out, torch.tensor([[[0.3, -0.3, 0.9]]]),
                          atol=1e-5)


def test_subcell_offset_moves_the_query_inside_a_cell():
    """Two L^0 in the same 4x4 cell: with a sharp tau, without the
    position encoding, the stage sees the same query (and predicts the same
    residual) unless the sub-cell offset is on."""
    residuals = {}
    for subcell in (False, True):
        head = make_head(encode_landmark_positions=False, tau=1e6,
                         subcell_offset=subcell).eval()
        for predictor in head.coordinate_predictors:
            torch.nn.init.normal_(predictor.layers[-1].weight)
        out = []
        for x in (0.05, 0.2):  # both in the first column of cells
            torch.nn.init.zeros_(head.initial_predictor.fc.weight)
            head.initial_predictor.fc.bias.data.fill_(
                float(torch.logit(torch.tensor(x))))
            sets = head(make_memories(batch=1))
            out.append(sets[1] - sets[0])
        residuals[subcell] = out
    assert torch.allclose(*residuals[False], atol=1e-5)
    assert not torch.allclose(*residuals[True], atol=1e-4)


def stage_inputs(head, memories):
    """The queries ``E^1`` the first stage receives."""
    seen = []
    head.stages[0].register_forward_pre_hook(
        lambda module, args: seen.append(args[0].detach().clone()))
    head(memories)
    return seen[0]


def test_identity_in_query_separates_co_located_landmarks():
    for identity in (False, True):
        head = make_head(landmark_identity_in_query=identity).eval()
        torch.nn.init.zeros_(head.initial_predictor.fc.weight)  # all at .5
        queries = stage_inputs(head, make_memories(batch=1))[0]
        if identity:
            # E^1_j = aggregated + z_j (Eq. 9 plus the identity vector)
            plain = queries - head.landmark_identity.weight
            assert torch.allclose(plain, plain[:1].expand_as(plain),
                                  atol=1e-5)
            assert not torch.allclose(queries[0], queries[1])
        else:
            assert torch.allclose(queries, queries[:1].expand_as(queries))


def test_sharp_encoding_by_hand_and_against_the_default():
    sharp = LandmarkPositionEncoding(8, 'sharp', min_period=0.25)
    # C = 8: 4 channels per axis, periods 0.25 * 64^(0, 0, 1/2, 1/2):
    # y first: sin(2 pi y / 0.25), cos(2 pi y / 0.25), sin(.. / 2), cos(..)
    x, y = 0.1, 0.3
    encoding = sharp(torch.tensor([x, y]))
    expected = []
    for value in (y, x):
        for period in (0.25, 0.25 * 8):
            angle = 2 * math.pi * value / period
            expected += [math.sin(angle), math.cos(angle)]
    assert torch.allclose(encoding, torch.tensor(expected), atol=1e-5)
    # points 1/64 of the image apart: alike under DETR's encoding, not
    # under the sharp one
    default = LandmarkPositionEncoding(128, 'sine')
    sharp = LandmarkPositionEncoding(128, 'sharp')
    a, b = torch.tensor([0.5, 0.5]), torch.tensor([0.5 + 1 / 64, 0.5])

    def similarity(encoder):
        return float(torch.cosine_similarity(encoder(a), encoder(b), 0))

    assert similarity(default) > 0.99
    assert similarity(sharp) < 0.95


def test_learned_encoding_is_an_mlp_on_the_sharp_one():
    learned = LandmarkPositionEncoding(16, 'learned', min_period=1 / 16)
    sharp = LandmarkPositionEncoding(16, 'sharp', min_period=1 / 16)
    points = torch.rand(3, 5, 2)
    assert torch.allclose(learned(points), learned.mlp(sharp(points)))


def test_residual_stop_gradient_keeps_values_and_cuts_eq8_gradient():
    memories = make_memories()
    plain = make_head().eval()
    stopped = make_head(residual_stop_gradient=True).eval()
    assert all(
        torch.equal(a, b) for a, b in zip(plain(memories), stopped(memories)))
    # through Eq. 8 only: dL^1/dL^0 is the identity without the option,
    # zero with it; the query path is left to detach_landmarks
    for head, expected in ((plain, 1.), (stopped, 0.)):
        landmarks = head.initial_predictor(memories[-1]).detach()
        base = landmarks.clone().requires_grad_()
        _, refined = head.refinement_stage(
            0, head.stage_memory(memories, 0), landmarks, None,
            residual_base=base)
        (grad, ) = torch.autograd.grad(refined.sum(), base,
                                       allow_unused=True)
        if expected:
            assert torch.allclose(grad, torch.ones_like(grad))
        else:
            assert grad is None


def test_residual_stop_gradient_leaves_l0_to_its_own_loss():
    memories, samples = make_memories(), make_samples()
    grads = {}
    for stop in (False, True):
        head = make_head(residual_stop_gradient=stop, detach_landmarks=True)
        losses = head.loss(memories, samples)
        losses['loss_stage3'].backward()
        grads[stop] = head.initial_predictor.fc.weight.grad
    assert grads[False].abs().sum() > 0
    assert grads[True] is None or grads[True].abs().sum() == 0


def test_per_stage_temperatures():
    head = make_head(tau=[10., 100., 1000.])
    assert [head.stage_temperature(i, (4, 4)) for i in range(3)] == \
        [10., 100., 1000.]
    head = make_head(aggregation_sigma_cells=[1., 0.5, 0.5])
    assert head.stage_temperature(0, (4, 4)) == (8., 8.)
    assert head.stage_temperature(2, (16, 16)) == (512., 512.)


@pytest.mark.parametrize('kwargs, message', [
    (dict(tau=float('nan')), 'tau must be positive and finite'),
    (dict(tau=[1., 2.]), 'tau needs 1 or 3 values'),
    (dict(aggregation_sigma_cells=-1.), 'aggregation_sigma_cells must be'),
    (dict(landmark_pos_encoding='rope'), 'landmark_pos_encoding must be'),
    (dict(landmark_pos_min_period=0.), 'landmark_pos_min_period'),
])
def test_bad_refinement_options_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_head(**kwargs)


def test_gelu_predictor_by_hand_and_a_dead_relu_one_has_no_gradient():
    """Eq. 7's FFN ``W_2 act(W_1 e + b_1) + b_2``: with ReLU and every
    pre-activation negative the residual is the constant ``b_2`` and no
    gradient reaches the query (a dead predictor: its stage cannot
    refine); GELU keeps a gradient."""
    from repformer_mmpose.models.heads.landmark_predictors import \
        CoordinatePredictor
    query = torch.tensor([[[0.5, -1.0]]], requires_grad=True)
    outputs = {}
    for activation in ('relu', 'gelu'):
        predictor = CoordinatePredictor(2, 2, activation=activation)
        first, last = predictor.layers[0], predictor.layers[2]
        with torch.no_grad():
            first.weight.copy_(torch.tensor([[1., 0.], [0., 1.]]))
            first.bias.fill_(-2.)  # pre-activations -1.5 and -3
            last.weight.copy_(torch.tensor([[1., 2.], [3., 4.]]))
            last.bias.copy_(torch.tensor([0.1, 0.2]))
        output = predictor(query)
        (grad, ) = torch.autograd.grad(output.sum(), query)
        outputs[activation] = output.detach(), grad
    relu_out, relu_grad = outputs['relu']
    assert torch.equal(relu_out, torch.tensor([[[0.1, 0.2]]]))
    assert torch.equal(relu_grad, torch.zeros_like(query))
    gelu = [x * 0.5 * (1 + math.erf(x / math.sqrt(2))) for x in (-1.5, -3.)]
    gelu_out, gelu_grad = outputs['gelu']
    expected = [0.1 + gelu[0] + 2 * gelu[1], 0.2 + 3 * gelu[0] + 4 * gelu[1]]
    assert gelu_out.flatten().tolist() == pytest.approx(expected, abs=1e-5)
    assert gelu_grad.abs().min() > 0
    with pytest.raises(ValueError, match='activation must be one of'):
        CoordinatePredictor(2, 2, activation='tanh')


def test_head_builds_gelu_predictors_for_every_stage():
    head = make_head(predictor_activation='gelu')
    assert all(isinstance(p.layers[1], torch.nn.GELU)
               for p in head.coordinate_predictors)
    assert all(isinstance(p.layers[1], torch.nn.ReLU)
               for p in make_head().coordinate_predictors)  # the paper's
    # same parameters: a ReLU checkpoint loads into a GELU head
    head.load_state_dict(make_head().state_dict())


def test_options_off_leave_the_paper_head_unchanged():
    """Parameters of the paper's head are the same (same seed) with any
    option on: the options' own modules are built last."""
    plain = make_head().state_dict()
    full = make_head(subcell_offset=True, landmark_identity_in_query=True,
                     landmark_pos_encoding='learned').state_dict()
    assert all(torch.equal(value, full[key]) for key, value in plain.items())
    assert set(full) - set(plain)


def test_training_noise_perturbs_each_stage_input_in_training_only():
    memories = make_memories()
    head = make_head(landmark_noise_std=0.05)
    plain = make_head()
    landmarks = head.initial_predictor(memories[-1]).detach()
    memory = head.stage_memory(memories, 0)
    head.eval()
    with torch.no_grad():
        assert torch.equal(head.refinement_stage(0, memory, landmarks,
                                                 None)[1],
                           plain.eval().refinement_stage(0, memory, landmarks,
                                                         None)[1])
    head.train()
    for module in head.modules():  # no dropout: only the noise differs
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.
    torch.manual_seed(3)
    noisy = head.refinement_stage(0, memory, landmarks, None)[1]
    torch.manual_seed(3)
    noise = torch.randn_like(landmarks) * 0.05
    expected = head.eval().refinement_stage(0, memory, landmarks + noise,
                                            None)[1]
    assert torch.allclose(noisy, expected, atol=1e-6)
    assert not torch.allclose(noisy, head.refinement_stage(
        0, memory, landmarks, None)[1], atol=1e-3)
    with pytest.raises(ValueError, match='non-negative and finite'):
        make_head(landmark_noise_std=-0.1)


def test_ablation_rows_start_from_the_paper_model():
    """A config's beyond-paper defaults (the CPU configs' sub-cell offset
    and confidence branch) do not leak into the ablation rows: "full" is
    the paper model and a refinement row adds only what it names."""
    from mmengine.config import Config

    from repformer_mmpose.evaluation.ablation import (apply_variant,
                                                      refinement_variant,
                                                      table2_variant)
    cfg = Config.fromfile('configs/repformer/300w/'
                          'repformer_res18-d128_1xb16-15e_300w-subset-'
                          '128x128.py')
    assert cfg.model.head.subcell_offset and cfg.model.head.uncertainty
    full = apply_variant(cfg, table2_variant('full')).model.head
    assert not full.subcell_offset and full.uncertainty is None
    baseline = apply_variant(cfg, table2_variant('baseline')).model.head
    assert not baseline.use_dlr and baseline.uncertainty is None
    row = apply_variant(cfg, refinement_variant('identity')).model.head
    assert row.landmark_identity_in_query and not row.subcell_offset
    assert cfg.model.head.subcell_offset  # the config itself is untouched
