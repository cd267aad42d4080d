"""FaceLandmarkMetric: NME (= MMPose's), FR, AUC, subsets, stages."""
import json

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData
from scipy.integrate import simpson

import repformer_mmpose  # noqa: F401
from mmpose.datasets.transforms import PackPoseInputs
from mmpose.evaluation.metrics import NME
from mmpose.registry import DATASETS, METRICS
from mmpose.structures import PoseDataSample
from repformer_mmpose.evaluation import (FaceLandmarkMetric, auc, ced_curve,
                                         failure_rate)
from repformer_mmpose.evaluation.eval_config import face_metric_cfg
from repformer_mmpose.evaluation.subsets import find_subset_files

TOY_META = dict(dataset_name='toy', keypoint_id2name={0: 'a', 1: 'b'})


def sample(name, gt, pred, visible=None, stages=None, **meta):
    """A data sample dict as mmengine hands it to metrics."""
    gt = np.asarray(gt, np.float64)[None]
    visible = np.ones(gt.shape[:2]) if visible is None else np.asarray(
        visible, np.float64)[None]
    pred_instances = dict(keypoints=np.asarray(pred, np.float64)[None])
    if stages is not None:
        pred_instances['stage_keypoints'] = np.asarray(stages,
                                                       np.float64)[None]
    return dict(
        img_path=f'/data/images/{name}',
        gt_instances=dict(keypoints=gt, keypoints_visible=visible),
        pred_instances=pred_instances,
        **meta)


EYES = [[0., 0.], [10., 0.]]  # inter-ocular distance 10


def shifted(dx):
    return [[dx, 0.], [10. + dx, 0.]]


def hand_made():
    """Per-face NME 0.05, 0.1 (exactly the threshold), 0.2, and 0.04 for a
    face whose second point is invisible (and 5 inter-ocular units off)."""
    return [
        sample('a.jpg', EYES, shifted(0.5)),
        sample('b.jpg', EYES, shifted(1.0)),
        sample('c.jpg', EYES, shifted(2.0)),
        sample('d.jpg', EYES, [[0.4, 0.], [60., 0.]], visible=[1, 0]),
    ]


def run_metric(metric, samples, meta=TOY_META):
    metric.dataset_meta = meta
    metric.process([], samples)
    return metric.compute_metrics(metric.results)


def pipnet_fr_auc(nmes, thres=0.1, step=0.0001):
    """PIPNet's compute_fr_and_auc, written out independently."""
    nmes = np.asarray(nmes)
    xs = np.arange(0, thres + step, step)
    ys = np.array([np.count_nonzero(nmes <= x) for x in xs]) / len(nmes)
    return 1.0 - ys[-1], simpson(ys, x=xs) / thres


def test_nme_fr_auc_on_hand_made_faces():
    metrics = run_metric(
        FaceLandmarkMetric(norm_mode='keypoint_distance',
                           keypoint_indices=[0, 1]), hand_made())
    # NME pools the 7 visible points, as MMPose: (2*.05 + 2*.1 + 2*.2 +
    # .04) / 7; the invisible point of face d counts nowhere
    assert metrics['NME'] == pytest.approx(0.74 / 7, abs=1e-12)
    # FR: only face c (0.2); face b at exactly 0.1 is not a failure
    assert metrics['FR@0.10'] == 0.25
    fr, area = pipnet_fr_auc([0.05, 0.1, 0.2, 0.04])
    assert fr == 0.25
    assert metrics['AUC@0.10'] == pytest.approx(area, abs=1e-12)
    # the CED is a step function: 1/4 from 0.04, 1/2 from 0.05, 3/4 at
    # 0.1; its exact area / 0.1 is 0.275 (Simpson's rule on the grid
    # differs by a fraction of a step at each jump)
    assert metrics['AUC@0.10'] == pytest.approx(0.275, abs=5e-4)


def test_nme_equals_mmpose_nme_on_the_same_samples():
    samples = hand_made()
    ours = run_metric(
        FaceLandmarkMetric(norm_mode='keypoint_distance',
                           keypoint_indices=[0, 1]), samples)
    theirs = run_metric(
        NME(norm_mode='keypoint_distance', keypoint_indices=[0, 1]),
        samples)
    assert ours['NME'] == pytest.approx(theirs['NME'], abs=1e-6)


def random_faces(num, rng, box=True, box_size=None):
    """300W-like faces in float32 as the data pipeline gives them, with a
    few invisible points and a center/scale box."""
    samples = []
    for i in range(num):
        gt = rng.uniform(50, 250, (68, 2)).astype(np.float32)
        pred = gt + rng.normal(0, 4, gt.shape).astype(np.float32)
        visible = np.ones(68, np.float32)
        visible[rng.choice(68, 4, replace=False)] = 0
        s = sample(f'{i}.jpg', gt, pred, visible, dataset_name='300w')
        if box:
            w, h = rng.uniform(120, 220, 2)
            s['gt_instances']['bboxes'] = np.array([[10, 20, 10 + w,
                                                     20 + h]], np.float32)
        if box_size is not None:
            s['box_size'] = box_size
        samples.append(s)
    return samples


def test_interocular_nme_equals_mmpose_with_invisible_points():
    samples = random_faces(40, np.random.default_rng(0))
    meta = dict(dataset_name='300w')
    ours = run_metric(FaceLandmarkMetric(), samples, meta)
    theirs = run_metric(NME(norm_mode='keypoint_distance'), samples, meta)
    assert ours['NME'] == pytest.approx(theirs['NME'], abs=1e-6)
    # independently: eye corners 36/45, mean over visible points
    errors = []
    for s in samples:
        gt = s['gt_instances']['keypoints'][0].astype(np.float64)
        pred = s['pred_instances']['keypoints'][0].astype(np.float64)
        vis = s['gt_instances']['keypoints_visible'][0] > 0
        ocular = np.linalg.norm(gt[36] - gt[45])
        errors += list(np.linalg.norm(pred - gt, axis=1)[vis] / ocular)
    assert ours['NME'] == pytest.approx(np.mean(errors), abs=1e-9)


def test_box_normalisation_falls_back_to_mmpose_box_side():
    """Records without box_size: the longer side of the center/scale box,
    as MMPose's NME(norm_item='bbox_size')."""
    samples = random_faces(20, np.random.default_rng(1))
    meta = dict(dataset_name='aflw')
    metric = FaceLandmarkMetric()  # auto: AFLW -> box
    ours = run_metric(metric, samples, meta)
    theirs = run_metric(
        NME(norm_mode='use_norm_item', norm_item='bbox_size'), samples, meta)
    assert ours['NME'] == pytest.approx(theirs['NME'], abs=1e-6)
    assert metric.last_evaluation.norm_sources == {'bbox': 20}
    assert 'MMPose 1.x' in metric.last_evaluation.normalisation()


def test_box_normalisation_uses_the_record_box_size():
    samples = random_faces(10, np.random.default_rng(2), box_size=500.)
    metric = FaceLandmarkMetric(norm_mode='box_size')
    ours = run_metric(metric, samples, dict(dataset_name='aflw'))
    errors = [
        np.linalg.norm(s['pred_instances']['keypoints'][0].astype(float) -
                       s['gt_instances']['keypoints'][0], axis=1)[
                           s['gt_instances']['keypoints_visible'][0] > 0]
        for s in samples
    ]
    assert ours['NME'] == pytest.approx(
        np.concatenate(errors).mean() / 500., abs=1e-9)
    assert metric.last_evaluation.norm_sources == {'box_size': 10}
    assert 'box_size' in metric.last_evaluation.normalisation()
    # MMPose 1.x divides by the box side instead: a different figure here
    theirs = run_metric(
        NME(norm_mode='use_norm_item', norm_item='bbox_size'), samples,
        dict(dataset_name='aflw'))
    assert abs(ours['NME'] - theirs['NME']) > 1e-3


def test_aflw_fixture_box_size_reaches_the_metric(fixture_dir, repo_root):
    """Our test pipeline passes AFLW's box_size on; on MMPose's fixture
    box_size equals the box side, so both normalisations agree."""
    root = fixture_dir('aflw')
    cfg = Config.fromfile(
        str(repo_root / 'configs' / 'repformer' / 'aflw' /
            'repformer_res18_1xb16-360e_aflw-256x256.py'))
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.update(data_root=str(root), ann_file='test_aflw.json',
                       data_prefix=dict(img=''))
    with DefaultScope.overwrite_default_scope('mmpose'):
        dataset = DATASETS.build(dataset_cfg)
    packed = [dataset[i]['data_samples'] for i in range(len(dataset))]
    with open(root / 'test_aflw.json') as f:
        box_sizes = sorted(a['box_size'] for a in json.load(f)['annotations'])
    assert sorted(p.metainfo['box_size'] for p in packed) == box_sizes
    rng = np.random.default_rng(3)
    samples = []
    for data_sample in packed:
        data_sample.pred_instances = InstanceData(
            keypoints=data_sample.gt_instances.keypoints +
            rng.normal(0, 3, data_sample.gt_instances.keypoints.shape))
        samples.append(data_sample.to_dict())
    meta = dict(dataset_name='aflw')
    with_box_size = FaceLandmarkMetric()
    ours = run_metric(with_box_size, samples, meta)
    assert with_box_size.last_evaluation.norm_sources == {'box_size': 2}
    without = [{k: v for k, v in s.items() if k != 'box_size'}
               for s in samples]
    fallback = FaceLandmarkMetric()
    ours_fallback = run_metric(fallback, without, meta)
    assert fallback.last_evaluation.norm_sources == {'bbox': 2}
    theirs = run_metric(
        NME(norm_mode='use_norm_item', norm_item='bbox_size'), samples, meta)
    assert ours['NME'] == pytest.approx(theirs['NME'], abs=1e-6)
    assert ours_fallback['NME'] == pytest.approx(theirs['NME'], abs=1e-6)


def test_stage_nme_per_refinement_stage():
    stages = [shifted(3.0), shifted(2.0), shifted(1.0)]  # L^1..L^3
    samples = [
        sample('a.jpg', EYES, shifted(1.0), stages=stages),
        sample('b.jpg', EYES, shifted(1.0), stages=stages),
    ]
    metrics = run_metric(
        FaceLandmarkMetric(keypoint_indices=[0, 1], first_stage=1), samples)
    assert metrics['NME/stage1'] == pytest.approx(0.3)
    assert metrics['NME/stage2'] == pytest.approx(0.2)
    assert metrics['NME/stage3'] == pytest.approx(0.1)
    assert metrics['NME/stage3'] == pytest.approx(metrics['NME'])
    assert 'NME/stage0' not in metrics
    samples[1]['pred_instances'].pop('stage_keypoints')
    with pytest.raises(ValueError, match='stage_keypoints'):
        run_metric(FaceLandmarkMetric(keypoint_indices=[0, 1]), samples)


def write_coco(path, faces, attributes=None):
    """faces: (ann id, file name, keypoints (K, 2))."""
    images, annotations = [], []
    for index, (ann_id, file_name, points) in enumerate(faces):
        images.append(dict(id=100 + index, file_name=file_name))
        flat = np.concatenate([np.asarray(points), np.ones((len(points), 1))],
                              1).ravel().tolist()
        ann = dict(id=ann_id, image_id=100 + index, keypoints=flat)
        if attributes is not None:
            ann['attributes'] = attributes[index]
        annotations.append(ann)
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=annotations), f)


def test_subsets_from_files_match_by_image_and_keypoints(tmp_path):
    samples = hand_made()
    # other annotation ids than the test file: matching does not use them
    write_coco(tmp_path / 'test_hard.json', [(900, 'c.jpg', EYES),
                                             (901, 'b.jpg', EYES)])
    write_coco(tmp_path / 'test_easy.json', [(902, 'images/a.jpg', EYES)])
    metric = FaceLandmarkMetric(
        keypoint_indices=[0, 1],
        subset_files=dict(hard='test_hard.json', easy='test_easy.json'),
        data_root=str(tmp_path))
    metrics = run_metric(metric, samples)
    assert metrics['NME/hard'] == pytest.approx(0.15)
    assert metrics['FR@0.10/hard'] == 0.5
    assert metrics['NME/easy'] == pytest.approx(0.05)
    assert metrics['FR@0.10/easy'] == 0.
    assert metric.last_evaluation.subsets['hard'].faces == 2


def test_subset_face_not_in_the_test_set_is_an_error(tmp_path):
    moved = [[0.1, 0.], [10., 0.]]  # same image, other face
    write_coco(tmp_path / 'bad.json', [(7, 'a.jpg', moved)])
    metric = FaceLandmarkMetric(
        keypoint_indices=[0, 1], subset_files=dict(bad=str(
            tmp_path / 'bad.json')))
    with pytest.raises(ValueError,
                       match=r'bad\.json: subset "bad", annotation id 7'):
        run_metric(metric, hand_made())
    missing = FaceLandmarkMetric(
        keypoint_indices=[0, 1], subset_files=dict(x='nowhere.json'))
    with pytest.raises(FileNotFoundError, match='nowhere.json'):
        run_metric(missing, hand_made())


def test_subsets_from_attribute_flags(tmp_path):
    flags = [dict(pose=1, blur=0), dict(pose=1, blur=0),
             dict(pose=0, blur=0), dict(pose=0, blur=0)]
    write_coco(tmp_path / 'test.json',
               [(i, f'{n}.jpg', EYES) for i, n in enumerate('abcd')], flags)
    metric = FaceLandmarkMetric(
        keypoint_indices=[0, 1], attribute_file=str(tmp_path / 'test.json'))
    metrics = run_metric(metric, hand_made())
    # WFLW's "pose" flag is the "largepose" subset: faces a and b
    assert metrics['NME/largepose'] == pytest.approx(0.075)
    # no face has the blur flag: an empty subset is not reported
    assert 'NME/blur' not in metrics
    assert metric.last_evaluation.subsets['blur'].faces == 0


def test_bad_input_is_named():
    degenerate = [sample('zero.jpg', [[5., 5.], [5., 5.]], shifted(1.))]
    with pytest.raises(ValueError, match='zero.jpg.*not a positive'):
        run_metric(FaceLandmarkMetric(keypoint_indices=[0, 1]), degenerate)
    no_box = [sample('nobox.jpg', EYES, EYES)]
    with pytest.raises(KeyError, match='nobox.jpg.*bboxes'):
        run_metric(FaceLandmarkMetric(norm_mode='box_size'), no_box)
    unknown = [sample('x.jpg', EYES, EYES)]
    with pytest.raises(KeyError, match="x.jpg.*'toy'"):
        run_metric(FaceLandmarkMetric(), unknown)
    with pytest.raises(ValueError, match='norm_mode'):
        FaceLandmarkMetric(norm_mode='eyes')
    with pytest.raises(ValueError, match='multiple'):
        ced_curve([0.1], threshold=0.1, step=0.03)


def test_ced_counts_faces_at_or_below_each_threshold():
    x, ced = ced_curve([0.02, 0.05, 0.05, 0.3], threshold=0.1, step=0.01)
    assert np.allclose(x, np.arange(11) * 0.01)
    assert list(ced) == [0, 0, .25, .25, .25, .75, .75, .75, .75, .75, .75]
    assert failure_rate([0.02, 0.1, 0.100001]) == pytest.approx(1 / 3)
    assert auc([0.]) == pytest.approx(1.)
    assert auc([0.5]) == 0.


def test_registered_and_usable_as_an_evaluator():
    with DefaultScope.overwrite_default_scope('mmpose'):
        assert isinstance(
            METRICS.build(dict(type='FaceLandmarkMetric')),
            FaceLandmarkMetric)
        evaluator = Evaluator(
            [dict(type='FaceLandmarkMetric', keypoint_indices=[0, 1])])
    evaluator.dataset_meta = TOY_META
    data_samples = []
    for s in hand_made():
        data_sample = PoseDataSample(metainfo=dict(img_path=s['img_path']))
        data_sample.gt_instances = InstanceData(**s['gt_instances'])
        data_sample.pred_instances = InstanceData(**s['pred_instances'])
        data_samples.append(data_sample)
    evaluator.process(data_samples)
    metrics = evaluator.evaluate(len(data_samples))
    assert metrics['NME'] == pytest.approx(0.74 / 7)
    assert metrics['FR@0.10'] == 0.25


def test_config_evaluator_becomes_the_face_metric(tmp_path, repo_root):
    configs = repo_root / 'configs' / 'repformer'
    aflw = Config.fromfile(
        str(configs / 'aflw' / 'repformer_res18_1xb16-360e_aflw-256x256.py'))
    assert face_metric_cfg(aflw, with_subsets=False) == dict(
        type='FaceLandmarkMetric', norm_mode='box_size', first_stage=0)
    # the test pipeline passes MMPose's meta keys and box_size on
    (pack, ) = [
        t for t in aflw.test_dataloader.dataset.pipeline
        if t['type'] == 'PackPoseInputs'
    ]
    assert set(pack['meta_keys']) == set(PackPoseInputs().meta_keys) | {
        'box_size'
    }
    wflw = Config.fromfile(
        str(configs / 'wflw' / 'repformer_res18_1xb16-360e_wflw-256x256.py'))
    wflw.test_dataloader.dataset.data_root = str(tmp_path)
    wflw.test_dataloader.dataset.ann_file = 'wflw_test.json'
    for name in ('', '_largepose', '_blur'):
        write_coco(tmp_path / f'wflw_test{name}.json', [])
    metric = face_metric_cfg(wflw)
    assert metric['norm_mode'] == 'keypoint_distance'
    assert metric['subset_files'] == find_subset_files(
        str(tmp_path / 'wflw_test.json'))
    assert list(metric['subset_files']) == ['largepose', 'blur']


def test_face_without_visible_points_is_reported_not_scored():
    samples = hand_made()[:3] + [
        sample('hidden.jpg', EYES, shifted(9.), visible=[0, 0])
    ]
    metric = FaceLandmarkMetric(keypoint_indices=[0, 1])
    metrics = run_metric(metric, samples)
    assert metric.last_evaluation.unscored == ['/data/images/hidden.jpg']
    # FR over the 3 scored faces; NME over their 6 points
    assert metrics['FR@0.10'] == pytest.approx(1 / 3)
    assert metrics['NME'] == pytest.approx(0.7 / 6)
    assert metric.last_evaluation.full.faces == 4
