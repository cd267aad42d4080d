"""SIGKILL mid-epoch, ``--resume``, and the same weights as a clean run.

A tiny deterministic CPU config (RePFormer-R18 with a ResNet-18 of width
16, 64x64 input, d_model 32, no dropout, no random augmentation, 8
SynthFace images, batch 2: 4 iterations per epoch, 4 epochs, a checkpoint
per epoch) is trained by ``tools/train.py`` in subprocesses:

1. a clean run, start to end;
2. a run that a test-only hook pauses in epoch 3 after its 2nd iteration
   (``epoch_2.pth`` complete, ``last_checkpoint`` pointing at it); the test
   then kills it with SIGKILL;
3. ``tools/train.py --resume`` in the killed run's work dir.

mmengine 0.10.7's ``EpochBasedTrainLoop`` resumes at the epoch of the
checkpoint and runs that epoch from its first batch (a checkpoint saved
mid-epoch would replay the epoch's first batches with the iteration count
going on, i.e. not the clean run); so checkpoints here are per epoch, as in
the repository's configs, and the killed epoch 3 is re-run in full.
``DefaultSampler`` shuffles with ``seed + epoch``, so the data order of the
re-run epoch is the clean run's. The global RNG is not in checkpoints, which
is why the config has no random augmentation and no dropout (their draws
after a resume would differ). With that, resumed and clean runs end with
bit-identical weights and Adam states (compared exactly, ``atol=0``).

The resume loads ``epoch_2.pth`` with torch >= 2.6's ``weights_only=True``
through the plugin's loader; the run also uses the non-finite loss guard
(``FiniteLossOptimWrapper`` + ``NonFiniteLossHook``) as a config would.

Also here: checkpoints are written atomically (temporary file +
``os.replace``), so a kill during a save cannot leave a truncated file.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.runner.checkpoint import save_checkpoint

from repformer_mmpose.datasets.synthface import generate_synthface
from repformer_mmpose.engine import AtomicLocalBackend, load_checkpoint_file

REPO = Path(__file__).resolve().parents[1]
EPOCHS, ITERS_PER_EPOCH = 4, 4
KILL_EPOCH, KILL_BATCH = 3, 2  # 1-based: the 2nd iteration of epoch 3
START_TIMEOUT_S = 240

CONFIG = """
_base_ = ['{repo}/configs/repformer/synthface/\
repformer_res18-d128_1xb16-6e_synthface-128x128.py']

input_size = (64, 64)
codec = dict(type='DLRLabel', input_size=input_size)
pipeline = [
    dict(type='LoadFaceImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='RePFormer300WDataset', data_root='{data}',
        ann_file='annotations/synthface_train.json',
        data_prefix=dict(img='images/'), pipeline=pipeline))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None

embed_dims = 32
model = dict(
    # ResNet-18 at a quarter of its width: checkpoints of ~2 MB, not 135
    backbone=dict(stem_channels=16, base_channels=16),
    neck=dict(in_channels=[16, 32, 64, 128], embed_dims=embed_dims,
              num_heads=2, ffn_dims=64, dropout=0.),
    head=dict(embed_dims=embed_dims, num_heads=2, ffn_dims=64,
              predictor_dims=embed_dims, dropout=0.,
              initial_memory_size=(2, 2),
              decoder=dict(input_size=input_size)))
train_cfg = dict(max_epochs={epochs}, val_interval={epochs})
optim_wrapper = dict(
    type='FiniteLossOptimWrapper', action='stop',
    optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='MultiStepLR', milestones=[3], gamma=0.5, by_epoch=True)
]
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1, save_best=None, max_keep_ckpts=-1))
custom_hooks = [dict(type='NonFiniteLossHook')]
randomness = dict(seed=0, deterministic=True)
"""

KILLED_CONFIG = """
_base_ = ['./tiny.py']
custom_imports = dict(
    imports=['repformer_mmpose', 'pause_for_kill'],
    allow_failed_imports=False)
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='PauseForKillHook', epoch={epoch}, batch={batch},
         marker='{marker}'),
]
"""

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
    (root / 'tiny.py').write_text(
        CONFIG.format(repo=REPO, data=f'{data}/', epochs=EPOCHS))
    marker = root / 'paused'
    (root / 'killed.py').write_text(
        KILLED_CONFIG.format(epoch=KILL_EPOCH, batch=KILL_BATCH,
                             marker=marker))
    (root / 'pause_for_kill.py').write_text(PAUSE_HOOK)
    env = _env(root)
    clean_dir, killed_dir = root / 'clean', root / 'killed'

    # the clean run and the run to be killed, side by side
    clean = subprocess.Popen(
        _train_cmd(root / 'tiny.py', clean_dir), env=env, cwd=root,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    victim = subprocess.Popen(
        _train_cmd(root / 'killed.py', killed_dir), env=env, cwd=root,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not marker.exists():
            if victim.poll() is not None or time.monotonic() > deadline:
                pytest.fail('the run to be killed ended or stalled before '
                            f'epoch {KILL_EPOCH}: '
                            f'{_failure("", killed_dir)}')
            time.sleep(0.2)
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
    out, _ = clean.communicate(timeout=START_TIMEOUT_S)
    assert clean.returncode == 0, _failure(out, clean_dir)

    killed_state = dict(
        marker=marker.read_text(),
        checkpoints=sorted(p.name for p in killed_dir.glob('*.pth')),
        last=(killed_dir / 'last_checkpoint').read_text())
    resumed = subprocess.run(
        _train_cmd(root / 'tiny.py', killed_dir, '--resume'), env=env,
        cwd=root, capture_output=True, text=True, timeout=START_TIMEOUT_S)
    assert resumed.returncode == 0, _failure(
        resumed.stdout + resumed.stderr, killed_dir)
    return dict(clean=clean_dir, killed=killed_dir, killed_state=killed_state)


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


def test_no_temporary_file_is_left(runs):
    for work_dir in (runs['clean'], runs['killed']):
        assert not list(work_dir.glob('.*.tmp')), work_dir


# ----------------------------------------------------------------------
# atomic checkpoint writes
# ----------------------------------------------------------------------
def test_local_paths_use_the_atomic_backend(tmp_path):
    assert isinstance(get_file_backend(str(tmp_path / 'a.pth')),
                      AtomicLocalBackend)


def test_a_failed_save_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / 'epoch_1.pth'
    save_checkpoint({'state_dict': {'w': torch.ones(3)}}, str(path))
    before = path.read_bytes()

    def crash(fd):  # the process dies between writing and renaming
        raise OSError('disk full')

    monkeypatch.setattr(os, 'fsync', crash)
    with pytest.raises(OSError, match='disk full'):
        save_checkpoint({'state_dict': {'w': torch.zeros(1000)}}, str(path))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['epoch_1.pth']
    loaded = load_checkpoint_file(str(path))
    torch.testing.assert_close(loaded['state_dict']['w'], torch.ones(3))
