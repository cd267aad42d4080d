"""PTHHead: stages (Eq. 5-6), dynamic landmark refinement (Eq. 7-10)."""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from mmpose.structures import PoseDataSample
from repformer_mmpose.codecs import DLRLabel
from repformer_mmpose.models import PTHHead

EMBED = 32
NUM_KPTS = 5
CODEC = dict(type='DLRLabel', input_size=(128, 128))


def make_head(**kwargs):
    torch.manual_seed(0)
    options = dict(
        num_keypoints=NUM_KPTS,
        embed_dims=EMBED,
        num_heads=4,
        ffn_dims=64,
        predictor_dims=32,
        dropout=0.,
        initial_memory_size=(4, 4),
        decoder=CODEC)
    options.update(kwargs)
    return PTHHead(**options)


def make_memories(batch=2):
    torch.manual_seed(1)
    return tuple(
        torch.randn(batch, EMBED, size, size) for size in (16, 8, 4))


def make_samples(batch=2, flip_indices=(4, 3, 2, 1, 0)):
    samples = []
    rng = np.random.default_rng(0)
    for _ in range(batch):
        sample = PoseDataSample(
            metainfo=dict(
                flip_indices=list(flip_indices),
                input_size=(128, 128),
                input_center=np.array([100., 50.]),
                input_scale=np.array([256., 256.])))
        sample.gt_instance_labels = InstanceData(
            keypoint_labels=torch.from_numpy(
                rng.uniform(0, 1, (1, NUM_KPTS, 2)).astype(np.float32)),
            keypoint_weights=torch.tensor([[1., 1., 0., 1., 1.]]))
        samples.append(sample)
    return samples


def test_eq8_each_stage_adds_its_residual():
    head = make_head().eval()
    residual = torch.tensor([0.01, -0.02])
    for predictor in head.coordinate_predictors:
        torch.nn.init.zeros_(predictor.layers[-1].weight)
        predictor.layers[-1].bias.data.copy_(residual)
    sets = head(make_memories())
    assert len(sets) == 4  # L^0 .. L^3
    for i in range(1, 4):
        assert torch.allclose(sets[i], sets[0] + i * residual, atol=1e-6)


def test_initial_landmarks_start_at_the_image_centre():
    head = make_head()
    torch.nn.init.zeros_(head.initial_predictor.fc.weight)
    initial = head(make_memories())[0]
    assert torch.allclose(initial, torch.full_like(initial, 0.5))


def test_pyramid_stages_read_memories_top_down():
    for use_pyramid, expected in [(True, [4, 8, 16]), (False, [4, 4, 4])]:
        head = make_head(use_pyramid=use_pyramid)
        memories = make_memories() if use_pyramid else make_memories()[-1:]
        seen = []

        def record(module, args, output, seen=seen):
            seen.append(int(args[2].shape[1]**0.5))

        for stage in head.stages:
            stage.register_forward_hook(record)
        head(memories)
        assert seen == expected


def test_aggregated_queries_carry_gradient_to_landmarks():
    memories = make_memories()
    grads = {}
    for detach in (False, True):
        head = make_head(detach_landmarks=detach)
        head(memories)[-1].sum().backward()
        grads[detach] = head.initial_predictor.fc.weight.grad.clone()
    # L^0 gets gradient both through Eq. 8's sum and through Eq. 9-10;
    # detaching the aggregation anchors removes the second path.
    assert not torch.allclose(grads[False], grads[True])


def test_gradients_reach_every_stage_and_the_memories():
    memories = tuple(m.requires_grad_() for m in make_memories())
    head = make_head()
    head(memories)[-1].sum().backward()
    for index, stage in enumerate(head.stages):
        grad = sum(p.grad.abs().sum() for p in stage.parameters())
        assert grad > 0, f'stage {index} got no gradient'
    assert all(m.grad.abs().sum() > 0 for m in memories)


def test_loss_is_weighted_l1_on_every_stage():
    head = make_head(stage_loss_weights=[1., 2., 3., 4.])
    memories, samples = make_memories(), make_samples()
    losses = head.loss(memories, samples)
    sets = head(memories)
    labels = torch.cat([s.gt_instance_labels.keypoint_labels for s in samples])
    weights = torch.cat(
        [s.gt_instance_labels.keypoint_weights for s in samples])[..., None]
    for i, weight in enumerate([1., 2., 3., 4.]):
        expected = ((sets[i] - labels).abs() * weights).mean() * weight
        assert torch.allclose(losses[f'loss_stage{i}'], expected, atol=1e-6)
    assert 0 <= float(losses['acc_pose']) <= 1


def test_loss_names_a_keypoint_count_mismatch():
    head = make_head(num_keypoints=NUM_KPTS + 1)
    with pytest.raises(ValueError, match=f'num_keypoints={NUM_KPTS + 1}.*'
                       f'carry {NUM_KPTS} keypoints'):
        head.loss(make_memories(), make_samples())


def test_baseline_supervises_stages_one_to_k():
    head = make_head(use_dlr=False, use_pyramid=False)
    assert head.initial_predictor is None
    losses = head.loss(make_memories()[-1:], make_samples())
    assert sorted(k for k in losses if k.startswith('loss')) == [
        'loss_stage1', 'loss_stage2', 'loss_stage3'
    ]
    sets = head(make_memories()[-1:])
    assert all(((s >= 0) & (s <= 1)).all() for s in sets)


def test_query_update_modes_differ():
    memories = make_memories()
    replace = make_head(query_update='replace').eval()(memories)[-1]
    add = make_head(query_update='add').eval()(memories)[-1]
    assert not torch.allclose(replace, add)


def test_predict_flip_test_averages_with_flipped_prediction():
    head = make_head().eval()
    memories, samples = make_memories(), make_samples()
    codec = DLRLabel((128, 128))
    with torch.no_grad():
        plain = head.predict(memories, samples, dict(flip_test=False))
        flipped = head.predict([memories, memories], samples,
                               dict(flip_test=True))
        last = head(memories)[-1]
    flip_indices = samples[0].metainfo['flip_indices']
    expected = (last + codec.flip(last, flip_indices)) / 2
    for b in range(2):
        assert np.allclose(plain[b].keypoints,
                           codec.denormalize(last[b:b + 1]).numpy(),
                           atol=1e-4)
        assert np.allclose(flipped[b].keypoints,
                           codec.denormalize(expected[b:b + 1]).numpy(),
                           atol=1e-4)


def test_predict_can_return_every_stage_in_image_space():
    head = make_head().eval()
    samples = make_samples()
    with torch.no_grad():
        preds = head.predict(make_memories(), samples,
                             dict(output_stages=True))
    stages = preds[0].stage_keypoints
    assert stages.shape == (1, 4, NUM_KPTS, 2)
    # The last stage, mapped like TopdownPoseEstimator maps `keypoints`.
    meta = samples[0].metainfo
    image_space = (preds[0].keypoints / 128 * meta['input_scale'] +
                   meta['input_center'] - 0.5 * meta['input_scale'])
    assert np.allclose(stages[:, -1], image_space, atol=1e-3)


@pytest.mark.parametrize(
    'kwargs, message',
    [(dict(query_update='concat'), 'query_update'),
     (dict(tau=0.), 'tau must be positive'),
     (dict(stage_loss_weights=[1., 1.]), 'stage_loss_weights needs 4'),
     (dict(initial_predictor='mlp'), "'flatten' or 'pool'")])
def test_bad_options_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_head(**kwargs)


def test_layer_parameter_names_are_the_checkpoints():
    """PTHStage and CrossScaleAttention build their blocks from
    ``TransformerLayer.attention_names``: the parameter names, hence the
    checkpoint keys, are the ones trained checkpoints carry."""
    from repformer_mmpose.models.necks.cross_scale_attention import \
        CrossScaleAttention

    def blocks(module):
        return [name.split('.')[0] for name, _ in module.named_parameters()]

    assert sorted(set(blocks(make_head().stages[0]))) == [
        'feed_forward', 'landmark_to_landmark', 'landmark_to_memory']
    assert blocks(make_head().stages[0])[0] == 'landmark_to_landmark'
    assert sorted(set(blocks(CrossScaleAttention(EMBED, 4, 64)))) == [
        'attention', 'feed_forward']


def test_every_memory_must_be_read():
    with pytest.raises(ValueError, match='reads 3 memories, the neck gives 1'):
        make_head()(make_memories()[-1:])
    with pytest.raises(ValueError, match='reads 1 memories, the neck gives 3'):
        make_head(use_pyramid=False)(make_memories())


def test_flatten_predictor_checks_memory_size():
    with pytest.raises(ValueError, match='initial_memory_size'):
        make_head(initial_memory_size=(8, 8))(make_memories())


def test_stage_sees_landmark_moves_inside_one_memory_cell():
    """Two L^0 in the same 4x4 cell aggregate the same query under a sharp
    tau; the landmark position encoding still lets the stage tell them
    apart, so it can predict different residuals."""
    residuals = {}
    for encode in (True, False):
        head = make_head(encode_landmark_positions=encode, tau=1e6).eval()
        for predictor in head.coordinate_predictors:
            torch.nn.init.normal_(predictor.layers[-1].weight)
        memories = make_memories(batch=1)
        out = []
        for x in (0.05, 0.2):  # both in the first cell of the 4x4 map
            torch.nn.init.zeros_(head.initial_predictor.fc.weight)
            head.initial_predictor.fc.bias.data.fill_(
                float(torch.logit(torch.tensor(x))))
            sets = head(memories)
            out.append(sets[1] - sets[0])
        residuals[encode] = out
    assert not torch.allclose(*residuals[True], atol=1e-4)
    assert torch.allclose(*residuals[False], atol=1e-5)
