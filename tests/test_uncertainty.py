"""The uncertainty branch (issue 15): NLL, calibration mapping, head
integration and the evaluation statistics, against hand computations."""
import math

import numpy as np
import pytest
import torch
from test_head import NUM_KPTS, make_head, make_memories, make_samples

from repformer_mmpose.evaluation.face_results import (FaceResult,
                                                      evaluate_faces)
from repformer_mmpose.evaluation.uncertainty_metrics import (
    auroc, evaluate_uncertainty, nme_drop, promised_drop, reference_rankings,
    sparsification_curve)
from repformer_mmpose.models.heads.uncertainty import (
    LandmarkUncertainty, interval_radius, negative_log_likelihood,
    occlusion_labels, probability_within)

UNCERTAINTY = dict(distribution='laplace', norm_indices=(0, 4))


def _faces_with_scales(occluded=None) -> list:
    """Three 2-point faces (inter-ocular 10): point 0 is off by 3, 6, 9
    with those scales, point 1 off by 1 with scale 1."""
    faces = []
    for i in range(3):
        gt = np.zeros((2, 2))
        pred = gt + [[3. * (i + 1), 0.], [0., 1.]]
        faces.append(FaceResult(f'f{i}.png', pred, gt, np.ones(2), 10.,
                                'inter-ocular 0/1',
                                scales=np.array([3. * (i + 1), 1.]),
                                occluded=occluded))
    return faces


def test_nll_by_hand():
    landmarks = torch.tensor([[[0.1, 0.2], [0.5, 0.5]]])
    targets = torch.tensor([[[0.13, 0.24], [0.5, 0.5]]])  # errors .05, 0
    log_scales = torch.log(torch.tensor([[0.02, 0.1]]))
    weights = torch.tensor([[1., 0.]])  # the second point is not scored
    laplace = negative_log_likelihood(landmarks, targets, log_scales,
                                      weights, 'laplace')
    expected = math.log(2 * math.pi) + 2 * math.log(0.02) + 0.05 / 0.02
    assert float(laplace) == pytest.approx(expected, rel=1e-5)
    gaussian = negative_log_likelihood(landmarks, targets, log_scales,
                                       weights, 'gaussian')
    expected = (math.log(2 * math.pi) + 2 * math.log(0.02) +
                0.05**2 / (2 * 0.02**2))
    assert float(gaussian) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize('distribution', ['laplace', 'gaussian'])
def test_calibration_mapping_matches_sampled_errors(distribution):
    """P(||r|| <= t) and its inverse against errors drawn from the 2-D
    model: Laplace radius ~ Gamma(2, b), Gaussian radius ~ Rayleigh(b)."""
    rng = np.random.default_rng(0)
    scale = 0.03
    radius = (rng.gamma(2., scale, 200000) if distribution == 'laplace'
              else rng.rayleigh(scale, 200000))
    for level in (0.5, 0.9):
        t = interval_radius(level, distribution) * scale
        assert np.mean(radius <= t) == pytest.approx(level, abs=0.005)
        assert float(probability_within(
            t, torch.tensor(scale, dtype=torch.float64),
            distribution)) == pytest.approx(level, abs=1e-9)
    # by hand: Laplace P(t = b) = 1 - 2/e; Gaussian sqrt(-2 ln .5)
    assert float(probability_within(1., torch.tensor(1.), 'laplace')) == \
        pytest.approx(1 - 2 / math.e)
    assert interval_radius(0.5, 'gaussian') == pytest.approx(
        math.sqrt(2 * math.log(2)))


def test_branch_trains_only_itself_and_leaves_coordinates_alone():
    memories, samples = make_memories(), make_samples()
    plain = make_head()
    branch = make_head(uncertainty=UNCERTAINTY)
    sets_plain, sets_branch = plain(memories), branch(memories)
    assert all(torch.equal(a, b) for a, b in zip(sets_plain, sets_branch))
    losses = branch.loss(memories, samples)
    assert sorted(k for k in losses if 'nll' in k) == [
        'loss_nll_stage1', 'loss_nll_stage2', 'loss_nll_stage3']
    sum(v for k, v in losses.items() if 'nll' in k).backward()
    assert all(p.grad is None for p in branch.stages.parameters())
    assert branch.initial_predictor.fc.weight.grad is None
    # the output layer starts at zero weights: it gets the first gradient
    output = branch.uncertainty.scale_predictors[0].layers[-1]
    assert output.weight.grad.abs().sum() > 0 and output.bias.grad != 0


def test_query_gradient_passes_its_share_of_the_nll_into_the_stages():
    """``query_gradient`` g: the stage parameters get exactly g times the
    NLL gradient of the undetached branch (``g = 1``), and so does L^0's
    predictor, which reaches the NLL only through the queries (the
    coordinates in the NLL are detached)."""
    memories, samples = make_memories(), make_samples()

    def nll_gradient(share: float) -> tuple:
        torch.manual_seed(0)
        head = make_head(uncertainty=dict(UNCERTAINTY,
                                          query_gradient=share))
        with torch.no_grad():  # a scale that depends on the query
            for predictor in head.uncertainty.scale_predictors:
                torch.nn.init.normal_(predictor.layers[-1].weight, std=0.1)
        losses = head.loss(memories, samples)
        sum(v for k, v in losses.items() if 'nll' in k).backward()
        stage = next(head.stages.parameters()).grad
        return stage, head.initial_predictor.fc.weight.grad

    full, full_initial = nll_gradient(1.)
    quarter, quarter_initial = nll_gradient(0.25)
    assert full.abs().sum() > 0
    assert torch.allclose(quarter, 0.25 * full, atol=1e-7)
    assert torch.allclose(quarter_initial, 0.25 * full_initial, atol=1e-6)
    assert nll_gradient(0.)[0] is None
    with pytest.raises(ValueError, match='query_gradient must be in'):
        make_head(uncertainty=dict(UNCERTAINTY, query_gradient=1.5))


def test_predict_scores_are_the_documented_confidence():
    head = make_head(uncertainty=UNCERTAINTY).eval()
    with torch.no_grad():
        head.uncertainty.scale_predictors[-1].layers[-1].bias.fill_(
            math.log(0.01))
        memories, samples = make_memories(), make_samples()
        preds = head.predict(memories, samples, {})
        landmarks = head(memories)[-1]
    for b in range(2):
        # d = distance of the predicted points 0 and 4, radius 0.1 d
        d = float((landmarks[b, 0] - landmarks[b, 4]).norm())
        ratio = 0.1 * d / 0.01
        expected = 1 - (1 + ratio) * math.exp(-ratio)
        assert np.allclose(preds[b].keypoint_scores, expected, atol=1e-5)
        assert preds[b].keypoint_scores.shape == (1, NUM_KPTS)
        # scale in image pixels: 0.01 of the 256-pixel crop
        assert np.allclose(preds[b].keypoint_scales, 2.56, atol=1e-4)
    plain = make_head().eval().predict(memories, samples, {})
    assert np.all(plain[0].keypoint_scores == 1)


def test_occlusion_labels_follow_the_flip():
    """Labels come from ``raw_ann_info``; a flipped sample's are reordered
    by ``flip_indices`` like its keypoints; unknown ones are NaN."""
    samples = make_samples(batch=3)
    occluded = [1, 1, 0, 0, 0]
    samples[0].set_metainfo(dict(raw_ann_info=dict(
        keypoints_occluded=occluded), flip=False))
    samples[1].set_metainfo(dict(raw_ann_info=dict(
        keypoints_occluded=occluded), flip=True))  # flip_indices 4..0
    labels = occlusion_labels(samples, NUM_KPTS)
    assert labels[0].tolist() == occluded
    assert labels[1].tolist() == [0, 0, 0, 1, 1]
    assert labels[2].isnan().all()
    samples[2].set_metainfo(dict(raw_ann_info=dict(
        keypoints_occluded=[1, 0])))
    with pytest.raises(ValueError, match='keypoints_occluded has 2 values '
                       'for 5 keypoints'):
        occlusion_labels(samples, NUM_KPTS)


def test_occlusion_loss_and_visibility_by_hand():
    """Occlusion logit c everywhere: the loss is the mean BCE over the
    labelled, scored points; the score is P(within) times sigmoid(-c)."""
    head = make_head(uncertainty=dict(UNCERTAINTY, occlusion_weight=2.))
    logit = 0.5
    with torch.no_grad():
        head.uncertainty.occlusion_predictor.layers[-1].bias.fill_(logit)
        head.uncertainty.scale_predictors[-1].layers[-1].bias.fill_(
            math.log(0.01))
    memories, samples = make_memories(), make_samples()
    # face 0: points 0, 1 occluded; face 1: no labels; point 2 weight 0
    samples[0].set_metainfo(dict(raw_ann_info=dict(
        keypoints_occluded=[1, 1, 1, 0, 0])))
    losses = head.loss(memories, samples)
    p_occluded = 1 / (1 + math.exp(-logit))
    # labelled and scored: points 0, 1 (occluded), 3, 4 (visible)
    expected = 2. * -(2 * math.log(p_occluded) +
                      2 * math.log(1 - p_occluded)) / 4
    assert losses['loss_occlusion'].item() == pytest.approx(expected)
    losses['loss_occlusion'].backward()
    assert head.uncertainty.occlusion_predictor.layers[-1].bias.grad != 0
    assert all(param.grad is None for param in head.stages.parameters())
    head.eval()
    with torch.no_grad():
        preds = head.predict(memories, samples, {})
        landmarks = head(memories)[-1]
    d = float((landmarks[0, 0] - landmarks[0, 4]).norm())
    ratio = 0.1 * d / 0.01
    within = 1 - (1 + ratio) * math.exp(-ratio)
    assert np.allclose(preds[0].keypoint_visibility, 1 - p_occluded,
                       atol=1e-6)
    assert np.allclose(preds[0].keypoint_scores, within * (1 - p_occluded),
                       atol=1e-5)
    # no label in the batch: the loss is 0 and trains nothing
    unlabelled = head.train().loss(memories, make_samples())
    assert unlabelled['loss_occlusion'].item() == 0
    # occlusion_query_gradient: the labels reach the stages
    shared = make_head(uncertainty=dict(
        UNCERTAINTY, occlusion_weight=2., occlusion_query_gradient=1.))
    torch.nn.init.normal_(
        shared.uncertainty.occlusion_predictor.layers[-1].weight)
    shared.loss(memories, samples)['loss_occlusion'].backward()
    assert next(shared.stages.parameters()).grad.abs().sum() > 0


def test_uncertainty_options_are_checked():
    with pytest.raises(ValueError, match='distribution must be one of'):
        make_head(uncertainty=dict(distribution='cauchy'))
    with pytest.raises(ValueError, match='needs use_dlr=True'):
        make_head(uncertainty=UNCERTAINTY, use_dlr=False,
                  use_pyramid=False)
    with pytest.raises(ValueError, match='occlusion_weight must be >= 0'):
        make_head(uncertainty=dict(UNCERTAINTY, occlusion_weight=-1))
    with pytest.raises(ValueError, match='occlusion_query_gradient must be'):
        make_head(uncertainty=dict(UNCERTAINTY, occlusion_query_gradient=2))


def test_auroc_by_hand():
    assert auroc([3., 4.], [1., 2.]) == 1.
    assert auroc([1., 2.], [3., 4.]) == 0.
    assert auroc([1., 3.], [2.]) == 0.5
    assert auroc([2.], [2.]) == 0.5  # a tie counts one half
    assert math.isnan(auroc([], [1.]))


def test_sparsification_by_hand():
    errors = np.array([4., 1., 2., 1.])
    # dropping by error: remaining means 2, 4/3, 1, 1 of the mean 2
    fractions, oracle = sparsification_curve(errors, errors, step=0.25)
    assert np.allclose(fractions, [0, .25, .5, .75])
    assert np.allclose(oracle, [1., 2 / 3, 0.5, 0.5])
    # a useless order (the smallest errors first) makes it worse
    _, inverse = sparsification_curve(-errors, errors, step=0.25)
    assert np.allclose(inverse, [1., 7 / 6, 1.5, 2.])


def test_drop_references_by_hand():
    """Two faces of two points, errors 1, 3 and 2, 6 (mean 3)."""
    errors = np.array([[1., 3.], [2., 6.]])
    rankings = reference_rankings(errors)
    assert np.allclose(rankings['landmark prior'], [[1.5, 4.5], [1.5, 4.5]])
    assert np.allclose(rankings['face NME'], [[2., 2.], [4., 4.]])
    assert np.allclose(rankings['face NME x landmark prior'],
                       [[3., 9.], [6., 18.]])
    # dropping a quarter: the 6 goes (mean 2 of 3) with the oracle, the 1
    # with the reversed order (mean 11/3)
    assert nme_drop(rankings['oracle'], errors, 0.25) == pytest.approx(1 / 3)
    assert nme_drop(-errors, errors, 0.25) == pytest.approx(-2 / 9)
    # scales 1, 1, 1, 5 promise expected errors in the same ratio: without
    # the 5 the mean falls from 2 to 1
    assert promised_drop(np.array([1., 1., 1., 5.]), 0.25) == \
        pytest.approx(0.5)


def test_confidence_bounds_tool_reads_a_dump(tmp_path, load_tool):
    """The analysis tool's table on two faces written as a dump."""
    import pickle
    tool = load_tool('analysis/confidence_bounds')
    samples = []
    for i, (offset, scale) in enumerate([(1., 1.), (4., 2.)]):
        gt = np.array([[0., 0.], [10., 0.], [5., 5.]])
        pred = gt + [[0., offset], [0., 0.], [0., 0.]]
        samples.append(dict(
            img_path=f'f{i}.png',
            gt_instances=dict(keypoints=gt[None]),
            pred_instances=dict(keypoints=pred[None],
                                keypoint_scales=np.full((1, 3), scale))))
    path = tmp_path / 'predictions.pkl'
    path.write_bytes(pickle.dumps(samples))
    from repformer_mmpose.evaluation.report import load_dump
    errors, scales = tool.errors_and_scales(load_dump(str(path)), (0, 1))
    assert np.allclose(errors, [[.1, 0, 0], [.4, 0, 0]])
    assert np.allclose(scales, [[.1] * 3, [.2] * 3])
    rows = {name: (rho, drop) for name, rho, drop in
            tool.bounds_table(errors, scales, fraction=1 / 6)}
    # dropping the worst point (0.4) leaves 0.1 / 5 of the mean 0.5 / 6
    assert rows['oracle (knows the test errors)'][1] == pytest.approx(0.76)
    assert rows['predicted scale, were the errors as predicted'][1] == \
        pytest.approx(1 - 0.7 / 5 / 0.15)


def test_evaluate_uncertainty_by_hand():
    errors = np.array([[0.01, 0.02, np.nan], [0.04, 0.08, 0.02]])
    scales = np.array([[0.005, 0.01, 1.], [0.02, 0.04, 0.01]])
    occluded = np.array([[0, 0, 1], [0, 1, 0]], float)
    result = evaluate_uncertainty(errors, scales, 'laplace', occluded)
    assert result.points == 5
    assert result.spearman == pytest.approx(1.)  # same order
    assert result.ause == pytest.approx(0.)  # the order is the oracle's
    # error / scale = 2 for every point: inside the 90 % region (3.89 b),
    # outside the 50 % one (1.68 b)
    assert result.coverage == {0.5: 0., 0.9: 1.}
    # occluded and scored: the 0.04 point; visible 0.005 0.01 0.02 0.01
    assert result.occlusion_auroc[''] == 1.
    # with scores, they rank: the occluded point's 0.75 is below the
    # visible 0.9 and 0.8, above 0.7 and 0.6
    confidence = np.array([[0.9, 0.8, 0.1], [0.7, 0.75, 0.6]])
    assert evaluate_uncertainty(
        errors, scales, 'laplace', occluded,
        confidence=confidence).occlusion_auroc[''] == 0.5
    # 10 % of 5 points: the 0.08 goes; mean 0.17 / 5 -> 0.09 / 4
    assert result.metrics()['Unc/NMEdrop@10%'] == pytest.approx(
        1 - (0.09 / 4) / (0.17 / 5))


def test_face_evaluation_reports_uncertainty_in_normalised_units():
    evaluation = evaluate_faces(_faces_with_scales())
    metrics = evaluation.metrics()
    assert metrics['Unc/Spearman'] == pytest.approx(1.)
    assert 'Unc/occlusion_AUROC' not in metrics
    assert metrics['Unc/coverage@90%'] == 1.


def test_api_and_drawing_carry_the_confidence(face300w_fixture):
    """predict_landmarks returns the branch's scores, scales and
    visibility; the JSON has them; low-confidence points get a grey ring
    in the drawing."""
    import json

    from repformer_mmpose.apis import (draw_faces, init_face_model,
                                       predict_landmarks)
    from repformer_mmpose.apis.visualization import LOW_CONFIDENCE_COLOUR
    config = ('configs/repformer/300w/'
              'repformer_res18-d128_1xb16-15e_300w-subset-128x128.py')
    torch.manual_seed(0)
    model = init_face_model(config, cfg_options=dict(model=dict(head=dict(
        uncertainty=dict(norm_indices=(36, 45), occlusion_weight=1.)))))
    with torch.no_grad():  # scales spread around 1 % of the crop
        layer = model.head.uncertainty.scale_predictors[-1].layers[-1]
        torch.nn.init.normal_(layer.weight, std=0.2)
        layer.bias.fill_(math.log(0.01))
        # visibility 0.5 everywhere
        model.head.uncertainty.occlusion_predictor.layers[-1].bias.zero_()
    with open(face300w_fixture / 'test_300w.json') as f:
        coco = json.load(f)
    ann, image = coco['annotations'][0], coco['images'][0]
    x, y, w, h = ann['bbox']
    path = str(face300w_fixture / image['file_name'])
    [face] = predict_landmarks(model, path, [[x, y, x + w, y + h]])
    assert face.keypoint_scales.shape == (68, ) and \
        (face.keypoint_scales > 0).all()
    assert 0 < face.keypoint_scores.min() < face.keypoint_scores.max() < 1
    assert np.allclose(face.keypoint_visibility, 0.5)
    assert face.keypoint_scores.max() < 0.5  # P(within) times 0.5
    record = face.to_dict()
    assert len(record['keypoint_scales']) == 68
    assert record['keypoint_visibility'] == [0.5] * 68
    threshold = float(np.median(face.keypoint_scores))
    import cv2
    picture = cv2.imread(path)
    drawn = draw_faces(picture, [face], radius=2,
                       confidence_threshold=threshold)
    plain = draw_faces(picture, [face], radius=2, confidence_threshold=0.)
    grey = np.all(drawn == LOW_CONFIDENCE_COLOUR, axis=-1)
    assert grey.sum() > np.all(plain == LOW_CONFIDENCE_COLOUR,
                               axis=-1).sum()
    # the ring is around the least confident point
    low = face.keypoints[np.argmin(face.keypoint_scores)].round().astype(int)
    assert grey[low[1] - 5:low[1] + 6, low[0] - 5:low[0] + 6].any()


def test_occlusion_labels_reach_the_metric(face300w_fixture, tmp_path):
    """A record's ``keypoints_occluded`` (SynthFace, COFW) travels through
    the 300W dataset class and the test pipeline into the packed sample,
    where ``FaceLandmarkMetric`` reads it (MMPose's 300W parser alone drops
    the record, which hid the occlusion AUROC from the main job)."""
    import json

    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpose.registry import DATASETS

    from repformer_mmpose.evaluation.face_results import face_from_sample
    content = json.loads((face300w_fixture / 'test_300w.json').read_text())
    flags = []
    for index, ann in enumerate(content['annotations']):
        flags.append([float((k + index) % 3 == 0) for k in range(68)])
        ann['keypoints_occluded'] = flags[-1]
    ann_file = tmp_path / 'occluded.json'
    ann_file.write_text(json.dumps(content))
    cfg = Config.fromfile('configs/repformer/synthface/'
                          'repformer_res18-d128_1xb16-6e_synthface-128x128.py')
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.update(data_root=str(face300w_fixture),
                       ann_file=str(ann_file), data_prefix=dict(img=''))
    with DefaultScope.overwrite_default_scope('mmpose'):
        dataset = DATASETS.build(dataset_cfg)
        samples = [dataset[i]['data_samples'] for i in range(len(dataset))]
    ids = [a['id'] for a in content['annotations']]
    for sample in samples:
        occluded = sample.metainfo['raw_ann_info']['keypoints_occluded']
        assert occluded == flags[ids.index(sample.metainfo['id'])]
        # and the metric's reader turns it into per-point labels
        sample.pred_instances = sample.gt_instances.clone()
        sample.pred_instances.keypoint_scales = np.ones((1, 68))
        result = face_from_sample(sample.to_dict(), keypoint_indices=(36, 45))
        np.testing.assert_array_equal(
            result.occluded, flags[ids.index(sample.metainfo['id'])])


def test_report_has_a_confidence_table():
    """``tools/test.py --report`` and the main job show the statistics of
    a model with scales, and nothing for one without."""
    from repformer_mmpose.evaluation.report import (ModelResult,
                                                    confidence_table)
    scored = ModelResult('with scales', 'toy', evaluate_faces(
        _faces_with_scales(occluded=np.array([1., 0.]))))
    plain = ModelResult('without', 'toy', evaluate_faces([
        FaceResult('g.png', np.ones((2, 2)), np.zeros((2, 2)), np.ones(2),
                   10., 'inter-ocular 0/1')]))
    header, rows = confidence_table([scored, plain])
    assert [row[0] for row in rows] == ['with scales']
    cells = dict(zip(header, rows[0]))
    assert cells['points'] == '6'
    assert cells['Spearman(scale, error)'] == '1.000'
    # the occluded points are the large-scale (low-confidence) ones
    assert cells['occlusion AUROC'] == '1.000'
    assert confidence_table([plain]) == ([], [])


def test_keypoint_scores_suit_mmposes_kpt_thr():
    """The default score is P(not a failure): error within 10 % of the
    inter-ocular distance d. A point predicted to 2 % of d (the accuracy
    of a good 300W model) scores >= 0.95 and is drawn at MMPose's
    kpt_thr 0.3; one whose error scale is half of d, or predicted
    occluded, scores below it."""
    branch = LandmarkUncertainty(1, 8, 8, norm_indices=(0, 1))
    landmarks = torch.tensor([[[0.3, 0.4], [0.7, 0.4]]])  # d = 0.4
    scales = torch.tensor([[0.02 * 0.4, 0.5 * 0.4]])
    scores = branch.confidence(landmarks, scales)
    ratio = 0.1 / 0.02
    assert scores[0, 0] == pytest.approx(1 - (1 + ratio) * math.exp(-ratio))
    assert scores[0, 0] >= 0.95 and scores[0, 1] < 0.3
    occluded = branch.confidence(landmarks, scales,
                                 torch.tensor([[0.2, 1.]]))
    assert occluded[0, 0] < 0.3
