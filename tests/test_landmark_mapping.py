"""WFLW (98 points) -> 300W (68 points): the map, its transform and metric.

The map is checked three ways: against a derivation from SynthFace's two
layouts (which sample both schemes from one face), on the real WFLW faces
of MMPose's fixture (the mapped points must sit where 300W puts its
points: eye corners, nose tip, mouth corners, contour, in a 300W face's
shape), and for symmetry (mapping commutes with flipping, by both layouts'
flip indices from MMPose's metainfo files).
"""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

import mmpose
import mmpose.datasets  # noqa: F401  (registers MMPose's datasets)
import repformer_mmpose  # noqa: F401
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import DATASETS, TRANSFORMS
from repformer_mmpose.datasets.synthface import get_layout, mean_shape
from repformer_mmpose.datasets.synthface.synthesis import (project_parts,
                                                           sample_face)
from repformer_mmpose.datasets.transforms import MapLandmarks
from repformer_mmpose.datasets.transforms.landmark_layout import (
    WFLW98_TO_IBUG68_INDEX, get_landmark_mapping)
from repformer_mmpose.evaluation.landmark_mapping import MappedNME

MODES = ('index', 'interpolate')
MMPOSE_META = Path(mmpose.__file__).parent / '.mim' / 'configs' / \
    '_base_' / 'datasets'


def _faces(folder: Path, name: str) -> list[np.ndarray]:
    coco = json.loads((folder / f'test_{name}.json').read_text())
    return [
        np.array(a['keypoints'], float).reshape(-1, 3)[:, :2]
        for a in coco['annotations']
    ]


def _flip_indices(name: str) -> list[int]:
    meta = parse_pose_metainfo(dict(from_file=str(MMPOSE_META /
                                                  f'{name}.py')))
    return list(meta['flip_indices'])


# ----------------------------------------------------------------------
# the map
# ----------------------------------------------------------------------
def _synthface_weights(mode: str) -> np.ndarray:
    """The map derived from SynthFace's layouts: a 300W point that is a
    WFLW point of the same part is that point; otherwise the nearest WFLW
    point of its part (index) or the linear interpolation between the
    two WFLW points around it (interpolate)."""
    lay68, lay98 = get_layout('68').points, get_layout('98').points
    weights = np.zeros((68, 98))
    for t, (part, sample) in enumerate(lay68):
        on_part = {s: j for j, (p, s) in enumerate(lay98) if p == part}
        if sample in on_part:
            weights[t, on_part[sample]] = 1
            continue
        below = max(s for s in on_part if s < sample)
        above = min(s for s in on_part if s > sample)
        if mode == 'index':
            nearest = min(on_part, key=lambda s: abs(s - sample))
            weights[t, on_part[nearest]] = 1
        else:
            share = (sample - below) / (above - below)
            weights[t, on_part[below]] = 1 - share
            weights[t, on_part[above]] = share
    return weights


@pytest.mark.parametrize('mode', MODES)
def test_map_agrees_with_synthface_layouts(mode):
    mapping = get_landmark_mapping('wflw98_to_ibug68', mode)
    np.testing.assert_allclose(mapping.weights, _synthface_weights(mode),
                               atol=1e-12)
    np.testing.assert_allclose(mapping.weights.sum(1), 1)
    index = mapping.weights.argmax(1)
    if mode == 'index':
        assert index.tolist() == list(WFLW98_TO_IBUG68_INDEX)
    # unused WFLW points: every 2nd contour point, the lower brow edges,
    # the pupils and, when indexing, the mid-lid points
    unused = [*range(1, 33, 2), 38, 39, 40, 41, 47, 48, 49, 50, 96, 97]
    if mode == 'index':
        unused += [62, 66, 70, 74]
    assert np.flatnonzero(mapping.weights.sum(0) == 0).tolist() == sorted(
        unused)


def test_map_on_synthface_faces_reproduces_their_68_points():
    """Both layouts of 20 posed SynthFace faces: the lid thirds are off by
    the lid's curvature only when interpolated, by a twelfth of the lid
    when indexed; every other point is exact."""
    lids = sorted({37, 38, 40, 41, 43, 44, 46, 47})
    errors = {mode: [] for mode in MODES}
    for index in range(20):
        parts, _ = project_parts(sample_face(0, 'train', index), 256)
        p68 = get_layout('68').select(parts)[:, :2]
        p98 = get_layout('98').select(parts)[:, :2]
        ocular = np.linalg.norm(p68[36] - p68[45])
        for mode in MODES:
            mapped = get_landmark_mapping(mode=mode).map_points(p98)
            error = np.linalg.norm(mapped - p68, axis=1) / ocular
            others = np.delete(error, lids)
            np.testing.assert_allclose(others, 0, atol=1e-12)
            errors[mode].append(error[lids])
    assert np.max(errors['interpolate']) < 0.012
    assert np.max(errors['index']) > 2 * np.max(errors['interpolate'])


@pytest.mark.parametrize('mode', MODES)
def test_map_commutes_with_flipping(mode, fixture_dir):
    """Flip indices from MMPose's 300w.py / wflw.py: P68 W = W P98, and on
    the WFLW fixture, map(mirror98(face)) = mirror68(map(face))."""
    mapping = get_landmark_mapping(mode=mode)
    flip68, flip98 = _flip_indices('300w'), _flip_indices('wflw')
    assert list(mapping.target_flip_indices) == flip68
    assert list(mapping.source_flip_indices) == flip98
    np.testing.assert_allclose(
        np.eye(68)[flip68] @ mapping.weights,
        mapping.weights @ np.eye(98)[flip98])
    width = 1024.0
    for face in _faces(fixture_dir('wflw'), 'wflw'):
        mirrored = face[flip98] * [-1, 1] + [width - 1, 0]
        expected = mapping.map_points(face)[flip68] * [-1, 1] + [width - 1, 0]
        np.testing.assert_allclose(mapping.map_points(mirrored), expected,
                                   atol=1e-9)


def _eye_frame(points: np.ndarray) -> np.ndarray:
    """Points in the frame where the outer eye corners 36, 45 are (0, 0)
    and (1, 0) (y down, as in the image)."""
    origin, axis = points[36], points[45] - points[36]
    scale = np.linalg.norm(axis)
    cos, sin = axis / scale
    rotation = np.array([[cos, sin], [-sin, cos]])
    return (points - origin) @ rotation.T / scale


def _similarity_residual(points: np.ndarray, ref: np.ndarray) -> float:
    """Mean point distance after the best similarity transform onto
    ``ref``, over ``ref``'s inter-ocular distance."""
    src = (points - points.mean(0)) @ [1, 1j]
    dst = (ref - ref.mean(0)) @ [1, 1j]
    scale_rotation = (src.conj() @ dst) / (src.conj() @ src)
    residual = np.abs(scale_rotation * src - dst).mean()
    return float(residual / np.linalg.norm(ref[36] - ref[45]))


@pytest.mark.parametrize('mode', MODES)
def test_wflw_faces_land_on_300w_semantics(mode, fixture_dir):
    """The 4 real WFLW faces of MMPose's fixture, mapped to 68 points."""
    mapping = get_landmark_mapping(mode=mode)
    refs = _faces(fixture_dir('300w'), '300w') + [mean_shape('68')]
    for face in _faces(fixture_dir('wflw'), 'wflw'):
        mapped = mapping.map_points(face)
        # named points: WFLW's own definitions of the same landmarks
        for ibug, wflw in {36: 60, 45: 72, 39: 64, 42: 68, 30: 54, 48: 76,
                           54: 82, 8: 16, 0: 0, 16: 32, 27: 51}.items():
            np.testing.assert_array_equal(mapped[ibug], face[wflw])
        # geometry, in the eye-corner frame (x to the face's image right)
        p = _eye_frame(mapped)
        assert p[36, 0] < p[39, 0] < p[42, 0] < p[45, 0]
        for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
            assert p[upper, 1] < p[lower, 1]  # upper lid above lower lid
        for brow, eye in ((slice(17, 22), slice(36, 42)),
                          (slice(22, 27), slice(42, 48))):
            assert p[brow, 1].mean() < p[eye, 1].min()  # brow above eye
        assert p[27, 1] < p[28, 1] < p[29, 1] < p[30, 1]  # down the nose
        assert p[31, 0] < p[30, 0] < p[35, 0]
        assert p[48, 0] < p[51, 0] < p[54, 0]  # mouth corners, top lip
        assert p[51, 1] < p[62, 1] <= p[66, 1] < p[57, 1]
        assert min(p[48, 1], p[54, 1]) > p[30, 1]  # mouth below nose tip
        assert p[8, 1] == p[0:17, 1].max()  # chin lowest on the contour
        assert p[0, 0] < p[8, 0] < p[16, 0]
        # shape: a 300W face's, up to a similarity (pose differs); a map
        # with the eyes swapped and the outer lip shifted is far off
        residual = np.mean([_similarity_residual(mapped, r) for r in refs])
        wrong = mapped.copy()
        wrong[36:48] = mapped[list(range(42, 48)) + list(range(36, 42))]
        wrong[48:60] = np.roll(mapped[48:60], 1, axis=0)
        wrong_residual = np.mean(
            [_similarity_residual(wrong, r) for r in refs])
        assert residual < 0.15 < wrong_residual


def test_visibility_needs_every_source_point():
    visible = np.ones(98)
    visible[[62, 60, 96, 40]] = 0  # mid upper lid, outer corner, pupil, brow
    hidden = {
        mode: np.flatnonzero(
            get_landmark_mapping(mode=mode).map_visibility(visible) == 0
        ).tolist()
        for mode in MODES
    }
    assert hidden == {'index': [36], 'interpolate': [36, 37, 38]}


def test_unknown_mapping_mode_and_count():
    with pytest.raises(ValueError, match='unknown landmark mapping'):
        get_landmark_mapping('wflw98_to_cofw29')
    with pytest.raises(ValueError, match='mode must be one of'):
        get_landmark_mapping(mode='nearest')
    with pytest.raises(ValueError, match='takes 98 points, got 68'):
        get_landmark_mapping().map_points(np.zeros((68, 2)))


# ----------------------------------------------------------------------
# the transform, in MMPose's pipeline
# ----------------------------------------------------------------------
def _wflw_dataset(root: Path, pipeline: list):
    with DefaultScope.overwrite_default_scope('mmpose'):
        return DATASETS.build(
            dict(type='WFLWDataset', data_root=str(root),
                 ann_file='test_wflw.json', data_prefix=dict(img=''),
                 metainfo=dict(from_file=str(MMPOSE_META / 'wflw.py')),
                 test_mode=True, pipeline=pipeline))


def test_map_landmarks_transform_in_the_pipeline(fixture_dir):
    """MapLandmarks before RandomFlip gives what it gives after it: the
    flip pairs it hands on are 300W's."""
    root = fixture_dir('wflw')
    flip = dict(type='RandomFlip', direction='horizontal', prob=1.0)
    mapped_first = _wflw_dataset(
        root, [dict(type='LoadImage'), dict(type='MapLandmarks'),
               dict(type='GetBBoxCenterScale'), flip])
    flipped_first = _wflw_dataset(
        root, [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
               flip, dict(type='MapLandmarks')])
    plain = _wflw_dataset(root, [])
    mapping = get_landmark_mapping()
    for i in range(len(plain)):
        a, b, raw = mapped_first[i], flipped_first[i], plain[i]
        assert a['keypoints'].shape == (1, 68, 2)
        assert a['flip_indices'] == _flip_indices('300w')
        assert a['keypoints_visible'].shape == (1, 68)
        assert np.all(a['keypoints_visible'] == 1)
        np.testing.assert_allclose(a['keypoints'], b['keypoints'],
                                   atol=1e-3)
        # un-flipped: the mapped annotation itself
        np.testing.assert_allclose(
            TRANSFORMS.build(dict(type='MapLandmarks'))(dict(raw))
            ['keypoints'], mapping.map_points(raw['keypoints']), atol=1e-4)
    with pytest.raises(ValueError, match=r'needs keypoints of shape'):
        MapLandmarks()(dict(keypoints=np.zeros((1, 68, 2)),
                            keypoints_visible=np.ones((1, 68)),
                            img_path='x.jpg'))


# ----------------------------------------------------------------------
# the metric: a 98-point model scored on 68-point data
# ----------------------------------------------------------------------
def _synthface_samples(num: int = 6) -> tuple[list[dict], np.ndarray]:
    """68-point ground truth and "perfect" 98-point predictions of posed
    SynthFace faces, as the evaluator hands them to a metric."""
    samples, gts, preds = [], [], []
    for index in range(num):
        parts, _ = project_parts(sample_face(1, 'test', index), 256)
        gt = get_layout('68').select(parts)[None, :, :2]
        pred = get_layout('98').select(parts)[None, :, :2]
        samples.append(dict(
            img_path=f'face{index}.png',
            gt_instances=dict(keypoints=gt,
                              keypoints_visible=np.ones((1, 68))),
            pred_instances=dict(keypoints=pred,
                                keypoint_scores=np.ones((1, 98)))))
        gts.append(gt[0])
        preds.append(pred[0])
    return samples, np.stack(gts), np.stack(preds)


@pytest.mark.parametrize('mode', MODES)
def test_mapped_nme_scores_98_point_predictions(mode):
    samples, gts, preds = _synthface_samples()
    metric = MappedNME(mode=mode)
    metric.dataset_meta = parse_pose_metainfo(
        dict(from_file=str(MMPOSE_META / '300w.py')))  # eyes 36, 45
    metric.process([], samples)
    nme = metric.compute_metrics(metric.results)['NME']
    mapped = get_landmark_mapping(mode=mode).map_points(preds)
    ocular = np.linalg.norm(gts[:, 36] - gts[:, 45], axis=1)
    expected = (np.linalg.norm(mapped - gts, axis=2) /
                ocular[:, None]).mean()
    assert nme == pytest.approx(expected, rel=1e-6)
    assert 0 < nme < (0.001 if mode == 'interpolate' else 0.005)
    # the evaluator's own samples are left as they were
    assert samples[0]['pred_instances']['keypoints'].shape == (1, 98, 2)


def test_mapped_nme_rejects_mismatched_counts():
    samples, _, _ = _synthface_samples(1)
    wrong_pred = dict(samples[0], pred_instances=dict(
        keypoints=np.zeros((1, 68, 2))))
    with pytest.raises(ValueError, match='face0.png.*model gives 68'):
        MappedNME().process([], [wrong_pred])
    wrong_gt = dict(samples[0], gt_instances=dict(
        keypoints=np.zeros((1, 98, 2)), keypoints_visible=np.ones((1, 98))))
    with pytest.raises(ValueError, match='ground truth has 98'):
        MappedNME().process([], [wrong_gt])


def test_a_98_point_model_is_scored_on_300w_data(fixture_dir, tmp_path):
    """The WFLW config, its test set swapped for 300W's (as the custom
    README shows), tests a (tiny, untrained) 98-point RePFormer through
    mmengine's Runner: MappedNME scores its mapped predictions."""
    repo = Path(__file__).resolve().parents[1]
    cfg = Config.fromfile(str(
        repo / 'configs' / 'repformer' / 'wflw' /
        'repformer_res18_1xb16-360e_wflw-256x256.py'))
    cfg.merge_from_dict({
        'test_dataloader.dataset.type': 'Face300WDataset',
        'test_dataloader.dataset.data_root': str(fixture_dir('300w')),
        'test_dataloader.dataset.ann_file': 'test_300w.json',
        'test_dataloader.dataset.data_prefix.img': '',
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
        'test_evaluator.type': 'MappedNME',
    })
    dump = tmp_path / 'predictions.pkl'
    cfg.test_evaluator = [cfg.test_evaluator,
                          dict(type='DumpResults', out_file_path=str(dump))]
    size, dims = 64, 32
    cfg.model.backbone.init_cfg = None
    cfg.model.neck.update(embed_dims=dims, num_heads=2, ffn_dims=2 * dims)
    cfg.model.head.update(
        embed_dims=dims, num_heads=2, ffn_dims=2 * dims, predictor_dims=dims,
        initial_memory_size=(2, 2),
        decoder=dict(type='DLRLabel', input_size=(size, size)))
    for step in cfg.test_dataloader.dataset.pipeline:
        if 'input_size' in step:
            step.input_size = (size, size)
    cfg.visualizer.name = 'visualizer_mapped_nme'
    cfg.work_dir = str(tmp_path)
    metrics = Runner.from_cfg(cfg).test()

    with open(dump, 'rb') as f:
        samples = pickle.load(f)
    preds = np.concatenate(
        [s['pred_instances']['keypoints'] for s in samples])
    gts = np.concatenate([s['gt_instances']['keypoints'] for s in samples])
    assert preds.shape == (2, 98, 2) and gts.shape == (2, 68, 2)
    mapped = get_landmark_mapping().map_points(preds)
    ocular = np.linalg.norm(gts[:, 36] - gts[:, 45], axis=1)
    expected = (np.linalg.norm(mapped - gts, axis=2) /
                ocular[:, None]).mean()
    assert metrics['NME'] == pytest.approx(expected, rel=1e-5)
