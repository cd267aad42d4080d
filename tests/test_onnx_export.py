"""ONNX export: parity with PyTorch (onnxruntime, 1e-4 px), dynamic batch,
the export tool, and the latency script's table."""
import importlib.util
import os.path as osp

import numpy as np
import onnx
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmpose.structures import PoseDataSample

from repformer_mmpose.apis import init_face_model
from repformer_mmpose.deployment import (LandmarkModel, check_onnx_parity,
                                         export_onnx)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'repformer', 'synthface',
                  'repformer_res18-d128_1xb16-6e_synthface-128x128.py')
SIZE = 64


def load_tool(*parts):
    path = osp.join(REPO, 'tools', *parts)
    spec = importlib.util.spec_from_file_location(
        '_tool_' + parts[-1][:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """``(config, checkpoint, estimator)``: a random-init RePFormer at
    64x64, d_model 32, whose coordinate predictors are re-drawn with a
    large std so the landmarks move with the image (the default small
    init keeps every landmark near the centre, which would hide errors
    in the head)."""
    folder = tmp_path_factory.mktemp('tiny_onnx')
    cfg = Config.fromfile(CONFIG)
    cfg.model.neck.update(embed_dims=32, num_heads=2, ffn_dims=64)
    cfg.model.head.update(
        embed_dims=32, num_heads=2, ffn_dims=64, predictor_dims=32,
        initial_memory_size=(2, 2),
        # the paper's head; tests below switch the CPU configs' options on
        subcell_offset=False,
        decoder=dict(type='DLRLabel', input_size=(SIZE, SIZE)))
    cfg.model.head.pop('uncertainty')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for step in cfg[loader].dataset.pipeline:  # one input size
            if 'input_size' in step:
                step.input_size = (SIZE, SIZE)
            if 'encoder' in step:
                step.encoder.input_size = (SIZE, SIZE)
    config = str(folder / 'tiny.py')
    cfg.dump(config)
    torch.manual_seed(0)
    estimator = init_face_model(config)
    head = estimator.head
    with torch.no_grad():
        torch.nn.init.normal_(head.initial_predictor.fc.weight, std=0.05)
        for predictor in head.coordinate_predictors:
            torch.nn.init.normal_(predictor.layers[-1].weight, std=0.02)
    checkpoint = str(folder / 'tiny.pth')
    torch.save({'state_dict': estimator.state_dict()}, checkpoint)
    return config, checkpoint, estimator


def test_landmark_model_is_mmposes_prediction(tiny):
    """The exported function = preprocessor + backbone/neck/head + codec
    decoding, as MMPose runs them."""
    _, _, estimator = tiny
    model = LandmarkModel(estimator).eval()
    crops = torch.rand(3, 3, SIZE, SIZE,
                       generator=torch.Generator().manual_seed(1)) * 255
    # a crop box equal to the input: image space = input space
    box = InstanceData(bboxes=np.array([[0., 0., SIZE, SIZE]]),
                       bbox_scores=np.ones(1))
    samples = [
        PoseDataSample(
            gt_instances=box,
            metainfo=dict(input_size=(SIZE, SIZE),
                          input_center=np.full(2, SIZE / 2),
                          input_scale=np.full(2, SIZE))) for _ in crops
    ]
    with torch.no_grad():
        ours = model(crops)
        data = estimator.data_preprocessor(
            {'inputs': list(crops), 'data_samples': samples})
        results = estimator(**data, mode='predict')
    expected = np.stack([r.pred_instances.keypoints[0] for r in results])
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-4)
    assert ours.shape == (3, 68, 2)
    # landmarks differ between images by pixels, not rounding errors
    assert (ours[0] - ours[1]).abs().max() > 0.5


def test_onnx_matches_pytorch_with_dynamic_batch(tiny, tmp_path):
    _, _, estimator = tiny
    model = LandmarkModel(estimator).eval()
    onnx_file = export_onnx(model, str(tmp_path / 'tiny.onnx'),
                            batch_size=2)
    proto = onnx.load(onnx_file)
    assert max(op.version for op in proto.opset_import
               if op.domain in ('', 'ai.onnx')) >= 17
    [images] = proto.graph.input
    dims = images.type.tensor_type.shape.dim
    assert dims[0].dim_param == 'batch'
    assert [d.dim_value for d in dims[1:]] == [3, SIZE, SIZE]
    # traced at batch 2, run at 1, 3 and 5
    error = check_onnx_parity(model, onnx_file, batch_sizes=(1, 3, 5))
    assert error <= 1e-4


def test_subcell_offset_exports_with_parity(tiny, tmp_path):
    """The CPU configs' sub-cell offset (issue 17) in the graph. The
    re-drawn large-std predictors amplify float32 rounding here (1e-4 to
    2e-4 px at 64x64); a trained 128 px checkpoint of that config measured
    3.8e-5 px with the export tool's default 1e-4 px check."""
    config, _, _ = tiny
    torch.manual_seed(0)
    estimator = init_face_model(config, cfg_options=dict(
        model=dict(head=dict(subcell_offset=True))))
    with torch.no_grad():
        for projection in estimator.head.subcell_offsets:
            torch.nn.init.normal_(projection.proj.weight, std=0.5)
    model = LandmarkModel(estimator).eval()
    onnx_file = export_onnx(model, str(tmp_path / 'subcell.onnx'))
    assert check_onnx_parity(model, onnx_file, batch_sizes=(1, 3),
                             atol=5e-4) <= 5e-4
    # the offset reaches the landmarks: without it they differ
    crops = torch.rand(2, 3, SIZE, SIZE,
                       generator=torch.Generator().manual_seed(3)) * 255
    with torch.no_grad():
        with_offset = model(crops)
        for projection in estimator.head.subcell_offsets:
            projection.proj.weight.zero_()
        assert (model(crops) - with_offset).abs().max() > 1e-3


def test_parity_check_catches_a_different_model(tiny, tmp_path):
    _, _, estimator = tiny
    model = LandmarkModel(estimator).eval()
    onnx_file = export_onnx(model, str(tmp_path / 'tiny.onnx'))
    original = estimator.head.coordinate_predictors[2].layers[-1].bias
    with torch.no_grad():
        original += 0.01  # 0.64 px at 64x64
    try:
        with pytest.raises(AssertionError, match='differs from PyTorch'):
            check_onnx_parity(model, onnx_file, batch_sizes=(1, ))
    finally:
        with torch.no_grad():
            original -= 0.01


def test_export_tool_writes_a_checked_file_with_metadata(tiny, tmp_path,
                                                         capsys):
    config, checkpoint, _ = tiny
    out = tmp_path / 'exported' / 'repformer.onnx'
    error = load_tool('deployment', 'export_onnx.py').main(
        [config, checkpoint, '--out', str(out)])
    assert error <= 1e-4
    printed = capsys.readouterr().out
    assert 'images (N, 3, 64, 64) BGR 0-255 -> landmarks (N, 68, 2)' \
        in printed
    assert 'max |diff|' in printed
    metadata = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert metadata['num_keypoints'] == '68'
    assert metadata['input_size'] == '64x64'
    assert metadata['channel_order'] == 'BGR'


def test_latency_table(tiny, monkeypatch, capsys):
    config, checkpoint, _ = tiny
    latency = load_tool('analysis', 'latency.py')

    def broken_compile(*args, **kwargs):
        raise RuntimeError('no C++ compiler\nsecond line')

    monkeypatch.setattr(torch, 'compile', broken_compile)
    table = latency.main([
        config, checkpoint, '--batch-sizes', '1', '2', '--threads', '1',
        '--warmup', '1', '--repeats', '2'
    ])
    assert table in capsys.readouterr().out
    rows = [line.split('|')[1:-1] for line in table.splitlines()[2:]]
    assert [(r[0].strip(), r[1].strip()) for r in rows] == [
        ('eager', '1'), ('eager', '2'), ('compile', '1'), ('compile', '2'),
        ('onnxruntime', '1'), ('onnxruntime', '2')]
    for row in rows[:2] + rows[4:]:
        median, images_per_s = float(row[2]), float(row[5])
        batch = int(row[1])
        assert median > 0
        # images/s = batch / median seconds
        assert images_per_s == pytest.approx(1000 * batch / median,
                                             rel=0.01, abs=0.1)
    assert rows[2][2].strip() == 'n/a (RuntimeError: no C++ compiler)'
    assert latency.physical_cores() >= 1


def test_dynamo_exporter_also_matches(tiny, tmp_path):
    """torch's dynamo exporter (optional, needs onnxscript): opset 18, and
    the eager model still runs afterwards (its caches hold no fake
    tensors)."""
    pytest.importorskip('onnxscript')
    config, checkpoint, _ = tiny
    out = tmp_path / 'dynamo.onnx'
    error = load_tool('deployment', 'export_onnx.py').main(
        [config, checkpoint, '--out', str(out), '--dynamo'])
    assert error <= 1e-4
    assert max(op.version for op in onnx.load(str(out)).opset_import
               if op.domain in ('', 'ai.onnx')) == 18


def uncertain_model(config: str, occlusion_weight: float = 0.
                    ) -> tuple[LandmarkModel, torch.nn.Module]:
    """The tiny model with the uncertainty branch, whose scales vary
    around 0.005 of the crop (and, with ``occlusion_weight``, whose
    visibility varies around 0.5), and its estimator."""
    torch.manual_seed(0)
    estimator = init_face_model(config, cfg_options=dict(model=dict(
        head=dict(uncertainty=dict(norm_indices=(36, 45),
                                   occlusion_weight=occlusion_weight)))))
    branch = estimator.head.uncertainty
    with torch.no_grad():
        for predictor in branch.scale_predictors:
            torch.nn.init.normal_(predictor.layers[-1].weight, std=0.05)
            predictor.layers[-1].bias.fill_(-5.3)
        if branch.occlusion_predictor is not None:
            torch.nn.init.normal_(
                branch.occlusion_predictor.layers[-1].weight, std=0.05)
            branch.occlusion_predictor.layers[-1].bias.zero_()
    return LandmarkModel(estimator).eval(), estimator


def test_dynamo_exporter_with_the_uncertainty_branch(tiny, tmp_path):
    """The dynamo exporter's constant folding once failed on this graph
    (two initialisers named ``mean``: the pixel-mean buffer and the folded
    mean of the crop size); scores and scales match PyTorch."""
    pytest.importorskip('onnxscript')
    model, _ = uncertain_model(tiny[0])
    onnx_file = export_onnx(model, str(tmp_path / 'dynamo_scores.onnx'),
                            opset=18, dynamo=True)
    assert [o.name for o in onnx.load(onnx_file).graph.output] == [
        'landmarks', 'scores', 'scales']
    assert check_onnx_parity(model, onnx_file, batch_sizes=(1, 3)) <= 1e-4


@pytest.mark.parametrize('occlusion_weight', [0., 1.])
def test_onnx_outputs_scores_of_the_uncertainty_branch(tiny, tmp_path,
                                                       occlusion_weight):
    """With the uncertainty branch the graph also outputs the confidence
    and the scales, equal to PyTorch's and to predict()'s scores (with the
    occlusion predictor too: the scores include the visibility)."""
    model, estimator = uncertain_model(tiny[0], occlusion_weight)
    assert model.output_names == ('landmarks', 'scores', 'scales')
    onnx_file = export_onnx(model, str(tmp_path / 'scores.onnx'))
    assert [o.name for o in onnx.load(onnx_file).graph.output] == [
        'landmarks', 'scores', 'scales']
    assert check_onnx_parity(model, onnx_file, batch_sizes=(1, 3)) <= 1e-4
    crops = torch.rand(2, 3, SIZE, SIZE,
                       generator=torch.Generator().manual_seed(2)) * 255
    with torch.no_grad():
        _, scores, scales = model(crops)
        data = estimator.data_preprocessor({
            'inputs': list(crops),
            'data_samples': [PoseDataSample(metainfo=dict(
                input_size=(SIZE, SIZE), input_center=np.full(2, SIZE / 2),
                input_scale=np.full(2, SIZE))) for _ in crops]})
        feats = estimator.extract_feat(data['inputs'])
        preds = estimator.head.predict(feats, data['data_samples'], {})
    expected = np.stack([p.keypoint_scores[0] for p in preds])
    np.testing.assert_allclose(scores.numpy(), expected, atol=1e-5)
    assert 0 < scores.min() and scores.max() < 1
    # scales differ from point to point (the branch is not a constant)
    assert scales.std() > 0
