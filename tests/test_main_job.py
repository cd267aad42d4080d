"""The main job end to end on a tiny SynthFace, and its mean-shape floor."""
import importlib.util
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from repformer_mmpose.evaluation import mean_shape_errors

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_main_job():
    spec = importlib.util.spec_from_file_location(
        'main_job', osp.join(REPO, 'tools', 'main_job.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_faces(path, faces):
    """faces: list of (keypoints (K, 2), center (2,), scale)."""
    annotations = [
        dict(
            id=i,
            image_id=i,
            keypoints=np.concatenate([k, np.ones((len(k), 1))],
                                     1).ravel().tolist(),
            center=list(c),
            scale=s) for i, (k, c, s) in enumerate(faces)
    ]
    with open(path, 'w') as f:
        json.dump(dict(images=[], annotations=annotations), f)


def test_mean_shape_errors_hand_computed(tmp_path):
    # Two training faces in a 200-px box at the origin: points (-10, 0) and
    # (10, 0), and (-30, 0) and (30, 0) -> mean shape (-0.1, 0), (0.1, 0).
    train = tmp_path / 'train.json'
    write_faces(train, [
        (np.array([[-10., 0.], [10., 0.]]), (0., 0.), 1.),
        (np.array([[-30., 0.], [30., 0.]]), (0., 0.), 1.),
    ])
    # A test face with a 400-px box centred at (100, 100): the mean shape
    # lands at (60, 100), (140, 100); truth (50, 100), (150, 100); each
    # point is 10 px off, inter-ocular distance 100 -> NME 0.1.
    test = tmp_path / 'test.json'
    write_faces(test, [(np.array([[50., 100.], [150., 100.]]), (100., 100.),
                        2.)])
    errors = mean_shape_errors(str(train), str(test), (0, 1))
    assert np.allclose(errors, [0.1])


def test_mean_shape_errors_reject_mismatched_point_counts(tmp_path):
    write_faces(tmp_path / 'a.json', [(np.zeros((3, 2)), (0., 0.), 1.)])
    write_faces(tmp_path / 'b.json', [(np.ones((2, 2)), (0., 0.), 1.)])
    with pytest.raises(ValueError, match='2 keypoints per face'):
        mean_shape_errors(
            str(tmp_path / 'a.json'), str(tmp_path / 'b.json'), (0, 1))


def test_main_job_on_tiny_synthface(tmp_path):
    main_job = load_main_job()
    data_root = tmp_path / 'synthface'
    work_dir = tmp_path / 'work'
    report = main_job.main([
        '--data-root', f'{data_root}/', '--work-dir', str(work_dir),
        '--num-train', '32', '--num-test', '24', '--num-vis', '4',
        '--cfg-options', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'visualizer.name=main_job_test'
    ])
    nme_part, _, confidence_part = report.partition(
        'Per-point confidence (keypoint_scores):')
    rows = [line for line in nme_part.splitlines() if line.startswith('| ')]
    names = [row.split('|')[1].strip() for row in rows[2:]]
    assert names[0] == 'full'
    assert set(names[1:]) <= {
        'largepose', 'expression', 'illumination', 'makeup', 'occlusion',
        'blur'
    }
    full = [cell.strip() for cell in rows[2].split('|')[1:-1]]
    assert full[1] == '24'
    model_nme, baseline_nme = float(full[2]), float(full[3])
    assert 0 < model_nme < 1000 and 0 < baseline_nme < 1000
    # the CPU config's confidence branch: its statistics on the 24 faces
    confidence = [line for line in confidence_part.splitlines()
                  if line.startswith('| ')]
    cells = dict(zip([c.strip() for c in confidence[0].split('|')[1:-1]],
                     [c.strip() for c in confidence[2].split('|')[1:-1]]))
    assert cells['points'] == str(24 * 68)
    assert -1 <= float(cells['Spearman(scale, error)']) <= 1
    assert 0 <= float(cells['coverage 90 %']) <= 1
    assert 0 <= float(cells['occlusion AUROC']) <= 1  # SynthFace labels
    image = cv2.imread(str(work_dir / 'predictions.png'))
    assert image is not None and image.shape == (512, 512, 3)
    with open(work_dir / 'nme_table.md') as f:
        assert f.read() == report


def test_nme_by_source_groups_by_file_prefix():
    spec = importlib.util.spec_from_file_location(
        'nme_by_source',
        osp.join(REPO, 'tools', 'analysis', 'nme_by_source.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    gt = np.array([[[0., 0.], [10., 0.]]])  # inter-ocular distance 10

    def sample(name, shift):
        return dict(
            img_path=f'/data/{name}',
            gt_instances=dict(keypoints=gt),
            pred_instances=dict(keypoints=gt + [shift, 0.]))

    table = module.nme_by_source([
        sample('helen_1.jpg', 1.), sample('helen_2.jpg', 3.),
        sample('lfpw_1.jpg', 0.5)
    ], (0, 1))
    assert table['helen'] == (2, pytest.approx(0.2))
    assert table['lfpw'] == (1, pytest.approx(0.05))
    assert table['all'] == (3, pytest.approx(0.15))
    # an invisible point is left out
    hidden = sample('lfpw_2.jpg', 0.)
    hidden['gt_instances']['keypoints_visible'] = np.array([[1., 0.]])
    hidden['pred_instances']['keypoints'] = gt + [[0., 0.], [50., 0.]]
    assert module.nme_by_source([hidden], (0, 1))['lfpw'] == (1, 0.)


def test_tables_name_the_model_of_the_config():
    from mmengine.config import Config
    main_job = load_main_job()
    ours = Config.fromfile(osp.join(REPO, main_job.DEFAULT_CONFIG))
    baseline = Config.fromfile(osp.join(
        REPO, 'configs', 'baselines',
        'td-reg_res18_1xb16-15e_300w-subset-128x128.py'))
    assert main_job.model_name(ours) == 'RePFormer'
    assert main_job.model_name(baseline) == 'RegressionHead'
