"""SIGKILL mid-epoch, ``--resume``, and the same weights as a clean run.

A tiny CPU config (RePFormer-R18 with a ResNet-18 of width 16, 64x64
input, d_model 32, 8 SynthFace images, batch 2: 4 iterations per epoch, 4
epochs, a checkpoint per epoch) with the shipped random augmentation
(flip, shift/rotation, occlusion, blur, greyscale: the SynthFace config's
pipeline at 64x64) and the shipped dropout (0.1) is trained by
``tools/train.py`` in subprocesses:

1. a clean run, start to end;
2. a run that a test-only hook pauses in epoch 3 after its 2nd iteration
   (``epoch_2.pth`` complete, ``last_checkpoint`` pointing at it); the test
   then kills it with SIGKILL;
3. ``tools/train.py --resume`` in the killed run's work dir;
4. the same resume with the config's ``EpochSeedHook`` removed.

mmengine 0.10.7's ``EpochBasedTrainLoop`` resumes at the epoch of the
checkpoint and runs that epoch from its first batch, so checkpoints here
are per epoch, as in the repository's configs, and the killed epoch 3 is
re-run in full. ``DefaultSampler`` shuffles with ``seed + epoch``; the
global RNGs that the augmentation and dropout draw from are not in
checkpoints, and ``EpochSeedHook`` (in ``configs/_base_/default_runtime.py``)
re-seeds them from ``(seed, epoch)`` at every epoch. With it, resumed and
clean runs end with bit-identical weights and Adam states (compared
exactly, ``atol=0``); without it (run 4) they differ, which shows that the
augmentation and dropout are really drawn.

The resume loads ``epoch_2.pth`` with torch >= 2.6's ``weights_only=True``
through the plugin's loader; the run also uses the non-finite loss guard
(``NonFiniteLossHook``) as a config does. A
temporary file like the one a kill during a save leaves is removed by the
resumed run, which logs it.

Also here: checkpoints are written atomically (temporary file +
``os.replace``), so a kill during a save cannot leave a truncated file;
checkpoint rotation (``max_keep_ckpts=1``) keeps the previous checkpoint
until the new one is written; ``EpochSeedHook`` on a toy model with 0, 1
and 1 persistent loader worker(s).
"""
from __future__ import annotations

import copy
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import get_file_backend
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import save_checkpoint

from repformer_mmpose.datasets.synthface import generate_synthface
from repformer_mmpose.engine import (AtomicLocalBackend, EpochSeedHook,
                                     SafeCheckpointHook, load_checkpoint_file)

from conftest import toy_runner

REPO = Path(__file__).resolve().parents[1]
EPOCHS, ITERS_PER_EPOCH = 4, 4
KILL_EPOCH, KILL_BATCH = 3, 2  # 1-based: the 2nd iteration of epoch 3
# generous: a shared, loaded machine can make a start take minutes
START_TIMEOUT_S = 1200

BASE = (REPO / 'configs' / 'repformer' / 'synthface' /
        'repformer_res18-d128_1xb16-6e_synthface-128x128.py')
SIZE = 64


def tiny_config(data: Path) -> Config:
    """The SynthFace config at 64x64 and a quarter of its width, with its
    augmentation, dropout and hooks; per-epoch checkpoints, all kept."""
    cfg = Config.fromfile(str(BASE))
    cfg.model.backbone.update(stem_channels=16, base_channels=16)
    cfg.model.neck.update(in_channels=[16, 32, 64, 128], embed_dims=32,
                          num_heads=2, ffn_dims=64)
    cfg.model.head.update(embed_dims=32, num_heads=2, ffn_dims=64,
                          predictor_dims=32, initial_memory_size=(2, 2),
                          decoder=dict(input_size=(SIZE, SIZE)))
    assert cfg.model.neck.dropout == cfg.model.head.dropout == 0.1
    pipeline = cfg.train_dataloader.dataset.pipeline
    for transform in pipeline:
        if 'input_size' in transform:
            transform['input_size'] = (SIZE, SIZE)
        if transform['type'] == 'GenerateTarget':
            transform['encoder'] = dict(type='DLRLabel',
                                        input_size=(SIZE, SIZE))
    assert {'RandomFlip', 'RandomShiftRotate', 'RandomOcclusion',
            'RandomGaussianBlur', 'RandomLumaGrayscale'} <= {
                t['type'] for t in pipeline}
    cfg.train_dataloader.update(batch_size=2, num_workers=0,
                                persistent_workers=False)
    cfg.train_dataloader.dataset.data_root = f'{data}/'
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg.train_cfg = dict(by_epoch=True, max_epochs=EPOCHS,
                         val_interval=EPOCHS)
    cfg.optim_wrapper = dict(type='OptimWrapper',
                             optimizer=dict(type='Adam', lr=1e-3))
    cfg.param_scheduler = [
        dict(type='MultiStepLR', milestones=[3], gamma=0.5, by_epoch=True)
    ]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=1, save_best=None,
                                        max_keep_ckpts=-1)
    # no seed override: the shipped configs seed themselves, which is
    # what makes a kill + --resume exact by default
    assert cfg.randomness == dict(seed=0)
    assert {'CheckpointGuardHook', 'EpochSeedHook'} <= {
        h['type'] for h in cfg.custom_hooks}
    return cfg


# A test-only hook: it writes a marker and waits to be killed. It draws no
# random number and changes no state, so the run up to it is the clean one.
PAUSE_HOOK = """
import time

from mmengine.hooks import Hook
from mmpose.registry import HOOKS


@HOOKS.register_module()
class PauseForKillHook(Hook):

    def __init__(self, epoch, batch, marker):
        self.epoch, self.batch, self.marker = epoch, batch, marker

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if (runner.epoch + 1, batch_idx + 1) == (self.epoch, self.batch):
            with open(self.marker, 'w') as f:
                f.write(f'{runner.epoch} {runner.iter}')
            time.sleep(3600)
"""


def _env(extra_path: Path) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join(
        [str(extra_path), str(REPO), env.get('PYTHONPATH', '')])
    env.pop('REPFORMER_UNSAFE_LOAD', None)
    return env


def _train_cmd(config: Path, work_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, str(REPO / 'tools' / 'train.py'), str(config),
            '--work-dir', str(work_dir), *extra]


def _log(work_dir: Path) -> str:
    logs = sorted(work_dir.glob('*/*.log'))
    return logs[-1].read_text() if logs else ''


def _failure(proc_out: str, work_dir: Path) -> str:
    return f'{proc_out[-3000:]}\n--- log ---\n{_log(work_dir)[-3000:]}'


@pytest.fixture(scope='module')
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp('kill_resume')
    data = root / 'data'
    generate_synthface(str(data), num_train=8, num_test=0, seed=0,
                       image_size=64, workers=1, verbose=False)
    cfg = tiny_config(data)
    cfg.dump(str(root / 'tiny.py'))
    marker = root / 'paused'
    killed = copy.deepcopy(cfg)
    killed.custom_imports.imports.append('pause_for_kill')
    killed.custom_hooks.append(
        dict(type='PauseForKillHook', epoch=KILL_EPOCH, batch=KILL_BATCH,
             marker=str(marker)))
    killed.dump(str(root / 'killed.py'))
    unseeded = copy.deepcopy(cfg)
    unseeded.custom_hooks = [
        h for h in cfg.custom_hooks if h['type'] != 'EpochSeedHook'
    ]
    unseeded.dump(str(root / 'unseeded.py'))
    (root / 'pause_for_kill.py').write_text(PAUSE_HOOK)
    env = _env(root)
    clean_dir, killed_dir = root / 'clean', root / 'killed'

    # the clean run and the run to be killed, side by side
    clean = subprocess.Popen(
        _train_cmd(root / 'tiny.py', clean_dir), env=env, cwd=root,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    victim_out = open(root / 'victim.out', 'w')
    victim = subprocess.Popen(
        _train_cmd(root / 'killed.py', killed_dir), env=env, cwd=root,
        stdout=victim_out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not marker.exists():
            if victim.poll() is not None or time.monotonic() > deadline:
                output = (root / 'victim.out').read_text()
                pytest.fail('the run to be killed ended or stalled before '
                            f'epoch {KILL_EPOCH}: '
                            f'{_failure(output, killed_dir)}')
            time.sleep(0.2)
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
        victim_out.close()
    out, _ = clean.communicate(timeout=START_TIMEOUT_S)
    assert clean.returncode == 0, _failure(out, clean_dir)

    killed_state = dict(
        marker=marker.read_text(),
        checkpoints=sorted(p.name for p in killed_dir.glob('*.pth')),
        last=(killed_dir / 'last_checkpoint').read_text())
    # what a kill during the save of epoch_3.pth would have left
    stale = killed_dir / f'.epoch_3.pth.{victim.pid}-0123abcd.tmp'
    stale.write_bytes(bytes(3 * 2**20))
    # the same resume without EpochSeedHook, from a copy of epoch_2.pth
    unseeded_dir = root / 'unseeded'
    unseeded_dir.mkdir()
    (unseeded_dir / 'epoch_2.pth').write_bytes(
        (killed_dir / 'epoch_2.pth').read_bytes())
    without_seeds = subprocess.Popen(
        _train_cmd(root / 'unseeded.py', unseeded_dir, '--resume',
                   str(unseeded_dir / 'epoch_2.pth')), env=env, cwd=root,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    resumed = subprocess.run(
        _train_cmd(root / 'tiny.py', killed_dir, '--resume'), env=env,
        cwd=root, capture_output=True, text=True, timeout=START_TIMEOUT_S)
    out, _ = without_seeds.communicate(timeout=START_TIMEOUT_S)
    assert resumed.returncode == 0, _failure(
        resumed.stdout + resumed.stderr, killed_dir)
    assert without_seeds.returncode == 0, _failure(out, unseeded_dir)
    return dict(clean=clean_dir, killed=killed_dir, killed_state=killed_state,
                unseeded=unseeded_dir, stale=stale)


def test_the_kill_came_mid_epoch_after_a_checkpoint(runs):
    state = runs['killed_state']
    # paused at epoch index 2, iteration index 9: 2 epochs + 2 iterations
    assert state['marker'] == f'{KILL_EPOCH - 1} {ITERS_PER_EPOCH * 2 + 1}'
    assert state['checkpoints'] == ['epoch_1.pth', 'epoch_2.pth']
    assert state['last'] == str(runs['killed'] / 'epoch_2.pth')


def test_resume_starts_at_the_last_checkpoint(runs):
    log = _log(runs['killed'])
    assert (f'Auto resumed from the latest checkpoint '
            f'{runs["killed"] / "epoch_2.pth"}') in log
    assert f'resumed epoch: 2, iter: {2 * ITERS_PER_EPOCH}' in log
    assert 'Epoch(train) [3][1/4]' in log
    assert 'Epoch(train) [2]' not in log
    assert 'weights_only=False' not in log  # the safe loader did it


def test_resumed_run_ends_with_the_clean_run_weights(runs):
    clean = load_checkpoint_file(str(runs['clean'] / f'epoch_{EPOCHS}.pth'))
    resumed = load_checkpoint_file(
        str(runs['killed'] / f'epoch_{EPOCHS}.pth'))
    assert clean['meta']['iter'] == resumed['meta']['iter'] == (
        EPOCHS * ITERS_PER_EPOCH)
    assert set(clean['state_dict']) == set(resumed['state_dict'])
    for name, value in clean['state_dict'].items():
        torch.testing.assert_close(resumed['state_dict'][name], value,
                                   rtol=0, atol=0, msg=name)
    # Adam's moments and step counts too
    for key, state in clean['optimizer']['state'].items():
        for field, value in state.items():
            torch.testing.assert_close(
                resumed['optimizer']['state'][key][field], value, rtol=0,
                atol=0, msg=f'{key}.{field}')
    assert clean['param_schedulers'] == resumed['param_schedulers']
    assert resumed['meta']['nonfinite_skips'] == 0
    # and training did move the weights: the comparison is not vacuous
    first = load_checkpoint_file(str(runs['clean'] / 'epoch_1.pth'))
    assert any(not torch.equal(first['state_dict'][k], v)
               for k, v in clean['state_dict'].items())


def test_without_epoch_seeds_the_resumed_weights_differ(runs):
    # the augmentation and dropout are really drawn: mmengine alone does
    # not repeat them after a resume
    clean = load_checkpoint_file(str(runs['clean'] / f'epoch_{EPOCHS}.pth'))
    unseeded = load_checkpoint_file(
        str(runs['unseeded'] / f'epoch_{EPOCHS}.pth'))
    assert unseeded['meta']['iter'] == EPOCHS * ITERS_PER_EPOCH
    differ = [k for k, v in clean['state_dict'].items()
              if not torch.equal(unseeded['state_dict'][k], v)]
    assert len(differ) > len(clean['state_dict']) // 2
    log = _log(runs['unseeded'])
    assert ('resume: the config has no EpochSeedHook (or an iteration-'
            'based loop), so the random augmentation and dropout after the '
            'resume will not be those of an uninterrupted run') in log


def test_the_resume_removes_what_a_killed_save_left(runs):
    assert not runs['stale'].exists()
    assert ('WARNING - removed 1 temporary file(s) left by an interrupted '
            f'save: {runs["stale"]} (3.0 MB)') in _log(runs['killed'])


def test_no_temporary_file_is_left(runs):
    for work_dir in (runs['clean'], runs['killed'], runs['unseeded']):
        assert not list(work_dir.glob('.*.tmp')), work_dir


# ----------------------------------------------------------------------
# atomic checkpoint writes
# ----------------------------------------------------------------------
def test_checkpoints_and_only_they_use_the_atomic_backend(tmp_path):
    """The plugin's checkpoint hook writes through the atomic backend;
    mmengine's local backend stays mmengine's for everything else."""
    from mmengine.fileio.backends import LocalBackend

    from repformer_mmpose.engine.hooks import SafeCheckpointHook
    path = str(tmp_path / 'a.pth')
    assert type(get_file_backend(path)) is LocalBackend
    hook = SafeCheckpointHook(interval=1)
    assert isinstance(get_file_backend(path, backend_args=hook.backend_args),
                      AtomicLocalBackend)


def test_a_failed_save_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / 'epoch_1.pth'
    atomic = dict(backend='atomic_local')  # SafeCheckpointHook's
    save_checkpoint({'state_dict': {'w': torch.ones(3)}}, str(path),
                    backend_args=atomic)
    before = path.read_bytes()

    def crash(fd):  # the process dies between writing and renaming
        raise OSError('disk full')

    monkeypatch.setattr(os, 'fsync', crash)
    with pytest.raises(OSError, match='disk full'):
        save_checkpoint({'state_dict': {'w': torch.zeros(1000)}}, str(path),
                        backend_args=atomic)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['epoch_1.pth']
    loaded = load_checkpoint_file(str(path))
    torch.testing.assert_close(loaded['state_dict']['w'], torch.ones(3))


# ----------------------------------------------------------------------
# a toy Runner: checkpoint rotation, EpochSeedHook with loader workers
# ----------------------------------------------------------------------
class _Draws(torch.utils.data.Dataset):
    """Each item draws from numpy, python's random and torch (what the
    transforms use)."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=torch.tensor(
            [np.random.rand(), random.random(),
             torch.rand(()).item(), float(index)]))


class _Toy(BaseModel):
    """A linear model with dropout; records what every step saw."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)
        self.seen: list[torch.Tensor] = []

    def forward(self, inputs, data_samples=None, mode='loss'):
        x = torch.stack(inputs)
        kept = torch.nn.functional.dropout(torch.ones_like(x), 0.5)
        self.seen.append(torch.cat([x, kept], dim=1))
        return dict(loss=(self.linear(x * kept)**2).mean())


def _toy_runner(work_dir: Path, epochs: int, *, workers: int = 0,
                persistent: bool = False, seed_hook: bool = True,
                checkpoint=None, resume: bool = False) -> Runner:
    torch.manual_seed(0)  # the same initial weights in every run
    return toy_runner(
        work_dir, _Toy(), _Draws(),
        train_cfg=dict(by_epoch=True, max_epochs=epochs),
        checkpoint=checkpoint or dict(type='CheckpointHook', interval=1),
        custom_hooks=[EpochSeedHook()] if seed_hook else [],
        resume=resume, workers=workers, persistent=persistent)


def test_rotation_keeps_the_last_checkpoint_when_the_save_fails(
        tmp_path, monkeypatch):
    # mmengine removes epoch_1.pth (max_keep_ckpts=1) *before* writing
    # epoch_2.pth: a kill in between left no checkpoint at all
    def hook():
        return SafeCheckpointHook(interval=1, max_keep_ckpts=1)

    _toy_runner(tmp_path, 1, checkpoint=hook()).train()
    first = (tmp_path / 'epoch_1.pth').read_bytes()
    runner = _toy_runner(tmp_path, 2, checkpoint=hook(), resume=True)

    def crash(fd):  # the save of epoch_2.pth dies before its rename
        raise OSError('disk full')

    monkeypatch.setattr(os, 'fsync', crash)
    with pytest.raises(OSError, match='disk full'):
        runner.train()
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_1.pth']
    assert (tmp_path / 'epoch_1.pth').read_bytes() == first
    assert (tmp_path / 'last_checkpoint').read_text() == str(
        tmp_path / 'epoch_1.pth')
    assert not list(tmp_path.glob('.*.tmp'))
    # and once a save succeeds, the old checkpoint goes
    _toy_runner(tmp_path, 2, checkpoint=hook(), resume=True).train()
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_2.pth']


def test_rotation_never_removes_the_file_just_written(tmp_path):
    hook = SafeCheckpointHook(interval=1)
    hook.file_backend = get_file_backend(str(tmp_path))
    old, new = tmp_path / 'best_1.pth', tmp_path / 'best_2.pth'
    old.write_bytes(b'old')
    new.write_bytes(b'new')
    hook.last_ckpt, hook.best_ckpt_path = None, str(new)
    with hook._removals_held_back():
        hook.file_backend.remove(str(old))
        hook.file_backend.remove(str(new))
        assert old.exists()  # held back until the block ends
    assert not old.exists() and new.read_bytes() == b'new'


@pytest.mark.parametrize('workers, persistent', [(0, False), (1, False),
                                                 (1, True)])
def test_epoch_seeds_make_a_resume_repeat_the_draws(tmp_path, workers,
                                                    persistent):
    options = dict(workers=workers, persistent=persistent)
    clean = _toy_runner(tmp_path / 'clean', 3, **options)
    clean.train()
    _toy_runner(tmp_path / 'killed', 1, **options).train()
    resumed = _toy_runner(tmp_path / 'killed', 3, resume=True, **options)
    resumed.train()
    epoch_2_3 = torch.stack(clean.model.seen[2:])  # 2 steps per epoch
    assert torch.equal(torch.stack(resumed.model.seen), epoch_2_3)
    assert torch.equal(resumed.model.linear.weight, clean.model.linear.weight)
    # every epoch draws anew (not the same numbers each epoch)
    assert not torch.equal(epoch_2_3[:2], epoch_2_3[2:])
    # without the hook, the resumed epochs draw other numbers than the
    # uninterrupted run
    options['seed_hook'] = False
    clean = _toy_runner(tmp_path / 'clean_unseeded', 3, **options)
    clean.train()
    _toy_runner(tmp_path / 'unseeded', 1, **options).train()
    unseeded = _toy_runner(tmp_path / 'unseeded', 3, resume=True, **options)
    unseeded.train()
    assert not torch.equal(torch.stack(unseeded.model.seen),
                           torch.stack(clean.model.seen[2:]))
