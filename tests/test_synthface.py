"""Tests of SynthFace, the procedural synthetic face-landmark data set."""
import json
import os.path as osp
import runpy
import sys
from dataclasses import replace

import cv2
import numpy as np
import pytest

from repformer_mmpose.datasets.synthface import (ATTRIBUTES, SUBSET_NAMES,
                                                 generate_synthface,
                                                 get_layout, make_sample,
                                                 mean_shape, sample_face)
from repformer_mmpose.datasets.synthface import attributes as attr
from repformer_mmpose.datasets.synthface.pose import SUBPIXEL, HeadPose
from repformer_mmpose.datasets.synthface.sampling import FaceSpec
from repformer_mmpose.datasets.synthface.synthesis import project_parts

SEED = 7
NUM_TRAIN = 40
NUM_TEST = 40
SIZE = 256
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def _keypoints(coco: dict) -> np.ndarray:
    anns = coco['annotations']
    return np.array([a['keypoints'] for a in anns],
                    np.float64).reshape(len(anns), -1, 3)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp('synthface') / 'set'
    return generate_synthface(str(out), NUM_TRAIN, NUM_TEST, seed=SEED,
                              workers=2)


@pytest.mark.parametrize('layout, name', [('68', '300w'), ('98', 'wflw')])
def test_flip_indices_match_mmpose(layout, name):
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    meta = parse_pose_metainfo(
        dict(from_file=f'configs/_base_/datasets/{name}.py'))
    lay = get_layout(layout)
    assert meta['num_keypoints'] == lay.num_keypoints
    assert list(meta['flip_indices']) == list(lay.flip_indices)


@pytest.mark.parametrize('layout', ['68', '98'])
def test_mean_shape_is_flip_symmetric(layout):
    shape = mean_shape(layout)
    lay = get_layout(layout)
    mirrored = shape * np.array([-1.0, 1.0])
    mirrored = mirrored[list(lay.flip_indices)]
    assert shape.shape == (lay.num_keypoints, 2)
    np.testing.assert_allclose(mirrored, shape, atol=1e-6, rtol=0)
    # Not degenerate: outer eye corners on either side, distinct points
    # except the inner lips, which meet when the mouth is closed.
    i, j = lay.outer_eye_corners
    assert shape[i, 0] < -0.4 and shape[j, 0] > 0.4
    assert len(np.unique(shape.round(6), axis=0)) == lay.num_keypoints - 3


@pytest.mark.parametrize('layout', ['68', '98'])
def test_posed_face_mirrors_under_flip_pairs(layout):
    """Mirroring the pose mirrors the image keypoints (flip pairs hold)."""
    lay = get_layout(layout)
    spec = sample_face(SEED, 'train', 3)
    shape = replace(spec.shape, gaze_x=0.0)
    pose = HeadPose(yaw=25.0, pitch=-10.0, roll=15.0, size=0.6,
                    shift_x=0.4, shift_y=-0.3)
    spec = FaceSpec(shape, pose, spec.appearance, spec.photometric, (),
                    spec.makeup)
    flipped = FaceSpec(shape, pose.mirrored(), spec.appearance,
                       spec.photometric, (), spec.makeup)
    kpts = lay.select(project_parts(spec, SIZE)[0])
    kpts_m = lay.select(project_parts(flipped, SIZE)[0])
    kpts_m[:, 0] = SIZE - 1 - kpts_m[:, 0]
    np.testing.assert_allclose(kpts_m[list(lay.flip_indices)], kpts,
                               atol=1.0 / SUBPIXEL + 1e-9, rtol=0)


def test_json_layout_matches_300w(dataset):
    assert dataset['counts']['train'] == NUM_TRAIN
    assert dataset['counts']['test'] == NUM_TEST
    coco = _load(dataset['ann_files']['test'])
    assert set(coco) == {'images', 'annotations', 'categories'}
    assert coco['categories'][0]['id'] == 1
    assert len(coco['categories'][0]['keypoints']) == 68
    for im, ann in zip(coco['images'], coco['annotations']):
        assert set(im) == {'id', 'file_name', 'height', 'width'}
        assert im['height'] == im['width'] == SIZE
        assert osp.isfile(osp.join(dataset['image_dir'], im['file_name']))
        assert set(ann) == {'id', 'image_id', 'category_id', 'iscrowd',
                            'num_keypoints', 'keypoints', 'bbox', 'area',
                            'center', 'scale', 'attributes',
                            'keypoints_occluded'}
        # per-point occlusion agrees with the face's occlusion flag
        occluded = ann['keypoints_occluded']
        assert len(occluded) == 68 and set(occluded) <= {0, 1}
        assert ann['attributes']['occlusion'] == int(
            np.mean(occluded) >= 0.1)
        assert ann['image_id'] == im['id'] and ann['category_id'] == 1
        assert ann['num_keypoints'] == 68 and ann['iscrowd'] == 0
        k = np.array(ann['keypoints']).reshape(-1, 3)
        assert (k[:, 2] == 2).all()
        x0, y0 = k[:, :2].min(0)
        x1, y1 = k[:, :2].max(0)
        np.testing.assert_allclose(ann['bbox'], [x0, y0, x1 - x0, y1 - y0])
        np.testing.assert_allclose(ann['center'],
                                   [(x0 + x1) / 2, (y0 + y1) / 2])
        assert ann['area'] == pytest.approx((x1 - x0) * (y1 - y0))
        assert ann['scale'] == pytest.approx(max(x1 - x0, y1 - y0) / 200,
                                             abs=1e-6)
        # Face occupies roughly 40-70 % of the frame.
        assert 0.38 * SIZE <= max(x1 - x0, y1 - y0) <= 0.72 * SIZE
        assert set(ann['attributes']) == set(ATTRIBUTES)


def test_face300w_dataset_reads_it(dataset):
    from mmpose.datasets import Face300WDataset
    for split, count in (('train', NUM_TRAIN), ('test', NUM_TEST)):
        ds = Face300WDataset(
            ann_file=dataset['ann_files'][split],
            data_root=dataset['out_dir'], data_prefix=dict(img='images/'),
            pipeline=[],
            metainfo=dict(from_file='configs/_base_/datasets/300w.py'))
        assert len(ds) == count
        assert ds.metainfo['num_keypoints'] == 68
    coco = _load(dataset['ann_files']['test'])
    info = ds[0]
    assert osp.isfile(info['img_path'])
    assert info['keypoints'].shape == (1, 68, 2)
    np.testing.assert_allclose(info['keypoints'][0],
                               _keypoints(coco)[0, :, :2], atol=1e-4)
    assert info['bbox_scale'][0, 0] == pytest.approx(
        coco['annotations'][0]['scale'] * 200, rel=1e-6)


def test_keypoints_inside_image(dataset):
    for split in ('train', 'test'):
        k = _keypoints(_load(dataset['ann_files'][split]))[..., :2]
        assert k.min() >= 0 and k.max() <= SIZE - 1


def test_deterministic_by_seed(dataset, tmp_path):
    again = generate_synthface(str(tmp_path / 'again'), NUM_TRAIN, NUM_TEST,
                               seed=SEED, workers=1, verbose=False)
    for key, path in dataset['ann_files'].items():
        with open(path, 'rb') as a, open(again['ann_files'][key], 'rb') as b:
            assert a.read() == b.read(), key
    coco = _load(dataset['ann_files']['test'])
    train = _load(dataset['ann_files']['train'])
    for im in coco['images'] + train['images']:
        a = cv2.imread(osp.join(dataset['image_dir'], im['file_name']))
        b = cv2.imread(osp.join(again['image_dir'], im['file_name']))
        assert a is not None and np.array_equal(a, b), im['file_name']
    other = generate_synthface(str(tmp_path / 'other'), NUM_TRAIN,
                               NUM_TEST, seed=SEED + 1, workers=2,
                               verbose=False)
    k0 = _keypoints(train)
    k1 = _keypoints(_load(other['ann_files']['train']))
    assert np.abs(k0 - k1).max() > 1.0
    name = train['images'][0]['file_name']
    a = cv2.imread(osp.join(dataset['image_dir'], name))
    b = cv2.imread(osp.join(other['image_dir'], name))
    assert not np.array_equal(a, b)


def test_attribute_flags_agree_with_parameters(dataset):
    coco = _load(dataset['ann_files']['test'])
    kpts = _keypoints(coco)
    for i, ann in enumerate(coco['annotations']):
        spec = sample_face(SEED, 'test', i)
        s, p, ph = spec.shape, spec.pose, spec.photometric
        flags = ann['attributes']
        assert flags['pose'] == int(abs(p.yaw) >= 30 or abs(p.roll) >= 30
                                    or abs(p.pitch) >= 20)
        assert flags['expression'] == int(
            s.mouth_open >= attr.EXPR_MOUTH_OPEN or s.smile >= attr.EXPR_SMILE
            or s.brow_raise >= attr.EXPR_BROW_RAISE
            or s.brow_raise <= attr.EXPR_FROWN
            or s.eye_open <= attr.EXPR_EYES_CLOSED)
        assert flags['illumination'] == int(
            ph.light_strength >= attr.ILLUM_STRENGTH
            or abs(ph.exposure) >= attr.ILLUM_EXPOSURE)
        assert flags['makeup'] == int(spec.makeup >= attr.MAKEUP_LEVEL)
        assert flags['blur'] == int(ph.blur_sigma >= attr.BLUR_SIGMA
                                    or ph.motion_length >= attr.BLUR_MOTION)
        if not spec.occluders:
            assert flags['occlusion'] == 0
            continue
        sample = make_sample(SEED, 'test', i, SIZE, '68')
        assert flags['occlusion'] == int(
            sample.occluded_share >= attr.OCCLUSION_SHARE)
        # The JSON keypoints are exactly the rendered sample's points.
        np.testing.assert_array_equal(sample.keypoints, kpts[i, :, :2])


def test_subset_files_hold_exactly_the_flagged_faces(dataset):
    coco = _load(dataset['ann_files']['test'])
    by_id = {a['id']: a for a in coco['annotations']}
    sizes = []
    for name in ATTRIBUTES:
        key = f'test_{SUBSET_NAMES[name]}'
        path = dataset['ann_files'][key]
        assert osp.basename(path) == f'synthface_{key}.json'
        sub = _load(path)
        want = {a['id'] for a in coco['annotations']
                if a['attributes'][name]}
        got = {a['id'] for a in sub['annotations']}
        assert got == want, name
        assert {im['id'] for im in sub['images']} == {
            by_id[i]['image_id'] for i in want}
        assert all(a == by_id[a['id']] for a in sub['annotations'])
        assert dataset['counts'][key] == len(want)
        sizes.append(len(want))
    assert all(0 < n < NUM_TEST for n in sizes), sizes


def test_mean_shape_predictor_nme_is_high(dataset):
    """A mean shape placed in the GT box must be clearly beaten."""
    train = _keypoints(_load(dataset['ann_files']['train']))[..., :2]
    test_coco = _load(dataset['ann_files']['test'])
    test = _keypoints(test_coco)[..., :2]
    box_tr = np.array([a['bbox'] for a in
                       _load(dataset['ann_files']['train'])['annotations']])
    box_te = np.array([a['bbox'] for a in test_coco['annotations']])
    norm = (train - box_tr[:, None, :2]) / box_tr[:, None, 2:]
    pred = norm.mean(0)[None] * box_te[:, None, 2:] + box_te[:, None, :2]
    iod = np.linalg.norm(test[:, 36] - test[:, 45], axis=1)
    nme = float((np.linalg.norm(pred - test, axis=2).mean(1) / iod).mean())
    print(f'\nmean-shape predictor NME (inter-ocular): {nme:.4f}')
    assert 0.08 < nme < 0.5


def test_skips_existing_set_unless_forced(dataset):
    again = generate_synthface(dataset['out_dir'], NUM_TRAIN, NUM_TEST,
                               seed=SEED, verbose=False)
    assert again['skipped'] and again['counts'] == dataset['counts']
    manifest = _load(dataset['manifest'])
    assert manifest['params']['seed'] == SEED
    assert manifest['params']['layout'] == '68'


def test_layout_98_reads_as_wflw_and_shares_images(dataset, tmp_path):
    from mmpose.datasets import WFLWDataset
    info = generate_synthface(str(tmp_path / 'wflw'), 3, 3, seed=SEED,
                              layout='98', workers=1, verbose=False)
    ds = WFLWDataset(
        ann_file=info['ann_files']['test'], data_root=info['out_dir'],
        data_prefix=dict(img='images/'), pipeline=[],
        metainfo=dict(from_file='configs/_base_/datasets/wflw.py'))
    assert len(ds) == 3 and ds[0]['keypoints'].shape == (1, 98, 2)
    name = 'train_000001.jpg'
    a = cv2.imread(osp.join(info['image_dir'], name))
    b = cv2.imread(osp.join(dataset['image_dir'], name))
    assert np.array_equal(a, b)
    # The 300W points are a subset of the WFLW points (same drawing).
    k98 = _keypoints(_load(info['ann_files']['train']))[1, :, :2]
    k68 = _keypoints(_load(dataset['ann_files']['train']))[1, :, :2]
    np.testing.assert_array_equal(k98[0:33:2], k68[:17])
    np.testing.assert_array_equal(k98[33:38], k68[17:22])
    np.testing.assert_array_equal(k98[42:47], k68[22:27])
    np.testing.assert_array_equal(k98[51:60], k68[27:36])
    np.testing.assert_array_equal(k98[[60, 64, 68, 72]], k68[[36, 39, 42, 45]])
    np.testing.assert_array_equal(k98[76:96], k68[48:68])


def test_cli(tmp_path, monkeypatch, capsys):
    out = tmp_path / 'cli'
    argv = ['generate.py', str(out), '--num-train', '2', '--num-test', '2',
            '--seed', '3', '--workers', '1']
    monkeypatch.setattr(sys, 'argv', argv)
    runpy.run_path(osp.join(REPO, 'tools', 'synthface', 'generate.py'),
                   run_name='__main__')
    text = capsys.readouterr().out
    assert 'images/s' in text
    assert osp.isfile(out / 'annotations' / 'synthface_test_blur.json')
    monkeypatch.setattr(sys, 'argv', argv)
    runpy.run_path(osp.join(REPO, 'tools', 'synthface', 'generate.py'),
                   run_name='__main__')
    assert 'up to date' in capsys.readouterr().out
    monkeypatch.setattr(sys, 'argv', argv + ['--force'])
    runpy.run_path(osp.join(REPO, 'tools', 'synthface', 'generate.py'),
                   run_name='__main__')
    assert 'images/s' in capsys.readouterr().out
