"""Checkpoints that do not fit, are missing, or were cut by a kill.

Issue 13, round 2: every tool that loads weights refuses a checkpoint
that does not fit the config (``CheckpointGuardHook`` for the Runner-based
tools, ``init_face_model`` for the others), ``--resume`` says plainly
when there is nothing to resume and fails on a named checkpoint that does
not exist, and a kill during a save leaves nothing that outlives the next
start. The models are RePFormer-R18 at a quarter width, 64x64 input, on 8
SynthFace faces (generated here: no data needed).
"""
from __future__ import annotations

import importlib.util
import os
import runpy
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from repformer_mmpose.datasets.synthface import generate_synthface
from repformer_mmpose.engine import (CheckpointMismatchError,
                                     CheckpointNotFoundError,
                                     checkpoint_source, load_checkpoint_file)

REPO = Path(__file__).resolve().parents[1]
BASE = (REPO / 'configs' / 'repformer' / 'synthface' /
        'repformer_res18-d128_1xb16-6e_synthface-128x128.py')
TD_REG = (REPO / 'configs' / 'baselines' /
          'td-reg_res18_1xb16-15e_300w-subset-128x128.py')
SIZE = 64
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _tiny(cfg: Config, data: Path, points: int = 68) -> Config:
    """``cfg`` at 64x64, quarter-width ResNet, on the SynthFace in
    ``data``; ``points`` 98 reads WFLW's metainfo."""
    cfg.model.backbone.update(stem_channels=16, base_channels=16,
                              init_cfg=None)
    cfg.model.neck.update(in_channels=[16, 32, 64, 128], embed_dims=32,
                          num_heads=2, ffn_dims=64)
    cfg.model.head.update(
        num_keypoints=points, embed_dims=32, num_heads=2, ffn_dims=64,
        predictor_dims=32, initial_memory_size=(2, 2),
        decoder=dict(type='DLRLabel', input_size=(SIZE, SIZE)))
    for name in LOADERS:
        loader = cfg[name]
        loader.update(batch_size=4, num_workers=0, persistent_workers=False)
        loader.dataset.data_root = f'{data}/'
        if points == 98:
            loader.dataset.type = 'WFLWDataset'
        for transform in loader.dataset.pipeline:
            if 'input_size' in transform:
                transform['input_size'] = (SIZE, SIZE)
            if transform['type'] == 'GenerateTarget':
                transform['encoder'] = dict(type='DLRLabel',
                                            input_size=(SIZE, SIZE))
            if transform['type'] == 'GenerateTarget':  # the codec too
                transform['encoder']['input_size'] = (SIZE, SIZE)
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.default_hooks.checkpoint.update(interval=1, save_best=None)
    cfg.param_scheduler = []
    return cfg


@pytest.fixture(scope='module')
def setup(tmp_path_factory) -> dict[str, str]:
    """Configs (68 and 98 points, td-reg), a checkpoint of each, data."""
    root = tmp_path_factory.mktemp('fit')
    data = root / 'data'
    # main_job's own call (8 + 4 faces, seed 0) then finds it complete
    generate_synthface(str(data), num_train=8, num_test=4, seed=0,
                       workers=1, verbose=False)
    paths = {}
    for points in (68, 98):
        cfg = _tiny(Config.fromfile(str(BASE)), data, points)
        paths[f'config{points}'] = str(root / f'tiny{points}.py')
        cfg.dump(paths[f'config{points}'])
    td_reg = Config.fromfile(str(TD_REG))
    td_reg.model.backbone.update(stem_channels=16, base_channels=16)
    td_reg.model.head.in_channels = 128
    paths['td_reg_config'] = str(root / 'td_reg.py')
    td_reg.dump(paths['td_reg_config'])

    from mmpose.apis import init_model
    for name, config in (('points68', 'config68'), ('points98', 'config98'),
                         ('td_reg', 'td_reg_config')):
        torch.manual_seed(0)
        model = init_model(paths[config], device='cpu')
        paths[name] = str(root / f'{name}.pth')
        torch.save({'state_dict': model.state_dict(),
                    'meta': {'dataset_meta': model.dataset_meta}},
                   paths[name])
    paths['data'] = str(data)
    return paths


def _tool(path: str) -> ModuleType:
    """``tools/<path>.py`` as a module (``deployment/export_onnx``)."""
    spec = importlib.util.spec_from_file_location(
        '_tool_' + path.replace('/', '_'), REPO / 'tools' / f'{path}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _visualizer(tag: str) -> list[str]:
    return [f'visualizer.name=vis_{tag}', f'experiment_name=exp_{tag}']


# ----------------------------------------------------------------------
# tools/test.py, tools/main_job.py --checkpoint, tools/train.py --resume
# ----------------------------------------------------------------------
@pytest.mark.parametrize('checkpoint, expected', [
    ('points98', 'the checkpoint has 98 keypoints, the config 68 '
     '(model.head.num_keypoints; head.landmark_embed.weight is (98, 32) in '
     'the checkpoint, (68, 32) in the model)'),
    ('td_reg', 'missing parameter(s), e.g. neck.'),
])
def test_test_tool_refuses_a_checkpoint_that_does_not_fit(
        setup, load_tool, tmp_path, checkpoint, expected):
    report = tmp_path / 'report'
    with pytest.raises(CheckpointMismatchError) as error:
        load_tool('test').main([
            setup['config68'], setup[checkpoint], '--work-dir',
            str(tmp_path / 'work'), '--report', str(report),
            '--cfg-options', *_visualizer(f'test_{checkpoint}')
        ])
    message = str(error.value)
    assert message.startswith(
        f'checkpoint {setup[checkpoint]} does not fit the model built from '
        f'the config {setup["config68"]}: ')
    assert expected in message
    assert '\n' not in message
    assert not (report / 'report.md').exists()  # no report of random weights


def test_td_reg_checkpoint_names_unexpected_parameters(setup, load_tool,
                                                       tmp_path):
    with pytest.raises(CheckpointMismatchError,
                       match=r'unexpected parameter\(s\), e\.g\. head\.fc\.'):
        load_tool('test').main([
            setup['config68'], setup['td_reg'], '--work-dir',
            str(tmp_path), '--cfg-options', *_visualizer('td_reg_names')
        ])


def test_test_tool_still_scores_a_fitting_checkpoint(setup, load_tool,
                                                     tmp_path):
    metrics = load_tool('test').main([
        setup['config68'], setup['points68'], '--work-dir', str(tmp_path),
        '--cfg-options', *_visualizer('fits')
    ])
    assert metrics['NME'] > 0


def test_test_tool_command_line_exits_with_one_line(setup, tmp_path,
                                                    monkeypatch, capsys):
    script = str(REPO / 'tools' / 'test.py')
    monkeypatch.setattr(sys, 'argv', [
        script, setup['config68'], setup['points98'], '--work-dir',
        str(tmp_path), '--cfg-options', *_visualizer('cli')
    ])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(script, run_name='__main__')
    message = str(exit_info.value.code)  # sys.exit(str): status 1
    assert message.startswith(f'test.py: error: checkpoint '
                              f'{setup["points98"]} does not fit')
    assert 'the checkpoint has 98 keypoints, the config 68' in message
    assert '\n' not in message


class _Payload:
    """Unpickling this runs ``touch MARKER``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_test_tool_refuses_an_unsafe_checkpoint_in_one_line(
        setup, tmp_path, monkeypatch):
    marker = tmp_path / 'marker'
    unsafe = tmp_path / 'unsafe.pth'
    torch.save({'state_dict': load_checkpoint_file(
                    setup['points68'])['state_dict'],
                'meta': _Payload(marker)}, unsafe)
    monkeypatch.delenv('REPFORMER_UNSAFE_LOAD', raising=False)
    script = str(REPO / 'tools' / 'test.py')
    monkeypatch.setattr(sys, 'argv', [
        script, setup['config68'], str(unsafe), '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', *_visualizer('unsafe')
    ])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(script, run_name='__main__')
    assert exit_info.value.code == (
        f'test.py: error: {unsafe} cannot be loaded with weights_only=True: '
        'Trying to load unsupported GLOBAL posix.system whose module posix '
        'is blocked. If you trust this file, set REPFORMER_UNSAFE_LOAD=1 to '
        'load it with weights_only=False (which can run code stored in it).')
    assert not marker.exists(), 'the pickled command was executed'


def test_test_tool_names_a_missing_checkpoint(setup, load_tool, tmp_path):
    with pytest.raises(CheckpointNotFoundError,
                       match=f'checkpoint not found: {tmp_path}/none.pth'):
        load_tool('test').main([setup['config68'], str(tmp_path / 'none.pth')])


def test_main_job_refuses_a_checkpoint_that_does_not_fit(
        setup, load_tool, tmp_path):
    with pytest.raises(CheckpointMismatchError,
                       match='the checkpoint has 98 keypoints, the config 68'):
        load_tool('main_job').main([
            '--config', setup['config68'], '--checkpoint', setup['points98'],
            '--work-dir', str(tmp_path), '--num-train', '8', '--num-test',
            '4', '--cfg-options', *_visualizer('main_job')
        ])
    assert not (tmp_path / 'nme_table.md').exists()


def test_resume_refuses_a_checkpoint_that_does_not_fit(setup, load_tool,
                                                       tmp_path):
    # before: RuntimeError inside Adam, "The size of tensor a (98) must
    # match the size of tensor b (68)", after the weights were half-loaded
    with pytest.raises(CheckpointMismatchError) as error:
        load_tool('train').main([
            setup['config68'], '--work-dir', str(tmp_path), '--resume',
            setup['points98'], '--cfg-options', *_visualizer('resume98')
        ])
    assert str(error.value).startswith(
        f'checkpoint {setup["points98"]} does not fit the model built from '
        f'the config {setup["config68"]}: the checkpoint has 98 keypoints, '
        'the config 68')
    assert not list(tmp_path.glob('*.pth'))  # nothing trained


def test_resume_refuses_a_weights_only_checkpoint(setup, load_tool,
                                                 tmp_path):
    # before: KeyError: 'meta' inside mmengine's Runner.resume
    with pytest.raises(CheckpointMismatchError) as error:
        load_tool('train').main([
            setup['config68'], '--work-dir', str(tmp_path), '--resume',
            setup['points68'], '--cfg-options', *_visualizer('weights_only')
        ])
    assert str(error.value) == (
        f'checkpoint {setup["points68"]} holds weights only (no meta '
        'epoch/iter or message_hub of a training run), so it cannot be '
        'resumed; to start a new run from its weights, use load_from')


def test_load_from_refuses_another_models_checkpoint(setup, load_tool,
                                                     tmp_path):
    with pytest.raises(CheckpointMismatchError,
                       match=r'^checkpoint .*td_reg\.pth does not fit'):
        load_tool('train').main([
            setup['config68'], '--work-dir', str(tmp_path), '--cfg-options',
            f'load_from={setup["td_reg"]}', *_visualizer('load_from')
        ])


@pytest.mark.parametrize('tool', ['deployment/export_onnx', 'analysis/latency',
                                  'analysis/refinement'])
def test_weight_loading_tools_refuse_it_too(setup, tool):
    module = _tool(tool)
    with pytest.raises(CheckpointMismatchError,
                       match='the checkpoint has 98 keypoints, the config 68'):
        module.main([setup['config68'], setup['points98']])


@pytest.mark.parametrize('demo', ['image_demo', 'video_demo'])
@pytest.mark.parametrize('checkpoint, expected', [
    ('points98', 'the checkpoint has 98 keypoints, the config 68'),
    ('td_reg', 'missing parameter(s), e.g. neck.'),
])
def test_demos_refuse_it_in_one_line(setup, tmp_path, demo, checkpoint,
                                     expected):
    from repformer_mmpose.apis.demo_cli import run_demo
    photo = tmp_path / 'face.png'
    cv2.imwrite(str(photo), np.full((64, 64, 3), 100, np.uint8))
    out = (['--out-dir', str(tmp_path / 'out')] if demo == 'image_demo'
           else ['--out', str(tmp_path / 'out.mp4')])
    with pytest.raises(SystemExit) as info:
        run_demo(_tool(f'demo/{demo}').main, [
            setup['config68'], setup[checkpoint], str(photo), *out,
            '--bbox', '4', '4', '60', '60'], f'{demo}.py')
    message = info.value.code
    assert isinstance(message, str) and '\n' not in message
    assert message.startswith(f'{demo}.py: error: checkpoint '
                              f'{setup[checkpoint]} does not fit the model')
    assert expected in message
    assert not (tmp_path / 'out').exists()
    assert not (tmp_path / 'out.mp4').exists()


MMPOSE_TEST = Path(importlib.util.find_spec('mmpose').origin).parent / \
    '.mim' / 'tools' / 'test.py'


@pytest.mark.skipif(not MMPOSE_TEST.is_file(),
                    reason=f'MMPose was installed without {MMPOSE_TEST}')
def test_mmpose_own_test_tool_refuses_it_with_our_config(
        setup, tmp_path, monkeypatch):
    """MMPose's ``tools/test.py`` (not ours) with a plugin config: the
    config's ``CheckpointGuardHook`` refuses the checkpoint."""
    monkeypatch.setattr(sys, 'argv', [
        str(MMPOSE_TEST), setup['config68'], setup['points98'],
        '--work-dir', str(tmp_path), '--cfg-options',
        *_visualizer('mmpose_test')])
    with pytest.raises(CheckpointMismatchError,
                       match='the checkpoint has 98 keypoints, the config '
                       '68'):
        runpy.run_path(str(MMPOSE_TEST), run_name='__main__')


# ----------------------------------------------------------------------
# --resume with nothing to resume, or a named checkpoint that is missing
# ----------------------------------------------------------------------
def _log(work_dir: Path) -> str:
    return '\n'.join(p.read_text() for p in sorted(work_dir.glob('*/*.log')))


def test_resume_in_an_empty_work_dir_says_it_starts_from_scratch(
        setup, load_tool, tmp_path):
    load_tool('train').main([
        setup['config68'], '--work-dir', str(tmp_path), '--resume',
        '--cfg-options', *_visualizer('empty')
    ])
    log = _log(tmp_path)
    assert (f'WARNING - resume: no checkpoint found in {tmp_path} (no '
            'last_checkpoint file): training starts from scratch') in log
    assert 'latest checkpoint None' not in log
    assert (tmp_path / 'epoch_1.pth').is_file()


@pytest.mark.parametrize('options', [
    ['--resume', '{missing}'],
    ['--cfg-options', 'resume=True', 'load_from={missing}'],
])
def test_resume_of_a_missing_checkpoint_fails(setup, load_tool, tmp_path,
                                              options):
    missing = str(tmp_path / 'epoch_9.pth')
    argv = [setup['config68'], '--work-dir', str(tmp_path / 'work'),
            *[o.format(missing=missing) for o in options]]
    with pytest.raises(CheckpointNotFoundError) as error:
        load_tool('train').main(argv)
    assert str(error.value) == (
        f'resume: checkpoint {missing} not found (resume=True, load_from '
        'names the checkpoint to resume)')
    assert not (tmp_path / 'work' / 'epoch_1.pth').exists()


def test_resume_of_a_missing_checkpoint_is_one_line_on_the_command_line(
        setup, tmp_path):
    missing = tmp_path / 'nothing.pth'
    result = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'train.py'), setup['config68'],
         '--work-dir', str(tmp_path / 'work'), '--resume', str(missing)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={'OMP_NUM_THREADS': '1', 'PATH': '/usr/bin:/bin',
             'PYTHONPATH': str(REPO)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f'train.py: error: resume: checkpoint {missing} not found '
        '(resume=True, load_from names the checkpoint to resume)')
    assert 'Traceback' not in result.stderr


def test_checkpoint_source_decisions(tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    assert checkpoint_source(str(work), None, True).path is None
    assert checkpoint_source(str(work), None, False).path is None
    (work / 'epoch_2.pth').write_bytes(b'x')
    (work / 'epoch_10.pth').write_bytes(b'x')
    with pytest.raises(CheckpointNotFoundError,
                       match=r'has 2 checkpoint\(s\) \(epoch_2\.pth, '
                       r'epoch_10\.pth\) but no last_checkpoint file saying '
                       r'which to resume; name one: --resume '
                       f'{work}/epoch_10.pth'):
        checkpoint_source(str(work), None, True)
    (work / 'last_checkpoint').write_text('')
    with pytest.raises(CheckpointNotFoundError, match='last_checkpoint is '
                       r'empty \(a run killed while writing it\?\)'):
        checkpoint_source(str(work), None, True)
    (work / 'last_checkpoint').write_text(str(work / 'epoch_11.pth'))
    with pytest.raises(CheckpointNotFoundError,
                       match=f'last_checkpoint names {work}/epoch_11.pth, '
                       'which does not exist'):
        checkpoint_source(str(work), None, True)
    (work / 'last_checkpoint').write_text(str(work / 'epoch_10.pth'))
    assert checkpoint_source(str(work), None, True) == (
        str(work / 'epoch_10.pth'), True, f'{work}/last_checkpoint')
    with pytest.raises(CheckpointNotFoundError,
                       match=f'^load_from: checkpoint {tmp_path}/x.pth not '
                       'found$'):
        checkpoint_source(str(work), str(tmp_path / 'x.pth'), False)
