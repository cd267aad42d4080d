"""Custom landmark sets: convert -> train -> evaluate, on any N-point scheme.

The walkthrough of ``configs/repformer/custom/README.md`` on a small set
made here from ``shared/data/300w-subset``: 16 training and 8 test faces
re-annotated with a 20-point subset of the 68 points, a few points
deleted, written as a CSV with a header. The converter CLI turns it into
MMPose JSON + a metainfo file; the template config, with only its three
marked values changed, trains a tiny RePFormer a few iterations and
evaluates it. Missing points must get no loss and stay out of the NME.
Bad input (wrong column count, unknown flip-pair points, disagreeing point
counts, config vs data) must stop with an error naming file and field.
The error tests use blank images made here and need no shared data.
"""
from __future__ import annotations

import copy
import csv
import json
import math
import re
import runpy
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

import mmpose.datasets  # noqa: F401  (registers MMPose's datasets)
import repformer_mmpose  # noqa: F401
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.evaluation import NME
from mmpose.registry import DATASETS
from repformer_mmpose.datasets.converters import ConversionError
from repformer_mmpose.datasets.converters.custom import convert_custom, main
from repformer_mmpose.datasets.transforms import CheckNumKeypoints

from conftest import REPO_ROOT, missing_data

SUBSET_ROOT = REPO_ROOT.parent / 'shared' / 'data' / '300w-subset'
TEMPLATE = (REPO_ROOT / 'configs' / 'repformer' / 'custom' /
            'repformer_res18_1xb16-60e_custom-256x256.py')
TOOL = REPO_ROOT / 'tools' / 'dataset_converters' / 'custom2coco.py'

# A 20-point scheme: 300W index -> name (image left/right).
SUBSET = {
    0: 'contour_l', 8: 'chin', 16: 'contour_r', 17: 'brow_l_outer',
    21: 'brow_l_inner', 22: 'brow_r_inner', 26: 'brow_r_outer',
    30: 'nose_tip', 31: 'nostril_l', 35: 'nostril_r', 36: 'eye_l_outer',
    39: 'eye_l_inner', 42: 'eye_r_inner', 45: 'eye_r_outer',
    48: 'mouth_l', 51: 'lip_top', 54: 'mouth_r', 57: 'lip_bottom',
    62: 'lip_inner_top', 66: 'lip_inner_bottom'
}
NAMES = list(SUBSET.values())
FLIP_PAIRS = [('contour_l', 'contour_r'), ('brow_l_outer', 'brow_r_outer'),
              ('brow_l_inner', 'brow_r_inner'), ('nostril_l', 'nostril_r'),
              ('eye_l_outer', 'eye_r_outer'), ('eye_l_inner', 'eye_r_inner'),
              ('mouth_l', 'mouth_r')]
EYES = (NAMES.index('eye_l_outer'), NAMES.index('eye_r_outer'))  # 10, 13
# Deleted cells: (split, row) -> point names.
DELETED = {
    ('train', 1): ['chin'], ('train', 4): ['nose_tip', 'brow_l_outer'],
    ('train', 9): ['mouth_r'], ('train', 13): ['contour_l'],
    ('test', 2): ['lip_top'], ('test', 5): ['contour_r', 'nostril_l'],
}
NUM_FACES = {'train': 16, 'test': 8}
SIZE = 64  # tiny input for the CPU test
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _layout_yaml(path: Path, points: bool = False) -> Path:
    lines = ['dataset_name: face20']
    if points:
        lines.append(f'points: [{", ".join(NAMES)}]')
    pairs = ', '.join(f'[{a}, {b}]' for a, b in FLIP_PAIRS)
    lines += [f'flip_pairs: [{pairs}]',
              'skeleton: [[eye_l_outer, eye_l_inner], '
              '[eye_r_inner, eye_r_outer]]',
              'norm_points: [eye_l_outer, eye_r_outer]']
    path.write_text('\n'.join(lines) + '\n')
    return path


def _write_csv(path: Path, rows: list[list[str]], header: bool) -> None:
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        if header:
            writer.writerow(['image'] + [f'{n}_{a}' for n in NAMES
                                         for a in 'xy'])
        writer.writerows(rows)


def _cells(points: np.ndarray, deleted=()) -> list[str]:
    cells = []
    for name, (x, y) in zip(NAMES, points):
        cells += ['', ''] if name in deleted else [f'{x:.3f}', f'{y:.3f}']
    return cells


@pytest.fixture(scope='module')
def custom_set(tmp_path_factory) -> dict:
    """The re-annotated 300W faces (CSV + images + layout), converted with
    the command-line tool."""
    if not (SUBSET_ROOT / 'train.json').is_file():
        missing_data(f'300W-subset not found at {SUBSET_ROOT}')
    root = tmp_path_factory.mktemp('custom_set')
    (root / 'images').mkdir()
    truth = {}
    for split, ann_file in (('train', 'train.json'),
                            ('test', 'test_common.json')):
        coco = json.loads((SUBSET_ROOT / ann_file).read_text())
        images = {img['id']: img for img in coco['images']}
        rows, points_list = [], []
        for row, ann in enumerate(coco['annotations'][:NUM_FACES[split]]):
            name = images[ann['image_id']]['file_name']
            # a link, not a copy: the data stay outside the repository
            (root / 'images' / name).symlink_to(SUBSET_ROOT / 'images' /
                                                name)
            points = np.array(ann['keypoints'], float).reshape(-1, 3)[
                list(SUBSET), :2]
            cells = _cells(points, DELETED.get((split, row), ()))
            rows.append([name] + cells)
            # what the CSV says (3 decimals), NaN where deleted
            parsed = np.array([float(c) if c else np.nan for c in cells])
            points_list.append(parsed.reshape(-1, 2))
        _write_csv(root / f'{split}.csv', rows, header=True)
        truth[split] = np.stack(points_list)
    _layout_yaml(root / 'layout.yaml')
    argv = [str(TOOL), '--root', str(root), '--ann', 'train.csv',
            'test.csv', '--layout', 'layout.yaml']
    old_argv = sys.argv
    sys.argv = argv
    try:
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_path(str(TOOL), run_name='__main__')
    finally:
        sys.argv = old_argv
    assert exit_info.value.code == 0
    return dict(root=root, truth=truth,
                metainfo=root / 'annotations' / 'metainfo.py')


def _dataset(custom_set: dict, split: str, pipeline: list | None = None):
    with DefaultScope.overwrite_default_scope('mmpose'):
        return DATASETS.build(
            dict(type='FaceLandmarkDataset',
                 data_root=str(custom_set['root']),
                 ann_file=f'annotations/{split}.json',
                 data_prefix=dict(img='images/'),
                 metainfo=dict(from_file=str(custom_set['metainfo'])),
                 test_mode=split == 'test',
                 pipeline=pipeline or []))


# ----------------------------------------------------------------------
# conversion
# ----------------------------------------------------------------------
def test_converter_writes_records_and_metainfo(custom_set):
    root, truth = custom_set['root'], custom_set['truth']
    meta = parse_pose_metainfo(dict(from_file=str(custom_set['metainfo'])))
    assert meta['dataset_name'] == 'face20'
    assert meta['num_keypoints'] == 20
    assert [meta['keypoint_id2name'][i] for i in range(20)] == NAMES
    expected_flip = list(range(20))
    for a, b in FLIP_PAIRS:
        i, j = NAMES.index(a), NAMES.index(b)
        expected_flip[i], expected_flip[j] = j, i
    assert meta['flip_indices'] == expected_flip
    assert meta['flip_indices'][NAMES.index('chin')] == NAMES.index('chin')
    assert meta['skeleton_links'] == [(10, 11), (12, 13)]

    for split in ('train', 'test'):
        coco = json.loads((root / 'annotations' / f'{split}.json').read_text())
        assert len(coco['annotations']) == NUM_FACES[split]
        for row, ann in enumerate(coco['annotations']):
            assert ann['id'] == row
            kpts = np.array(ann['keypoints']).reshape(-1, 3)
            points = truth[split][row]
            missing = np.isnan(points[:, 0])
            deleted = DELETED.get((split, row), [])
            assert sorted(np.array(NAMES)[missing]) == sorted(deleted)
            assert np.all(kpts[missing] == 0)  # [0, 0, 0]
            assert np.all(kpts[~missing, 2] == 1)
            np.testing.assert_allclose(kpts[~missing, :2], points[~missing])
            assert ann['num_keypoints'] == 20 - len(deleted)
            shown = points[~missing]
            x0, y0 = shown.min(0)
            x1, y1 = shown.max(0)
            np.testing.assert_allclose(ann['bbox'], [x0, y0, x1 - x0, y1 - y0])


def test_mmpose_reads_missing_points_as_invisible(custom_set):
    dataset = _dataset(custom_set, 'train')
    assert len(dataset) == NUM_FACES['train']
    for row in range(len(dataset)):
        info = dataset.get_data_info(row)
        assert info['keypoints'].shape == (1, 20, 2)
        hidden = [NAMES[i] for i in np.flatnonzero(
            info['keypoints_visible'][0] == 0)]
        assert sorted(hidden) == sorted(DELETED.get(('train', row), []))


# ----------------------------------------------------------------------
# the walkthrough: the template config, three values changed
# ----------------------------------------------------------------------
def _user_config(custom_set: dict, tmp_path: Path,
                 num_keypoints: int = 20) -> Config:
    """The template with the user's three edits (and absolute bases)."""
    text = TEMPLATE.read_text()
    text = text.replace("'../../_base_/",
                        f"'{REPO_ROOT / 'configs' / '_base_'}/")
    edits = {
        r"^data_root = .*$": f"data_root = '{custom_set['root']}/'",
        r"^num_keypoints = .*$": f'num_keypoints = {num_keypoints}',
        r"^metainfo = .*$":
        f"metainfo = dict(from_file='{custom_set['metainfo']}')",
    }
    for pattern, line in edits.items():
        text, count = re.subn(pattern, line, text, flags=re.M)
        assert count == 1, pattern  # the template marks each value once
    path = tmp_path / 'my_config.py'
    path.write_text(text)
    return Config.fromfile(str(path))


def _shrink(cfg: Config, work_dir: Path, tag: str) -> Config:
    """CPU test size: 64x64 input, d_model 32, random init, 2 epochs."""
    dims = 32
    cfg.model.backbone.init_cfg = None
    cfg.model.neck.update(embed_dims=dims, num_heads=2, ffn_dims=2 * dims)
    codec = dict(type='DLRLabel', input_size=(SIZE, SIZE))
    cfg.model.head.update(
        embed_dims=dims, num_heads=2, ffn_dims=2 * dims,
        predictor_dims=dims, initial_memory_size=(SIZE // 32, SIZE // 32),
        decoder=codec)
    for loader in LOADERS:
        for step in cfg[loader].dataset.pipeline:
            if 'input_size' in step:
                step.input_size = (SIZE, SIZE)
            if step.type == 'GenerateTarget':
                step.encoder = codec
        cfg[loader].update(batch_size=4, num_workers=0,
                           persistent_workers=False)
    cfg.train_cfg.update(max_epochs=2, val_interval=2)
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
    cfg.optim_wrapper.optimizer.lr = 1e-3
    cfg.default_hooks.checkpoint.update(interval=2, save_best=None)
    cfg.default_hooks.logger.interval = 1
    cfg.visualizer.name = f'visualizer_{tag}'
    cfg.randomness = dict(seed=0)
    cfg.work_dir = str(work_dir)
    return cfg


@pytest.fixture(scope='module')
def walkthrough(custom_set, tmp_path_factory) -> dict:
    """Train the user's config 2 epochs (8 iterations), then test it with
    the box-size NME of the template and the inter-ocular NME."""
    work_dir = tmp_path_factory.mktemp('walkthrough')
    cfg = _shrink(_user_config(custom_set, work_dir), work_dir, 'custom')
    cfg.test_evaluator = [
        cfg.test_evaluator,
        dict(type='FaceLandmarkMetric', norm_mode='keypoint_distance',
             keypoint_indices=list(EYES), prefix='interocular'),
    ]
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    return dict(runner=runner, metrics=metrics, work_dir=work_dir)


def test_walkthrough_trains_and_reports_nme(walkthrough):
    runner, metrics = walkthrough['runner'], walkthrough['metrics']
    assert runner.iter == 8  # 16 faces, batch 4, 2 epochs
    assert (walkthrough['work_dir'] / 'epoch_2.pth').is_file()
    assert runner.model.head.num_keypoints == 20
    scalars = Path(runner.log_dir) / 'vis_data' / 'scalars.json'
    losses = [json.loads(line)['loss'] for line in scalars.read_text(
    ).splitlines() if '"loss"' in line]
    assert len(losses) == 8 and all(math.isfinite(v) and v > 0
                                    for v in losses)
    assert {'NME', 'FR@0.10', 'AUC@0.10', 'interocular/NME'} <= set(metrics)
    for key, value in metrics.items():
        assert math.isfinite(value), key
        assert (value > 0) if 'NME' in key else (0 <= value <= 1), key
    # the box is wider than the eye-corner distance
    assert metrics['NME'] < metrics['interocular/NME']


def test_missing_points_get_no_loss(walkthrough, custom_set):
    """Changing an invisible point's target leaves the loss unchanged;
    changing a visible one's changes it."""
    model = walkthrough['runner'].model.eval()  # no dropout
    codec = dict(type='DLRLabel', input_size=(SIZE, SIZE))
    pipeline = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='TopdownAffine', input_size=(SIZE, SIZE)),
        dict(type='GenerateTarget', encoder=codec),
        dict(type='PackPoseInputs'),
    ]
    dataset = _dataset(custom_set, 'train', pipeline)
    rows = [1, 4, 0]  # faces with 1, 2 and no deleted points
    batch = model.data_preprocessor(
        pseudo_collate([dataset[i] for i in rows]), training=True)

    def total_loss(samples) -> float:
        with torch.no_grad():
            losses = model.loss(batch['inputs'], samples)
        return sum(v.item() for k, v in losses.items()
                   if k.startswith('loss'))

    samples = batch['data_samples']
    weights = torch.cat([s.gt_instance_labels.keypoint_weights
                         for s in samples])
    for k, row in enumerate(rows):
        hidden = [NAMES[i] for i in torch.nonzero(weights[k] == 0)[:, 0]]
        assert sorted(hidden) == sorted(DELETED.get(('train', row), []))
    base = total_loss(samples)
    invisible = copy.deepcopy(samples)
    invisible[1].gt_instance_labels.keypoint_labels[0, [7, 3]] += 0.37
    invisible[0].gt_instance_labels.keypoint_labels[0, 1] = -5.0
    assert total_loss(invisible) == pytest.approx(base, rel=0, abs=1e-7)
    visible = copy.deepcopy(samples)
    visible[1].gt_instance_labels.keypoint_labels[0, 10] += 5.0
    assert total_loss(visible) > base + 1e-3


@pytest.mark.parametrize('norm_mode', ['keypoint_distance', 'use_norm_item'])
def test_missing_points_are_not_in_the_nme(custom_set, norm_mode):
    """Predictions 5 px off at visible points and 10 000 px off at the
    deleted ones: the NME is 5 px over each face's normaliser."""
    dataset = _dataset(custom_set, 'test',
                       [dict(type='LoadImage'),
                        dict(type='PackPoseInputs')])
    truth = custom_set['truth']['test']
    samples = []
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples'].to_dict()
        gt = sample['gt_instances']
        pred = gt['keypoints'] + np.array([3.0, 4.0])
        pred[gt['keypoints_visible'] == 0] += 1e4
        sample['pred_instances'] = dict(keypoints=pred)
        samples.append(sample)
    if norm_mode == 'keypoint_distance':
        metric = NME(norm_mode, keypoint_indices=list(EYES))
        norms = np.linalg.norm(truth[:, EYES[0]] - truth[:, EYES[1]], axis=1)
    else:
        metric = NME(norm_mode, norm_item='bbox_size')
        spans = [np.nanmax(p, 0) - np.nanmin(p, 0) for p in truth]
        norms = np.array([span.max() for span in spans])
    metric.dataset_meta = dataset.metainfo
    metric.process([], samples)
    nme = metric.compute_metrics(metric.results)['NME']
    visible = ~np.isnan(truth[..., 0])
    expected = (visible * (5.0 / norms)[:, None]).sum() / visible.sum()
    assert nme == pytest.approx(expected, rel=1e-5)


# ----------------------------------------------------------------------
# point count: config vs data
# ----------------------------------------------------------------------
def test_config_point_count_mismatch_is_a_clear_error(custom_set, tmp_path):
    cfg = _user_config(custom_set, tmp_path, num_keypoints=68)
    assert cfg.model.head.num_keypoints == 68
    dataset_cfg = cfg.train_dataloader.dataset
    with DefaultScope.overwrite_default_scope('mmpose'):
        dataset = DATASETS.build(dataset_cfg)
    with pytest.raises(ValueError) as err:
        dataset[0]
    message = str(err.value)
    assert 'afw_' in message and 'annotation id 0' in message
    assert 'expects 68 landmarks' in message
    assert 'the annotation has 20' in message
    assert 'the dataset metainfo (face20) has 20' in message


def test_check_num_keypoints_passes_matching_samples():
    results = dict(keypoints=np.zeros((1, 5, 2)), flip_indices=[4, 3, 2, 1,
                                                                0])
    assert CheckNumKeypoints(5)(results) is results
    with pytest.raises(ValueError, match='dataset metainfo'):
        CheckNumKeypoints(5)(dict(keypoints=np.zeros((1, 5, 2)),
                                  flip_indices=[0, 1, 2]))
    with pytest.raises(ValueError, match='positive integer'):
        CheckNumKeypoints(0)


# ----------------------------------------------------------------------
# bad input (blank images made here; no shared data needed)
# ----------------------------------------------------------------------
def _blank_set(tmp_path: Path, rows: list[list[str]], header=False,
               num_images: int = 4) -> Path:
    (tmp_path / 'images').mkdir(exist_ok=True)
    for i in range(num_images):
        cv2.imwrite(str(tmp_path / 'images' / f'im{i}.png'),
                    np.zeros((40, 50, 3), np.uint8))
    _write_csv(tmp_path / 'faces.csv', rows, header)
    return tmp_path


def _face(i: int, seed: int = 0, deleted=()) -> list[str]:
    rng = np.random.default_rng(seed + i)
    return [f'im{i}.png'] + _cells(rng.uniform(2, 38, (20, 2)), deleted)


def _convert(root: Path, **kwargs):
    if 'layout' not in kwargs:
        kwargs['layout'] = _layout_yaml(root / 'layout.yaml', points=True)
    return convert_custom(root, ['faces.csv'], log=lambda line: None,
                          **kwargs)


def test_wrong_column_count_names_file_line_and_field(tmp_path, capsys):
    row = _face(1)[:-1]  # the last y cell dropped
    root = _blank_set(tmp_path, [_face(0), row, _face(2)])
    with pytest.raises(ConversionError) as err:
        _convert(root)
    assert err.value.source.endswith('faces.csv')
    assert (err.value.location, err.value.field) == ('line 2', 'columns')
    assert '40 columns, expected 41' in err.value.message
    assert not (root / 'annotations').exists()  # nothing written
    # the command line: exit status 1 and the same message
    status = main(['--root', str(root), '--ann', 'faces.csv', '--layout',
                   str(root / 'layout.yaml')])
    assert status == 1
    assert "faces.csv, line 2: field 'columns'" in capsys.readouterr().err
    # --skip-bad reports and skips it
    _convert(root, skip_bad=True)
    coco = json.loads((root / 'annotations' / 'faces.json').read_text())
    assert [a['id'] for a in coco['annotations']] == [0, 2]


def test_flip_pairs_naming_unknown_points(tmp_path):
    root = _blank_set(tmp_path, [_face(0)])
    layout = _layout_yaml(root / 'layout.yaml', points=True)
    text = layout.read_text().replace('[mouth_l, mouth_r]',
                                      '[mouth_l, mouth_right]')
    layout.write_text(text)
    with pytest.raises(ConversionError) as err:
        _convert(root, layout=layout)
    assert err.value.source == str(layout)
    assert (err.value.location, err.value.field) == ('flip_pairs[6]',
                                                     'flip_pairs')
    assert "unknown point 'mouth_right'" in err.value.message
    # the same from the command line
    with pytest.raises(ConversionError) as err:
        _convert(root, flip_pairs=['eye_l_outer:eye_r_outer', 'nose:chin'])
    assert (err.value.source, err.value.location) == ('command line',
                                                      '--flip-pairs')
    assert "unknown point 'nose'" in err.value.message
    # a point in two pairs
    with pytest.raises(ConversionError, match='already in the flip pair'):
        _convert(root, flip_pairs=['eye_l_outer:eye_r_outer',
                                   'eye_l_outer:chin'])
    assert not (root / 'annotations').exists()


def test_point_counts_that_disagree(tmp_path):
    root = _blank_set(tmp_path, [_face(0), _face(1)], header=True)
    with pytest.raises(ConversionError) as err:
        _convert(root, num_points=19)
    assert err.value.field == 'points'
    assert '20 points' in err.value.message and '19' in err.value.message
    # names from the command line that are fewer than the header's
    with pytest.raises(ConversionError) as err:
        _convert(root, names=NAMES[:-1])
    assert (err.value.location, err.value.field) == ('header', 'points')
    # header names that differ from the layout's
    with pytest.raises(ConversionError, match='names the points '
                       'differently'):
        _convert(root, names=NAMES[::-1])


@pytest.mark.parametrize('edit, field, message', [
    (lambda row: row[:3] + [''] + row[4:], 'chin_x',
     'empty while the other'),
    (lambda row: row[:5] + ['abc'] + row[6:], 'contour_r_x',
     "non-numeric value 'abc'"),
    (lambda row: row[:5] + ['inf'] + row[6:], 'contour_r_x', 'non-finite'),
    (lambda row: ['im0.png'] + ['', ''] * 19 + ['3', '4'], 'keypoints',
     'spanning no box'),
    (lambda row: ['im9.png'] + row[1:], 'image', 'image file not found'),
    (lambda row: row[:21] + ['', ''] + row[23:], 'eye_l_outer',
     'normalisation point'),
])
def test_bad_values_name_the_field(tmp_path, edit, field, message):
    root = _blank_set(tmp_path, [_face(0), edit(_face(1))])
    with pytest.raises(ConversionError) as err:
        _convert(root)
    assert (err.value.location, err.value.field) == ('line 2', field)
    assert message in err.value.message


def test_json_annotation_gives_the_csv_records(tmp_path):
    rows = [_face(0), _face(1, deleted=('chin', 'lip_top')), _face(2)]
    root = _blank_set(tmp_path, rows)
    _convert(root)
    from_csv = json.loads((root / 'annotations' / 'faces.json').read_text())
    faces = []
    for row in rows:
        cells = row[1:]
        faces.append(dict(image=row[0], keypoints=[
            [float(x), float(y)] if x else None
            for x, y in zip(cells[0::2], cells[1::2])
        ]))
    (root / 'faces_json').mkdir()
    (root / 'faces_json' / 'faces.json').write_text(json.dumps(faces))
    convert_custom(root, [root / 'faces_json' / 'faces.json'],
                   out_dir=root / 'out', layout=root / 'layout.yaml',
                   log=lambda line: None)
    from_json = json.loads((root / 'out' / 'faces.json').read_text())
    assert from_json == from_csv
    assert from_csv['annotations'][1]['num_keypoints'] == 18
    # a JSON entry of the wrong form names its index and point
    faces[2]['keypoints'][4] = [1.0]
    (root / 'faces_json' / 'faces.json').write_text(json.dumps(faces))
    with pytest.raises(ConversionError) as err:
        convert_custom(root, [root / 'faces_json' / 'faces.json'],
                       out_dir=root / 'out', layout=root / 'layout.yaml',
                       log=lambda line: None)
    assert (err.value.location, err.value.field) == (
        'index 2', 'keypoints[4] (brow_l_inner)')


def test_headerless_csv_without_layout_and_a_split(tmp_path):
    """No names anywhere: kpt-<i>; --test-fraction splits by image."""
    rows = [_face(i % 4, seed=i) for i in range(8)]  # 2 faces per image
    root = _blank_set(tmp_path, rows)
    scheme = convert_custom(root, ['faces.csv'], test_fraction=0.25,
                            seed=3, log=lambda line: None)
    assert scheme.names == [f'kpt-{i}' for i in range(20)]
    assert scheme.flip_indices == list(range(20))
    split = {}  # split -> {annotation id: image file}
    for name in ('train', 'test'):
        coco = json.loads((root / 'annotations' / f'{name}.json')
                          .read_text())
        files = {img['id']: img['file_name'] for img in coco['images']}
        split[name] = {a['id']: files[a['image_id']]
                       for a in coco['annotations']}
    assert len(split['test']) == 2 and len(split['train']) == 6
    assert sorted([*split['train'], *split['test']]) == list(range(8))
    # an image's two faces (rows i and i + 4) stay in one split
    for name, faces in split.items():
        for ann_id, image in faces.items():
            assert faces.get((ann_id + 4) % 8) == image, name


# ----------------------------------------------------------------------
# a wrong delimiter, an empty file (issue 13, items 8 and 10)
# ----------------------------------------------------------------------
@pytest.mark.parametrize('delimiter, shown', [(';', "';'"), ('\t', "'\\t'"),
                                              ('|', "'|'")])
def test_csv_with_another_delimiter_is_named(tmp_path, capsys, delimiter,
                                             shown):
    """A ';'-delimited CSV was blamed on layout.yaml ("unknown point 'p36'
    (points: )"); now the CSV, its line and the delimiter are named."""
    root = _blank_set(tmp_path, [_face(0)], header=True)
    csv_path = root / 'faces.csv'
    csv_path.write_text(csv_path.read_text().replace(',', delimiter))
    with pytest.raises(ConversionError) as err:
        _convert(root)
    assert err.value.source == str(csv_path)
    assert (err.value.location, err.value.field) == ('line 1', 'delimiter')
    assert err.value.message == (
        f'not comma-separated: found the delimiter {shown} 40 time(s) (1 '
        "column(s) when split at ','); write the CSV with ',' between "
        'cells: image, x1, y1, ..., xN, yN')
    status = main(['--root', str(root), '--ann', 'faces.csv', '--layout',
                   str(root / 'layout.yaml')])
    assert status == 1
    (line, ) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {csv_path}, line 1: field 'delimiter'")
    assert not (root / 'annotations').exists()


def test_semicolon_csv_with_decimal_commas_is_named(tmp_path):
    """'1,5;2,5' splits at ',' into several cells: still ';' is found."""
    root = _blank_set(tmp_path, [_face(0)])
    (root / 'faces.csv').write_text(
        'im0.png;' + ';'.join(f'{v},5' for v in range(1, 41)) + '\n')
    with pytest.raises(ConversionError) as err:
        _convert(root)
    assert (err.value.location, err.value.field) == ('line 1', 'delimiter')
    assert "found the delimiter ';' 40 time(s) (41 column(s)" in (
        err.value.message)


def test_single_column_row_is_named(tmp_path):
    root = _blank_set(tmp_path, [_face(0)])
    with open(root / 'faces.csv', 'a') as f:
        f.write('im1.png\n')
    with pytest.raises(ConversionError) as err:
        _convert(root)
    assert (err.value.location, err.value.field) == ('line 2', 'columns')
    assert err.value.message == (
        "1 column ('im1.png'): expected an image column and an x, y pair "
        "per point, separated by ','")


def test_header_only_csv_keeps_the_old_output(tmp_path, capsys):
    """A header-only CSV exited 0 and replaced a good train.json with an
    empty one; now it is an error and nothing is written."""
    root = _blank_set(tmp_path, [_face(0), _face(1)], header=True)
    _convert(root)
    out = root / 'annotations' / 'faces.json'
    good = out.read_text()
    metainfo = (root / 'annotations' / 'metainfo.py').read_text()
    assert len(json.loads(good)['annotations']) == 2
    _write_csv(root / 'faces.csv', [], header=True)
    with pytest.raises(ConversionError) as err:
        _convert(root)
    assert str(err.value) == (
        f"{root / 'faces.csv'}, file: field 'faces': no face in the file "
        '(only a header or blank lines): refusing to write an empty '
        f"faces.json to {root / 'annotations'} (--allow-empty writes it)")
    assert out.read_text() == good
    status = main(['--root', str(root), '--ann', 'faces.csv', '--layout',
                   str(root / 'layout.yaml')])
    assert status == 1
    assert capsys.readouterr().err == f'error: {err.value}\n'
    assert out.read_text() == good
    assert (root / 'annotations' / 'metainfo.py').read_text() == metainfo
    # asked for: an empty file is written
    _convert(root, allow_empty=True)
    assert json.loads(out.read_text())['annotations'] == []
    assert main(['--root', str(root), '--ann', 'faces.csv', '--layout',
                 str(root / 'layout.yaml'), '--allow-empty']) == 0


def test_all_faces_skipped_is_not_an_empty_output(tmp_path):
    rows = [_face(0)[:-1], ['im9.png'] + _face(1)[1:]]
    root = _blank_set(tmp_path, rows)
    with pytest.raises(ConversionError) as err:
        _convert(root, skip_bad=True)
    assert err.value.message.startswith(
        'all 2 faces are bad (skipped): refusing to write an empty '
        'faces.json')
    assert not (root / 'annotations').exists()
