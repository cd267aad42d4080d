"""The wall-time budget of ``tools/analysis/timed_training.py``: the
epochs the hook fits, and the schedules it stretches or shrinks."""
import importlib.util
import logging
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from repformer_mmpose.engine.hooks import time_budget
from repformer_mmpose.engine.hooks.time_budget import (TimeBudgetHook,
                                                       set_max_epochs)


def _runner(max_epochs=15, iters_per_epoch=100):
    loop = SimpleNamespace(max_epochs=max_epochs, _max_epochs=max_epochs,
                           _max_iters=max_epochs * iters_per_epoch,
                           dataloader=[None] * iters_per_epoch)
    cosine = SimpleNamespace(by_epoch=True, end=max_epochs, T_max=max_epochs)
    warmup = SimpleNamespace(by_epoch=False, end=100)
    return SimpleNamespace(train_loop=loop, train_dataloader=loop.dataloader,
                           param_schedulers=[warmup, cosine], iter=0,
                           logger=logging.getLogger('test_time_budget'))


def test_set_max_epochs_moves_the_epoch_schedules_that_ended_with_training():
    runner = _runner(max_epochs=15, iters_per_epoch=100)
    set_max_epochs(runner, 6)
    warmup, cosine = runner.param_schedulers
    assert (runner.train_loop._max_epochs, runner.train_loop._max_iters) == \
        (6, 600)
    assert (cosine.end, cosine.T_max) == (6, 6)
    assert warmup.end == 100  # iteration-based warm-up left alone


@pytest.mark.parametrize('seconds, epochs', [
    # 3 iterations timed at 5 s each, 17 s in: (2017 - 17) / 5 = 400 more
    # iterations + the 4 done = 4.04 epochs of 100
    (2017., 4),
    (1990., 3),
    (10., 1),  # less than an epoch still trains one
    (1e6, 15),  # never more than the config's max_epochs
])
def test_hook_fits_whole_epochs_in_the_budget(monkeypatch, seconds, epochs):
    clock = iter([0., 2., 2. + 5. * 3])  # start, timing starts, timed 3 iters
    monkeypatch.setattr(time_budget.time, 'perf_counter', lambda: next(clock))
    hook = TimeBudgetHook(seconds, calibration_iters=3, skip_iters=1)
    runner = _runner(max_epochs=15, iters_per_epoch=100)
    hook.before_train(runner)
    for runner.iter in range(4):
        hook.before_train_iter(runner, runner.iter)
        hook.after_train_iter(runner, runner.iter)
    assert hook.epochs == epochs
    assert runner.train_loop._max_epochs == epochs
    assert runner.param_schedulers[1].end == epochs


def test_budget_must_be_positive():
    with pytest.raises(ValueError, match='seconds must be positive'):
        TimeBudgetHook(0)


def test_max_epochs_raises_the_cap_with_the_cosine(repo_root):
    spec = importlib.util.spec_from_file_location(
        'timed_training', repo_root / 'tools/analysis/timed_training.py')
    timed_training = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(timed_training)
    cfg = Config.fromfile(
        repo_root / 'configs/baselines/rtmpose-m_1xb16-15e_300w-subset-'
        '128x128.py')
    timed_training.set_epoch_cap(cfg, 40)
    assert cfg.train_cfg.max_epochs == 40
    by_epoch = [s for s in cfg.param_scheduler if s.get('by_epoch', True)]
    assert by_epoch and all(s.end == s.T_max == 40 for s in by_epoch)
    warmup = [s for s in cfg.param_scheduler if not s.get('by_epoch', True)]
    assert warmup and all(s.end != 40 for s in warmup)
