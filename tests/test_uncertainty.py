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
    auroc, evaluate_uncertainty, sparsification_curve)
from repformer_mmpose.models.heads.uncertainty import (
    interval_radius, negative_log_likelihood, probability_within)

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


def test_predict_scores_are_the_documented_confidence():
    head = make_head(uncertainty=UNCERTAINTY).eval()
    with torch.no_grad():
        head.uncertainty.scale_predictors[-1].layers[-1].bias.fill_(
            math.log(0.01))
        memories, samples = make_memories(), make_samples()
        preds = head.predict(memories, samples, {})
        landmarks = head(memories)[-1]
    for b in range(2):
        # d = distance of the predicted points 0 and 4, radius 0.05 d
        d = float((landmarks[b, 0] - landmarks[b, 4]).norm())
        ratio = 0.05 * d / 0.01
        expected = 1 - (1 + ratio) * math.exp(-ratio)
        assert np.allclose(preds[b].keypoint_scores, expected, atol=1e-5)
        assert preds[b].keypoint_scores.shape == (1, NUM_KPTS)
        # scale in image pixels: 0.01 of the 256-pixel crop
        assert np.allclose(preds[b].keypoint_scales, 2.56, atol=1e-4)
    plain = make_head().eval().predict(memories, samples, {})
    assert np.all(plain[0].keypoint_scores == 1)


def test_uncertainty_options_are_checked():
    with pytest.raises(ValueError, match='distribution must be one of'):
        make_head(uncertainty=dict(distribution='cauchy'))
    with pytest.raises(ValueError, match='needs use_dlr=True'):
        make_head(uncertainty=UNCERTAINTY, use_dlr=False,
                  use_pyramid=False)


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
    assert result.metrics()['Unc/NMEdrop@10%'] == pytest.approx(
        1 - np.interp(0.1, result.fractions, result.sparsification))


def test_face_evaluation_reports_uncertainty_in_normalised_units():
    evaluation = evaluate_faces(_faces_with_scales())
    metrics = evaluation.metrics()
    assert metrics['Unc/Spearman'] == pytest.approx(1.)
    assert 'Unc/occlusion_AUROC' not in metrics
    assert metrics['Unc/coverage@90%'] == 1.


def test_api_and_drawing_carry_the_confidence(face300w_fixture):
    """predict_landmarks returns the branch's scores and scales; the JSON
    has them; low-confidence points get a grey ring in the drawing."""
    import json

    from repformer_mmpose.apis import (draw_faces, init_face_model,
                                       predict_landmarks)
    from repformer_mmpose.apis.visualization import LOW_CONFIDENCE_COLOUR
    config = ('configs/repformer/300w/'
              'repformer_res18-d128_1xb16-15e_300w-subset-128x128.py')
    torch.manual_seed(0)
    model = init_face_model(config, cfg_options=dict(model=dict(head=dict(
        uncertainty=dict(norm_indices=(36, 45))))))
    with torch.no_grad():  # scales spread around 1 % of the crop
        layer = model.head.uncertainty.scale_predictors[-1].layers[-1]
        torch.nn.init.normal_(layer.weight, std=0.2)
        layer.bias.fill_(math.log(0.01))
    with open(face300w_fixture / 'test_300w.json') as f:
        coco = json.load(f)
    ann, image = coco['annotations'][0], coco['images'][0]
    x, y, w, h = ann['bbox']
    path = str(face300w_fixture / image['file_name'])
    [face] = predict_landmarks(model, path, [[x, y, x + w, y + h]])
    assert face.keypoint_scales.shape == (68, ) and \
        (face.keypoint_scales > 0).all()
    assert 0 < face.keypoint_scores.min() < face.keypoint_scores.max() < 1
    record = face.to_dict()
    assert len(record['keypoint_scales']) == 68
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
