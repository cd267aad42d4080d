"""Train -> checkpoint -> resume -> test through mmengine's Runner.

Runs ``tools/train.py`` and ``tools/test.py`` (their ``main(argv)``) on the
real 300W fixture (2 images): 2 epochs, an automatic resume to epoch 3,
then a test of ``epoch_3.pth``. Also checks the safe checkpoint loader
that makes this work with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import json
import math
import os
import pickle
from pathlib import Path

import pytest
import torch
from mmengine.runner import Runner

from repformer_mmpose.engine import (UnsafeCheckpointError,
                                     load_checkpoint_file)
from repformer_mmpose.engine.safe_checkpoint import UNSAFE_ENV

CONFIG = (Path(__file__).resolve().parents[1] / 'configs' / 'repformer' /
          '300w' / 'repformer_res18_1xb16-360e_300w-256x256.py')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _data_options(root: Path, loaders=LOADERS) -> list[str]:
    options = []
    for loader in loaders:
        options += [
            f'{loader}.dataset.data_root={root}',
            f'{loader}.dataset.ann_file=test_300w.json',
            f'{loader}.dataset.data_prefix.img=',
            f'{loader}.batch_size=2',
            f'{loader}.num_workers=0',
            f'{loader}.persistent_workers=False',
        ]
    return options


def _train_argv(work_dir: Path, root: Path, max_epochs: int,
                resume: bool) -> list[str]:
    return [
        str(CONFIG), '--work-dir', str(work_dir),
        *(['--resume'] if resume else []),
        '--cfg-options', 'model.backbone.init_cfg=None',
        *_data_options(root),
        f'train_cfg.max_epochs={max_epochs}',
        'train_cfg.val_interval=1',
        'default_hooks.checkpoint.interval=1',
        'randomness.seed=0',
        'randomness.deterministic=False',
        *_own_visualizer(f'train{max_epochs}'),
    ]


def _own_visualizer(tag: str) -> list[str]:
    # MMPose's runtime names its visualizer 'visualizer', a process-wide
    # instance: a second Runner in this process would reuse the first one
    # and write its scalars.json into the first run's log dir.
    return [f'visualizer.name=visualizer_{tag}']


def _scalars(runner: Runner) -> list[dict]:
    path = Path(runner.log_dir) / 'vis_data' / 'scalars.json'
    with open(path) as file:
        return [json.loads(line) for line in file if line.strip()]


@pytest.fixture(scope='module')
def round_trip(face300w_fixture, load_tool, tmp_path_factory):
    """Train 2 epochs, resume to 3, test ``epoch_3.pth``.

    ``tools/*.py`` build their Runner with ``Runner.from_cfg``; a subclass
    put in their namespace records each Runner for inspection.
    """
    runners: list[Runner] = []

    class RecordingRunner(Runner):

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            runners.append(self)

    train_tool, test_tool = load_tool('train'), load_tool('test')
    work_dir = tmp_path_factory.mktemp('round_trip')
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_tool, 'Runner', RecordingRunner)
        patch.setattr(test_tool, 'Runner', RecordingRunner)
        train_tool.main(
            _train_argv(work_dir, face300w_fixture, 2, resume=False))
        train_tool.main(
            _train_argv(work_dir, face300w_fixture, 3, resume=True))
        metrics = test_tool.main([
            str(CONFIG), str(work_dir / 'epoch_3.pth'),
            '--work-dir', str(work_dir / 'test'),
            '--cfg-options', 'model.backbone.init_cfg=None',
            *_data_options(face300w_fixture, ['test_dataloader']),
            *_own_visualizer('test')
        ])
    first, resumed, tester = runners
    return dict(work_dir=work_dir, first=first, resumed=resumed,
                tester=tester, metrics=metrics)


def test_training_saves_a_checkpoint_per_epoch(round_trip):
    work_dir, first = round_trip['work_dir'], round_trip['first']
    assert (first.epoch, first.iter) == (2, 2)  # 2 images, batch 2
    for epoch in (1, 2, 3):
        assert (work_dir / f'epoch_{epoch}.pth').is_file(), epoch
    scalars = _scalars(first)
    train = [s for s in scalars if 'loss' in s]
    val = [s for s in scalars if 'NME' in s]
    assert [s['epoch'] for s in train] == [1, 2]
    assert [s['step'] for s in val] == [1, 2]
    for entry in train:
        assert entry['lr'] == pytest.approx(1e-4)
        assert math.isfinite(entry['loss']) and entry['loss'] > 0
        # DLR: L^0..L^3 are each supervised
        assert {f'loss_stage{i}' for i in range(4)} <= set(entry)


def test_resume_continues_from_epoch_2(round_trip):
    work_dir, resumed = round_trip['work_dir'], round_trip['resumed']
    assert (resumed.epoch, resumed.iter) == (3, 3)
    log_dir = Path(resumed.log_dir)
    assert log_dir != Path(round_trip['first'].log_dir)
    (log_file, ) = log_dir.glob('*.log')
    log = log_file.read_text()
    assert ('Auto resumed from the latest checkpoint '
            f'{work_dir / "epoch_2.pth"}') in log
    assert 'resumed epoch: 2, iter: 2' in log
    assert 'Epoch(train) [3]' in log
    assert 'Epoch(train) [1]' not in log
    assert 'Epoch(train) [2]' not in log

    scalars = _scalars(resumed)
    assert [s['epoch'] for s in scalars if 'loss' in s] == [3]
    assert [s['step'] for s in scalars if 'NME' in s] == [3]

    checkpoint = load_checkpoint_file(str(work_dir / 'epoch_3.pth'))
    assert (checkpoint['meta']['epoch'], checkpoint['meta']['iter']) == (3,
                                                                         3)
    # Adam's state went on from the resumed one: 3 steps, not 1
    steps = {
        int(state['step'])
        for state in checkpoint['optimizer']['state'].values()
    }
    assert steps == {3}
    (scheduler, ) = checkpoint['param_schedulers']
    assert scheduler['last_step'] == 3
    assert dict(scheduler['milestones']) == {200: 1}
    assert checkpoint['optimizer']['param_groups'][0]['lr'] == pytest.approx(
        1e-4)


def test_test_tool_reproduces_the_epoch_3_validation(round_trip):
    metrics = round_trip['metrics']
    assert {'NME', 'FR@0.10', 'AUC@0.10'} <= set(metrics)
    nme = float(metrics['NME'])
    assert math.isfinite(nme) and nme > 0
    (logged, ) = [
        s['NME'] for s in _scalars(round_trip['resumed'])
        if 'NME' in s and s['step'] == 3
    ]
    assert nme == pytest.approx(logged, rel=0, abs=1e-6)
    tester = round_trip['tester']
    assert tester.cfg.load_from == str(round_trip['work_dir'] /
                                       'epoch_3.pth')


def test_epoch_3_loads_with_weights_only(round_trip):
    path = round_trip['work_dir'] / 'epoch_3.pth'
    checkpoint = load_checkpoint_file(str(path), map_location='cpu')
    state_dict = checkpoint['state_dict']
    model_state = round_trip['resumed'].model.state_dict()
    assert set(state_dict) == set(model_state)
    for name, value in model_state.items():
        torch.testing.assert_close(state_dict[name], value, rtol=0, atol=0,
                                   msg=name)
    # the message hub's HistoryBuffers came through the allow-list
    history = checkpoint['message_hub']['log_scalars']['train/loss']
    assert len(history.data[0]) >= 1 and math.isfinite(history.current())


# ----------------------------------------------------------------------
# refusing checkpoints that run code
# ----------------------------------------------------------------------
class _Payload:
    """Unpickling this calls ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command, )


def _write_torch(path: Path, payload) -> None:
    torch.save({'state_dict': {}, 'meta': payload}, path)


def _write_pickle(path: Path, payload) -> None:
    with open(path, 'wb') as file:
        pickle.dump({'state_dict': {}, 'meta': payload}, file, protocol=2)


@pytest.mark.parametrize('write', [_write_torch, _write_pickle],
                         ids=['torch_save', 'pickle_protocol2'])
def test_checkpoint_calling_os_system_is_refused(write, tmp_path,
                                                 monkeypatch):
    monkeypatch.delenv(UNSAFE_ENV, raising=False)
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    write(path, _Payload(f'touch {marker}'))

    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint_file(str(path))
    message = str(info.value)
    assert str(path) in message
    assert UNSAFE_ENV in message
    assert 'weights_only=True' in message
    assert not marker.exists(), 'the pickled command was executed'


def test_refusal_names_the_blocked_global(tmp_path, monkeypatch):
    monkeypatch.delenv(UNSAFE_ENV, raising=False)
    path = tmp_path / 'evil.pth'
    _write_torch(path, _Payload(f'touch {tmp_path / "pwned"}'))
    with pytest.raises(UnsafeCheckpointError, match=r'posix\.system'):
        load_checkpoint_file(str(path))


def test_refusal_names_an_unlisted_global(tmp_path, monkeypatch):
    monkeypatch.delenv(UNSAFE_ENV, raising=False)
    path = tmp_path / 'deque.pth'
    torch.save({'meta': __import__('collections').deque([1, 2])}, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint_file(str(path))
    assert 'collections.deque' in str(info.value)
    assert str(path) in str(info.value)


def test_unsafe_env_loads_a_trusted_file_with_a_warning(
        tmp_path, monkeypatch):
    path = tmp_path / 'deque.pth'
    torch.save({'meta': __import__('collections').deque([1, 2])}, path)
    monkeypatch.setenv(UNSAFE_ENV, '1')
    with pytest.warns(UserWarning, match='weights_only=False'):
        checkpoint = load_checkpoint_file(str(path))
    assert list(checkpoint['meta']) == [1, 2]


def test_missing_checkpoint_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))
