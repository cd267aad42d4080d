"""tools/analysis/refinement.py and its statistics, on hand-made cases."""
import re

import numpy as np
import pytest
import torch
from test_head import NUM_KPTS, make_head, make_memories, make_samples

from repformer_mmpose.evaluation.face_alignment import point_errors
from repformer_mmpose.evaluation.refinement import (effective_cells,
                                                    live_units,
                                                    normalised_to_input_nme,
                                                    shared_top_cell,
                                                    stage_gradients)

CONFIG = ('configs/repformer/300w/'
          'repformer_res18-d128_1xb16-15e_300w-subset-128x128.py')


def test_effective_cells_by_hand():
    weights = torch.tensor([[0.5, 0.5, 0., 0.], [1., 0., 0., 0.],
                            [0.25, 0.25, 0.25, 0.25]])
    assert effective_cells(weights).tolist() == [2., 1., 4.]


def test_shared_top_cell_by_hand():
    # three landmarks of one face: the first two peak on cell 0
    weights = torch.tensor([[[0.6, 0.4, 0.], [0.9, 0., 0.1],
                             [0.1, 0.2, 0.7]]])
    assert shared_top_cell(weights).tolist() == [[True, True, False]]


def test_live_predictor_units_by_hand():
    """A unit is live when its pre-activation is positive for at least
    one landmark of the batch."""
    head = make_head()
    first = head.coordinate_predictors[1].layers[0]
    with torch.no_grad():
        first.weight.zero_()
        first.weight[0, 0] = 1.  # unit 0 follows channel 0 of the query
        first.bias.fill_(-1.)  # every other unit is dead
        first.bias[0] = 0.
    queries = torch.zeros(2, NUM_KPTS, first.in_features)
    assert not live_units(head, 1, queries).any()
    queries[1, 3, 0] = 0.5  # one landmark of one face wakes unit 0
    live = live_units(head, 1, queries)
    assert live.tolist() == [True] + [False] * (first.out_features - 1)


def test_nme_in_the_input_frame_by_hand():
    labels = torch.tensor([[[0., 0.], [0.5, 0.], [0.2, 0.4]]])
    pred = labels + torch.tensor([0.05, 0.])
    visible = torch.tensor([[1., 1., 0.]])
    errors = normalised_to_input_nme(pred, labels, visible, (0, 1))
    # inter-ocular 0.5, error 0.05 -> 0.1; the hidden point is not scored
    assert np.allclose(errors[0, :2], 0.1) and np.isnan(errors[0, 2])


def test_gradient_split_by_hand():
    """Through Eq. 8's sum, dL/dL^0 of the L1 loss (mean over B x N x 2,
    times B) is w_j / (2 N) per coordinate: each face with 4 of its 5
    points weighted has norm sqrt(8) / 10; the stop-gradient cuts it."""
    memories, samples = make_memories(), make_samples()
    labels = torch.cat([s.gt_instance_labels.keypoint_labels
                        for s in samples])
    weights = torch.cat([s.gt_instance_labels.keypoint_weights
                         for s in samples])
    for stop, expected in ((False, np.sqrt(8) / 10), (True, 0.)):
        head = make_head(residual_stop_gradient=stop).eval()
        landmarks = head.initial_predictor(memories[-1])
        via_query, via_residual = stage_gradients(
            head, 0, head.stage_memory(memories, 0), landmarks, None, labels,
            weights)
        assert via_residual == pytest.approx(expected, abs=1e-6)
        assert via_query > 0
    # with the aggregation anchors detached and no landmark encoding, no
    # gradient reaches L^0 through the query
    head = make_head(detach_landmarks=True,
                     encode_landmark_positions=False).eval()
    via_query, _ = stage_gradients(
        head, 0, head.stage_memory(memories, 0),
        head.initial_predictor(memories[-1]), None, labels, weights)
    assert via_query == 0.
    assert NUM_KPTS == 5


def test_tool_on_real_faces(tmp_path, repo_root, face300w_fixture, load_tool):
    """End to end on the 300W fixture with a random model: the stages
    chain (one stage's output is the next one's input), and the last
    stage's NME is the one of the model's own predictions in image
    space."""
    from mmengine.runner import Runner

    from repformer_mmpose.apis import init_face_model, load_config
    torch.manual_seed(0)
    config = str(repo_root / CONFIG)
    model = init_face_model(config)
    checkpoint = tmp_path / 'random.pth'
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    options = ['--data-root', str(face300w_fixture), '--data',
               'test_300w.json', '--cfg-options',
               "test_dataloader.dataset.data_prefix.img=''"]
    output = tmp_path / 'table.md'
    text = load_tool('analysis/refinement').run(
        load_tool('analysis/refinement').parse_args(
            [config, str(checkpoint), '--output', str(output)] + options))
    assert output.read_text() == text
    rows = [line for line in text.splitlines() if line.startswith('| L^')]
    assert [row.split('|')[1].strip() for row in rows] == [
        'L^0 -> L^1', 'L^1 -> L^2', 'L^2 -> L^3']
    cells = [[c.strip() for c in row.split('|')[1:-1]] for row in rows]
    assert [c[1] for c in cells] == ['4x4', '8x8', '16x16']
    live = [float(c[12]) for c in cells]  # % of predictor units
    assert all(0 < value <= 100 for value in live)  # random init: alive
    nme_in = [float(c[3]) for c in cells]
    nme_out = [float(c[4]) for c in cells]
    assert nme_in[1:] == nme_out[:-1]
    assert re.search(r'2 faces of `test_300w.json`', text)

    # the model's own prediction of the same faces, in image space
    cfg = load_config(config, dict(test_dataloader=dict(dataset=dict(
        data_root=str(face300w_fixture), ann_file='test_300w.json',
        data_prefix=dict(img='')))))
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    errors = []
    for batch in Runner.build_dataloader(cfg.test_dataloader):
        with torch.no_grad():
            for sample in model.test_step(batch):
                gt = sample.gt_instances.keypoints
                norm = np.linalg.norm(gt[:, 36] - gt[:, 45], axis=-1)
                errors.append(point_errors(
                    sample.pred_instances.keypoints, gt,
                    sample.gt_instances.keypoints_visible, norm))
    expected = 100 * np.nanmean(np.concatenate(errors))
    assert nme_out[-1] == pytest.approx(expected, abs=0.01)
