"""Files on disk after kills and mistakes (issue 13, items 6, 7, 10 and
the ``max_keep_ckpts`` note).

* A kill during a checkpoint save leaves a hidden ``.epoch_N.pth.*.tmp``;
  the next run in that work dir (a fresh start or a resume) removes it
  and logs it, and leaves alone what is not a stale temporary of ours.
* Checkpoints a Runner writes and the files ``custom2coco`` writes get
  the mode a plain ``open()`` gives (``0o666`` minus the umask).
* ``custom2coco`` given a header-only CSV refuses to replace a good
  ``train.json`` (and ``test.json``) with an empty one.
* ``SafeCheckpointHook`` with ``max_keep_ckpts=1`` keeps the last good
  checkpoint until the new one is in place: a kill between mmengine's two
  steps (remove the old checkpoint, write the new one) leaves the old one,
  and every shipped config uses the hook (and ``CheckpointGuardHook``,
  ``EpochSeedHook``, ``NonFiniteLossHook``, ``ModelConsistencyHook``, and
  ``LoadFaceImage`` in every pipeline).
* A resume that cannot be exact (an iteration-based loop, which
  ``EpochSeedHook`` does not re-seed) says so (issue 13, item 9).

The Runner here is a toy (a linear model with dropout on 4 random
numbers): seconds on one CPU thread.
"""
from __future__ import annotations

import os
import runpy
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import CheckpointHook
from mmengine.model import BaseModel
from mmengine.runner import Runner

from repformer_mmpose.engine import (AtomicLocalBackend, CheckpointGuardHook,
                                     EpochSeedHook, SafeCheckpointHook)

from conftest import toy_runner

REPO = Path(__file__).resolve().parents[1]
CUSTOM2COCO = REPO / 'tools' / 'dataset_converters' / 'custom2coco.py'


# ----------------------------------------------------------------------
# a toy Runner with the plugin's checkpoint hooks
# ----------------------------------------------------------------------
class _Numbers(torch.utils.data.Dataset):

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=torch.rand(4) + index)


class _Toy(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)
        self.dropout = torch.nn.Dropout(0.5)

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=self.linear(self.dropout(torch.stack(inputs)))
                    .pow(2).mean())


def _runner(work_dir: Path, epochs: int, *, resume: bool = False,
            checkpoint: CheckpointHook | None = None,
            iters: int | None = None) -> Runner:
    """``epochs`` epochs, or ``iters`` iterations (an iteration-based
    loop, a checkpoint every 2)."""
    torch.manual_seed(0)
    by_epoch = iters is None
    if checkpoint is None:
        checkpoint = SafeCheckpointHook(interval=1 if by_epoch else 2,
                                        by_epoch=by_epoch, max_keep_ckpts=1)
    return toy_runner(
        work_dir, _Toy(), _Numbers(),
        train_cfg=dict(by_epoch=True, max_epochs=epochs) if by_epoch else
        dict(by_epoch=False, max_iters=iters),
        checkpoint=checkpoint,
        custom_hooks=[CheckpointGuardHook(), EpochSeedHook()],
        resume=resume)


def _log(runner: Runner) -> str:
    return Path(runner.log_dir, f'{runner.timestamp}.log').read_text()


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, '-c', 'pass'])
    process.wait()
    return process.pid


def _names(folder: Path, pattern: str = '*') -> list[str]:
    return sorted(p.name for p in folder.glob(pattern) if p.is_file())


# ----------------------------------------------------------------------
# item 6: stale temporaries of a killed save
# ----------------------------------------------------------------------
@pytest.mark.parametrize('resume', [False, True])
def test_a_start_or_resume_removes_what_a_killed_save_left(tmp_path, resume):
    if resume:
        _runner(tmp_path, 1).train()
    dead = _dead_pid()
    stale = [f'.epoch_3.pth.{dead}-0badcafe.tmp',  # a killed writer's
             '.epoch_2.pth.k2j_h4g5.tmp']  # tempfile.mkstemp's (older)
    kept = [f'.epoch_4.pth.{os.getppid()}-12345678.tmp',  # writer alive
            'notes.tmp', '.epoch_5.pth.tmp', 'epoch_9.pth.bak']
    for name in stale + kept:
        (tmp_path / name).write_bytes(bytes(2**20))
    runner = _runner(tmp_path, 2, resume=resume)
    runner.train()
    files = set(_names(tmp_path, '.*')) | set(_names(tmp_path))
    assert not files & set(stale)
    assert set(kept) <= files
    log = _log(runner)
    assert ('WARNING - removed 2 temporary file(s) left by an interrupted '
            f'save: {tmp_path / stale[1]} (1.0 MB), '
            f'{tmp_path / stale[0]} (1.0 MB)') in log
    assert (f'Auto resumed from the latest checkpoint {tmp_path}/'
            'epoch_1.pth' in log) == resume


UNSEEDED = ('resume: the config has no EpochSeedHook (or an iteration-based '
            'loop), so the random augmentation and dropout after the resume '
            'will not be those of an uninterrupted run')


def test_an_iteration_based_resume_warns_that_it_is_not_exact(tmp_path):
    _runner(tmp_path, 0, iters=2).train()
    runner = _runner(tmp_path, 0, iters=4, resume=True)
    runner.train()
    log = _log(runner)
    assert ('EpochSeedHook: IterBasedTrainLoop is not epoch-based; nothing '
            'is re-seeded') in log
    assert f'WARNING - {UNSEEDED}' in log
    assert 'resumed epoch: 0, iter: 2' in log


def test_an_epoch_based_resume_with_the_hook_does_not_warn(tmp_path):
    _runner(tmp_path, 1).train()
    runner = _runner(tmp_path, 2, resume=True)
    runner.train()
    assert UNSEEDED not in _log(runner)


# ----------------------------------------------------------------------
# item 7: the umask, as a plain open() applies it
# ----------------------------------------------------------------------
@pytest.fixture
def umask() -> Iterator:
    """``umask(value)`` for the test; the old one comes back after."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize('mask, mode', [(0o022, 0o644), (0o027, 0o640)])
def test_runner_checkpoints_get_the_umask_mode(tmp_path, umask, mask, mode):
    umask(mask)
    _runner(tmp_path, 1).train()
    for name in ('epoch_1.pth', 'last_checkpoint'):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name


def _faces(root: Path, rows: int, header: bool = True) -> Path:
    """``root/images/im<i>.png`` (50x40) and ``root/train.csv`` with
    ``rows`` faces of 3 points, one image each."""
    (root / 'images').mkdir(parents=True, exist_ok=True)
    lines = ['image,a_x,a_y,b_x,b_y,c_x,c_y'] if header else []
    for i in range(rows):
        cv2.imwrite(str(root / 'images' / f'im{i}.png'),
                    np.zeros((40, 50, 3), np.uint8))
        lines.append(f'im{i}.png,{5 + i},5,20,{10 + i},30,30')
    (root / 'train.csv').write_text('\n'.join(lines) + '\n')
    return root


def _custom2coco(*argv: str) -> int | str | None:
    """``tools/dataset_converters/custom2coco.py`` as a command: its exit
    status."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, 'argv', [str(CUSTOM2COCO), *argv])
        with pytest.raises(SystemExit) as info:
            runpy.run_path(str(CUSTOM2COCO), run_name='__main__')
    return info.value.code


@pytest.mark.parametrize('mask, mode', [(0o022, 0o644), (0o027, 0o640)])
def test_custom2coco_files_get_the_umask_mode(tmp_path, umask, mask, mode):
    root = _faces(tmp_path, 4)
    umask(mask)
    assert _custom2coco('--root', str(root), '--ann', 'train.csv',
                        '--names', 'a', 'b', 'c', '--test-fraction',
                        '0.25') == 0
    written = _names(root / 'annotations')
    assert written == ['metainfo.py', 'test.json', 'train.json']
    for name in written:
        path = root / 'annotations' / name
        assert stat.S_IMODE(path.stat().st_mode) == mode, name


# ----------------------------------------------------------------------
# item 10: a header-only CSV does not replace a good train.json
# ----------------------------------------------------------------------
@pytest.mark.parametrize('split', [[], ['--test-fraction', '0.25']])
def test_custom2coco_header_only_csv_keeps_a_good_train_json(
        tmp_path, capsys, split):
    root = _faces(tmp_path, 4)
    argv = ['--root', str(root), '--ann', 'train.csv', '--names', 'a', 'b',
            'c', *split]
    assert _custom2coco(*argv) == 0
    annotations = root / 'annotations'
    before = {name: (annotations / name).read_bytes()
              for name in _names(annotations)}
    assert 'train.json' in before and b'"keypoints"' in before['train.json']
    _faces(root, 0)  # the header only
    capsys.readouterr()
    assert _custom2coco(*argv) == 1
    assert capsys.readouterr().err == (
        f"error: {root / 'train.csv'}, file: field 'faces': no face in the "
        'file (only a header or blank lines): refusing to write an empty '
        f'train.json to {annotations} (--allow-empty writes it)\n')
    assert {name: (annotations / name).read_bytes()
            for name in _names(annotations)} == before


# ----------------------------------------------------------------------
# max_keep_ckpts: the last good checkpoint survives a kill in a rotation
# ----------------------------------------------------------------------
class _Killed(BaseException):
    """Stands in for SIGKILL: nothing after it runs."""


@pytest.mark.parametrize('hook, kept', [(SafeCheckpointHook, True),
                                        (CheckpointHook, False)])
def test_a_kill_between_removal_and_save_keeps_the_last_checkpoint(
        tmp_path, monkeypatch, hook, kept):
    """mmengine removes ``epoch_1.pth`` (``max_keep_ckpts=1``) and then
    writes ``epoch_2.pth``; the process is killed when the write starts.
    With mmengine's own hook no checkpoint is left (shown for contrast);
    with ``SafeCheckpointHook`` ``epoch_1.pth`` is there, unchanged, and
    the run resumes from it."""
    _runner(tmp_path, 1, checkpoint=hook(interval=1, max_keep_ckpts=1)
            ).train()
    first = (tmp_path / 'epoch_1.pth').read_bytes()
    seen = []

    def killed(self, out_dir, filename, *args, **kwargs):
        seen.append((filename, (tmp_path / 'epoch_1.pth').is_file()))
        raise _Killed

    monkeypatch.setattr(Runner, 'save_checkpoint', killed)
    with pytest.raises(_Killed):
        _runner(tmp_path, 2, resume=True,
                checkpoint=hook(interval=1, max_keep_ckpts=1)).train()
    monkeypatch.undo()
    assert seen == [('epoch_2.pth', kept)]
    if not kept:  # mmengine 0.10's order: nothing left to resume
        assert _names(tmp_path, '*.pth') == []
        return
    assert _names(tmp_path, '*.pth') == ['epoch_1.pth']
    assert (tmp_path / 'epoch_1.pth').read_bytes() == first
    assert (tmp_path / 'last_checkpoint').read_text() == str(
        tmp_path / 'epoch_1.pth')
    runner = _runner(tmp_path, 2, resume=True)
    runner.train()
    assert 'resumed epoch: 1' in _log(runner)
    assert _names(tmp_path, '*.pth') == ['epoch_2.pth']


def test_a_kill_after_the_save_keeps_both_checkpoints(tmp_path,
                                                      monkeypatch):
    """Killed once ``epoch_2.pth`` is written, before the old one is
    removed: both are there and ``last_checkpoint`` names the new one."""
    _runner(tmp_path, 1).train()

    def killed(self, path):
        raise _Killed

    monkeypatch.setattr(AtomicLocalBackend, 'remove', killed)
    with pytest.raises(_Killed):
        _runner(tmp_path, 2, resume=True).train()
    monkeypatch.undo()
    assert _names(tmp_path, '*.pth') == ['epoch_1.pth', 'epoch_2.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == str(
        tmp_path / 'epoch_2.pth')


def _shipped_configs() -> list[Path]:
    configs = sorted((REPO / 'configs').rglob('*.py')) + sorted(
        (REPO / 'projects').glob('*/configs/*.py'))
    return [path for path in configs if '_base_' not in path.parts]


def test_every_shipped_config_uses_the_safe_hooks_and_loader(monkeypatch):
    # mmengine re-reads MMPose's ~150 metafiles for every mmpose:: base
    # (and ends in an error it catches): remember the answer or the error
    from mmengine.config import config as mmengine_config
    look_up = mmengine_config._get_external_cfg_path
    answers: dict[tuple[str, str], str | Exception] = {}

    def remembered(package_path: str, cfg_file: str) -> str:
        key = (package_path, cfg_file)
        if key not in answers:
            try:
                answers[key] = look_up(package_path, cfg_file)
            except Exception as error:  # noqa: BLE001  (replayed below)
                answers[key] = error
        if isinstance(answers[key], Exception):
            raise answers[key]
        return answers[key]

    monkeypatch.setattr(mmengine_config, '_get_external_cfg_path',
                        remembered)
    configs = _shipped_configs()
    assert len(configs) > 30
    for path in configs:
        cfg = Config.fromfile(str(path))
        name = path.relative_to(REPO)
        assert cfg.default_hooks.checkpoint.type == 'SafeCheckpointHook', \
            name
        hooks = {hook['type'] for hook in cfg.custom_hooks}
        assert {'CheckpointGuardHook', 'EpochSeedHook', 'NonFiniteLossHook',
                'ModelConsistencyHook'} <= hooks, name
        # images load through LoadFaceImage (truncated files refused)
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            if cfg.get(loader):
                pipeline = cfg[loader].dataset.pipeline
                assert pipeline[0]['type'] == 'LoadFaceImage', (name, loader)
