"""Our tools behave as MMPose's: every flag of MMPose 1.3.2's train and
test scripts, one data root for every split, seeded configs, no warning a
user cannot act on, and plain messages for wrong inputs."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from repformer_mmpose.engine import CheckpointReadError, load_checkpoint_file
from repformer_mmpose.engine.mmpose_tools import load_mmpose_tool

REPO = Path(__file__).resolve().parents[1]
SYNTHFACE = str(REPO / 'configs/repformer/synthface/'
                'repformer_res18-d128_1xb16-6e_synthface-128x128.py')
SUBSET_300W = str(REPO / 'configs/repformer/300w/'
                  'repformer_res18-d128_1xb16-15e_300w-subset-128x128.py')
TRAIN_CONFIGS = sorted(
    p for p in [*REPO.glob('configs/**/*.py'),
                *REPO.glob('projects/*/configs/**/*.py')]
    if '_base_' not in p.parts)


def mmpose_flags(name: str, monkeypatch) -> list[argparse.Action]:
    """The optional arguments of MMPose's ``tools/<name>.py``."""
    tool = load_mmpose_tool(name)
    captured = {}

    def capture(parser, *args, **kwargs):
        captured['parser'] = parser
        raise SystemExit(0)

    with monkeypatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, 'parse_args', capture)
        with pytest.raises(SystemExit):
            tool.parse_args()
    return [action for action in captured['parser']._actions
            if action.option_strings and action.dest != 'help']


def value_of(action: argparse.Action) -> list[str]:
    if action.nargs == 0:
        return []
    if action.choices:
        return [str(list(action.choices)[-1])]
    if action.type in (int, float):
        return ['2']
    return ['a=1'] if action.dest == 'cfg_options' else ['x.pkl']


@pytest.mark.parametrize('name,positional', [
    ('train', [SYNTHFACE]), ('test', [SYNTHFACE, 'ckpt.pth'])])
def test_our_tools_take_every_flag_of_mmposes(name, positional, load_tool,
                                              monkeypatch):
    ours = load_tool(name)
    actions = mmpose_flags(name, monkeypatch)
    assert len(actions) >= (10 if name == 'train' else 11)
    for action in actions:
        flag = action.option_strings[-1]
        args = ours.parse_args([*positional, flag, *value_of(action)])
        assert getattr(args, action.dest) != action.default, flag


def test_train_merges_mmposes_flags(load_tool):
    train = load_tool('train')
    cfg = train.build_config(train.parse_args([
        SYNTHFACE, '--no-validate', '--show-dir', 'vis', '--interval', '3',
        '--amp', '--work-dir', 'w']))
    assert cfg.val_dataloader is None and cfg.val_cfg is None
    assert cfg.default_hooks.visualization.enable
    assert cfg.default_hooks.visualization.out_dir == 'vis'
    assert cfg.default_hooks.visualization.interval == 3
    assert cfg.optim_wrapper.type == ('BF16AutocastOptimWrapper' if not
                                      torch.cuda.is_available() else
                                      'AmpOptimWrapper')


def test_test_merges_mmposes_flags(load_tool, tmp_path):
    test = load_tool('test')
    checkpoint = tmp_path / 'ckpt.pth'
    checkpoint.write_bytes(b'')
    cfg = test.build_config(test.parse_args([
        SYNTHFACE, str(checkpoint), '--dump', 'p.pkl', '--show-dir', 'vis',
        '--amp']))
    assert cfg.test_evaluator[-1] == dict(type='DumpResults',
                                          out_file_path='p.pkl')
    assert cfg.default_hooks.visualization.enable
    assert cfg.test_cfg.fp16 is True


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_data_root_moves_every_split(tool, load_tool, tmp_path):
    module = load_tool(tool)
    checkpoint = tmp_path / 'ckpt.pth'
    checkpoint.write_bytes(b'')
    positional = [SUBSET_300W] + ([str(checkpoint)] if tool == 'test'
                                  else [])
    cfg = module.build_config(module.parse_args(
        [*positional, '--data-root', '/data/300w']))
    for loader in ('train_dataloader', 'val_dataloader',
                   'test_dataloader'):
        assert cfg[loader].dataset.data_root == '/data/300w/', loader
        assert cfg[loader].dataset.ann_file in ('train.json',
                                                'test_common.json')


@pytest.mark.parametrize('config', TRAIN_CONFIGS,
                         ids=[p.relative_to(REPO).as_posix()
                              for p in TRAIN_CONFIGS])
def test_every_config_is_seeded(config):
    """Docs report seed 0; a fixed seed also makes --resume exact."""
    assert Config.fromfile(str(config)).randomness.seed == 0


def test_a_training_run_prints_no_warning(tmp_path):
    """pkg_resources, MMPose's metainfo fallback, the metric prefix,
    mmengine's FileClient notices and MMPose's bbox_center warning are
    gone; the run also reads its data through --data-root."""
    from repformer_mmpose.datasets.synthface import generate_synthface
    generate_synthface(str(tmp_path / 'sf'), num_train=8, num_test=4,
                       seed=1, verbose=False)
    out = subprocess.run(
        [sys.executable, str(REPO / 'tools/train.py'), SYNTHFACE,
         '--work-dir', 'w', '--data-root', 'sf', '--cfg-options',
         'train_cfg.max_epochs=2', 'train_cfg.val_interval=1',
         'train_dataloader.batch_size=4'],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={k: v for k, v in os.environ.items() if k != 'PYTHONWARNINGS'})
    assert out.returncode == 0, out.stderr[-2000:]
    log = out.stdout + out.stderr
    assert 'Epoch(val) [2]' in log
    warnings = [line for line in log.splitlines() if 'warn' in line.lower()]
    assert warnings == []


def test_a_file_that_is_not_a_checkpoint_is_called_that(tmp_path):
    with pytest.raises(CheckpointReadError,
                       match='README.md is not a checkpoint'):
        load_checkpoint_file(str(REPO / 'README.md'))
    with pytest.raises(CheckpointReadError, match='is a folder'):
        load_checkpoint_file(str(tmp_path))


def test_a_decompression_bomb_is_refused_before_inflating(tmp_path):
    bomb = tmp_path / 'bomb.pth'
    with zipfile.ZipFile(bomb, 'w', zipfile.ZIP_DEFLATED) as archive:
        archive.writestr('archive/data.pkl', b'\0' * (64 << 20))
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(CheckpointReadError, match='inflates'):
        load_checkpoint_file(str(bomb))


def test_main_job_refuses_synthface_sizes_for_another_data_set(load_tool):
    with pytest.raises(SystemExit, match='--num-test size the generated '
                       'SynthFace set'):
        load_tool('main_job').main(['--config', SUBSET_300W,
                                    '--num-test', '32'])


def test_show_dir_draws_the_points(load_tool, tiny_model_without_confidence,
                                   face300w_fixture, tmp_path):
    """MMPose's ``--show-dir`` (PoseVisualizationHook, kpt_thr 0.3) draws
    every predicted point: pixels change around each of them."""
    import json
    import pickle

    import cv2
    import numpy as np
    config, checkpoint = tiny_model_without_confidence
    load_tool('test').main([
        config, checkpoint, '--work-dir', str(tmp_path / 'w'),
        '--show-dir', 'vis', '--dump', str(tmp_path / 'p.pkl'),
        '--data-root', str(face300w_fixture), '--cfg-options',
        'test_dataloader.dataset.ann_file=test_300w.json',
        'test_dataloader.dataset.data_prefix.img=',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'visualizer.name=test_show_dir'])
    with open(tmp_path / 'p.pkl', 'rb') as f:
        predictions = pickle.load(f)
    images = {i['id']: i['file_name'] for i in json.loads(
        (face300w_fixture / 'test_300w.json').read_text())['images']}
    # MMPose names a drawing <stem>_<index in batch>.<ext>
    drawn = {p.stem.rsplit('_', 1)[0]: p
             for p in (tmp_path / 'w').glob('*/vis/*')}
    assert len(drawn) == len(images)
    for prediction in predictions:
        name = images[prediction['img_id']]
        image = cv2.imread(str(face300w_fixture / name)).astype(int)
        drawing = cv2.imread(str(drawn[Path(name).stem]))
        changed = np.abs(drawing - image).sum(-1) > 30
        points = prediction['pred_instances']['keypoints'][0]
        assert len(points) == 68
        for x, y in np.round(points).astype(int):
            assert changed[max(y - 4, 0):y + 5, max(x - 4, 0):x + 5].any()
