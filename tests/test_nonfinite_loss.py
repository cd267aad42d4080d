"""A NaN/inf loss never reaches the weights nor a checkpoint.

A toy regression model trains through mmengine's Runner on 8 samples
(batch 2, no shuffle, 2 epochs of 4 iterations); sample 5 has a NaN target,
so the loss term ``loss_fit`` is NaN at iterations 3 and 7 (the 3rd of each
epoch) while ``loss_reg`` stays finite. A checkpoint is saved after every
iteration. The configs' standard ``OptimWrapper`` guarded by
``NonFiniteLossHook(action=...)``:

* ``action='stop'``: the run stops at iteration 3 with an error naming it,
  the epoch and ``loss_fit``; ``iter_3.pth`` is never written and the
  weights in memory are ``iter_2.pth``'s.
* ``action='skip'``: the run ends; iterations 3 and 7 leave weights and
  Adam's state untouched, 6 steps are taken, the count is logged and
  stored in the checkpoints.

Under AMP (``AmpOptimWrapper``, MMPose's ``--amp``) the hook leaves the
dynamic loss scale in charge.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmengine.runner import Runner
from torch.utils.data import Dataset

from repformer_mmpose.engine import (NonFiniteLossError, NonFiniteLossHook,
                                     finite_loss_guard,
                                     install_finite_loss_guard,
                                     load_checkpoint_file)

NUM_SAMPLES, BATCH, EPOCHS = 8, 2, 2
BAD_SAMPLE = 5  # in batch 3 of each epoch: iterations 3 and 7
ITERS_PER_EPOCH = NUM_SAMPLES // BATCH


class ToyData(Dataset):
    """y = 2 x0 - x1 + 0.5, with a NaN target at ``bad``."""

    def __init__(self, bad: int | None = BAD_SAMPLE) -> None:
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(NUM_SAMPLES, 2, generator=gen)
        self.y = self.x @ torch.tensor([2., -1.]) + 0.5
        if bad is not None:
            self.y[bad] = float('nan')

    def __len__(self) -> int:
        return NUM_SAMPLES

    def __getitem__(self, index: int) -> dict:
        return dict(x=self.x[index], y=self.y[index:index + 1])


class ToyModel(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, x, y, mode='loss'):
        pred = self.linear(x)
        return dict(
            loss_fit=((pred - y)**2).mean(),
            loss_reg=1e-3 * self.linear.weight.pow(2).sum())


def _guard_config(action: str, hook: bool) -> dict:
    """``optim_wrapper`` and ``custom_hooks``: the configs' standard wrapper
    + ``NonFiniteLossHook(action)``."""
    return dict(
        optim_wrapper=dict(type='OptimWrapper',
                           optimizer=dict(type='Adam', lr=0.05)),
        custom_hooks=[dict(type='NonFiniteLossHook', action=action)]
        if hook else [])


def _runner(work_dir: Path, action: str, name: str,
            hook: bool = True, by_epoch: bool = False,
            **kwargs) -> Runner:
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        # unique: mmengine's loggers are global by name, and a reused name
        # would log into an earlier test's folder
        experiment_name=f'{name}_{work_dir.name}',
        train_dataloader=dict(
            dataset=ToyData(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=BATCH,
            num_workers=0),
        train_cfg=dict(by_epoch=True, max_epochs=EPOCHS),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=by_epoch,
                            interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        default_scope='mmpose',
        **_guard_config(action, hook),
        randomness=dict(seed=0),
        **kwargs)


def _train(work_dir: Path, action: str, name: str, **kwargs) -> Runner:
    runner = _runner(work_dir, action, name, **kwargs)
    runner.train()
    return runner


def _model_state(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint_file(str(path))['state_dict']


def _assert_finite(state: dict[str, torch.Tensor]) -> None:
    for name, value in state.items():
        assert torch.isfinite(value).all(), name


def _log_text(work_dir: Path) -> str:
    return '\n'.join(p.read_text() for p in work_dir.rglob('*.log'))


def test_stop_names_iteration_and_term_and_saves_nothing_after(
        tmp_path):
    runner = _runner(tmp_path, 'stop', 'nan_stop')
    with pytest.raises(NonFiniteLossError) as info:
        runner.train()
    message = str(info.value)
    assert 'iteration 3 (epoch 1, iteration 3 of the epoch)' in message
    assert 'loss_fit=nan' in message
    assert 'loss_reg' not in message  # finite terms are not blamed
    assert 'previous iteration' in message

    saved = sorted(p.name for p in tmp_path.glob('iter_*.pth'))
    assert saved == ['iter_1.pth', 'iter_2.pth']
    assert (tmp_path / 'last_checkpoint').read_text().endswith('iter_2.pth')
    state = _model_state(tmp_path / 'iter_2.pth')
    _assert_finite(state)
    # the NaN step was never applied: the live weights are iteration 2's
    for name, value in runner.model.state_dict().items():
        torch.testing.assert_close(value, state[name], rtol=0, atol=0)


def test_skip_leaves_weights_and_adam_untouched(tmp_path):
    runner = _train(tmp_path, 'skip', 'nan_skip')
    assert runner.iter == EPOCHS * ITERS_PER_EPOCH
    wrapper = runner.optim_wrapper
    assert type(wrapper) is OptimWrapper
    assert finite_loss_guard(wrapper).num_skipped == 2

    states = {
        i: _model_state(tmp_path / f'iter_{i}.pth')
        for i in range(1, EPOCHS * ITERS_PER_EPOCH + 1)
    }
    for state in states.values():
        _assert_finite(state)
    for skipped in (3, 7):
        before, after = states[skipped - 1], states[skipped]
        for name in before:
            torch.testing.assert_close(after[name], before[name], rtol=0,
                                       atol=0, msg=f'{skipped} {name}')
        # the next, finite iteration does update
        assert not torch.equal(states[skipped + 1]['linear.weight'],
                               after['linear.weight'])

    last = load_checkpoint_file(str(tmp_path / 'iter_8.pth'))
    steps = {int(s['step']) for s in last['optimizer']['state'].values()}
    assert steps == {EPOCHS * ITERS_PER_EPOCH - 2}  # Adam stepped 6 times
    assert last['meta']['nonfinite_skips'] == 2
    assert load_checkpoint_file(
        str(tmp_path / 'iter_4.pth'))['meta']['nonfinite_skips'] == 1

    log = _log_text(tmp_path)
    assert ('non-finite loss at iteration 3 (epoch 1, iteration 3 of the '
            'epoch); terms: loss=nan, loss_fit=nan; optimizer step skipped '
            '(1 so far)') in log
    assert 'iteration 7 (epoch 2, iteration 3 of the epoch)' in log
    assert '2 optimizer step(s) skipped' in log


def test_skip_count_survives_resume(tmp_path):
    _train(tmp_path, 'skip', 'nan_skip_a', by_epoch=True)
    assert load_checkpoint_file(
        str(tmp_path / 'epoch_1.pth'))['meta']['nonfinite_skips'] == 1
    # resume after epoch 1 (one skip so far) and train epoch 2 again:
    # the count goes on from the checkpoint's
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    runner = _train(tmp_path, 'skip', 'nan_skip_b', by_epoch=True,
                    resume=True)
    assert runner.iter == EPOCHS * ITERS_PER_EPOCH
    assert finite_loss_guard(runner.optim_wrapper).num_skipped == 2
    assert load_checkpoint_file(
        str(tmp_path / 'epoch_2.pth'))['meta']['nonfinite_skips'] == 2


class _OwnUpdateWrapper(OptimWrapper):

    def update_params(self, loss, step_kwargs=None, zero_kwargs=None):
        super().update_params(loss, step_kwargs, zero_kwargs)


def _sgd(param: torch.nn.Parameter) -> torch.optim.SGD:
    return torch.optim.SGD([param], lr=0.1)


def test_hook_guards_only_the_wrapper_the_runner_built():
    param = torch.nn.Parameter(torch.ones(1))
    wrapper, other = OptimWrapper(_sgd(param)), OptimWrapper(_sgd(param))
    NonFiniteLossHook(action='skip').before_train(
        SimpleNamespace(optim_wrapper=wrapper, iter=0))
    guard = finite_loss_guard(wrapper)
    assert guard.action == 'skip' and guard.report_via_hook
    assert finite_loss_guard(other) is None  # the class is untouched
    assert type(wrapper).update_params is OptimWrapper.update_params
    # installing again keeps the one guard
    assert install_finite_loss_guard(wrapper, 'skip') is guard


def test_wrapper_with_its_own_update_params_is_refused():
    wrapper = _OwnUpdateWrapper(_sgd(torch.nn.Parameter(torch.ones(1))))
    with pytest.raises(TypeError, match='_OwnUpdateWrapper.*own '
                       'update_params'):
        NonFiniteLossHook().before_train(
            SimpleNamespace(optim_wrapper=wrapper, iter=0))


def test_amp_wrapper_is_left_to_its_loss_scale(monkeypatch):
    # mmengine builds AmpOptimWrapper only where CUDA is; on CPU torch's
    # GradScaler then disables itself (what matters here is the type)
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    param = torch.nn.Parameter(torch.ones(1))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # GradScaler: no CUDA
        wrapper = AmpOptimWrapper(optimizer=_sgd(param),
                                  loss_scale='dynamic')
    hook = NonFiniteLossHook(action='stop')
    runner = SimpleNamespace(optim_wrapper=wrapper, iter=0)
    hook.before_train(runner)
    assert finite_loss_guard(wrapper) is None
    assert 'update_params' not in vars(wrapper)
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    assert checkpoint == {}  # no skip count: the hook guards nothing
    hook.after_train_iter(runner, 0, outputs=dict(loss=float('nan')))


def _guarded(param: torch.nn.Parameter, **kwargs):
    """(wrapper, guard): a standard wrapper with the guard installed."""
    wrapper = OptimWrapper(
        _sgd(param), accumulative_counts=kwargs.pop(
            'accumulative_counts', 1))
    return wrapper, install_finite_loss_guard(wrapper, **kwargs)


def test_finite_loss_with_infinite_gradient_is_withheld():
    MessageHub.get_current_instance().update_info('iter', 41)
    param = torch.nn.Parameter(torch.zeros(1))
    wrapper, guard = _guarded(param, action='skip')
    # sqrt(0) = 0 is finite, its derivative is inf
    wrapper.update_params(torch.sqrt(param).sum())
    assert param.item() == 0 and param.grad is None
    assert guard.num_skipped == 1
    assert guard.last_fault.kind == 'gradient'
    assert guard.last_fault.iteration == 42
    assert guard.last_fault.loss == 0.0
    # a finite step goes through: d(3p)/dp = 3, p -= 0.1 * 3
    wrapper.update_params((3 * param).sum())
    assert param.item() == pytest.approx(-0.3)
    assert guard.num_skipped == 1


def test_inf_loss_stops_before_backward():
    MessageHub.get_current_instance().update_info('iter', 0)
    param = torch.nn.Parameter(torch.ones(1))
    wrapper, _ = _guarded(param)
    loss = (param * float('inf')).sum()
    with pytest.raises(NonFiniteLossError, match=r'\(inf\) at iteration 1'):
        wrapper.update_params(loss)
    assert param.grad is None  # no backward ran
    assert param.item() == 1.0


def test_gradient_accumulation_keeps_its_window():
    param = torch.nn.Parameter(torch.zeros(1))
    wrapper, guard = _guarded(param, action='skip',
                              accumulative_counts=2)
    wrapper.initialize_count_status(torch.nn.Linear(1, 1), 0, 4)
    wrapper.update_params((2 * param).sum())  # window 1, micro-step 1
    wrapper.update_params(param.sum() * float('nan'))  # micro-step 2: NaN
    # the window's gradient was dropped with the NaN step: no update
    assert param.item() == 0.0 and guard.num_skipped == 1
    wrapper.update_params((2 * param).sum())  # window 2
    wrapper.update_params((2 * param).sum())
    # SGD on the window's mean gradient 2: p = -0.1 * 2
    assert param.item() == pytest.approx(-0.2)
    assert math.isfinite(param.item())


def test_unknown_action_is_refused():
    with pytest.raises(ValueError, match="'stop', 'skip'"):
        _guarded(torch.nn.Parameter(torch.zeros(1)),
                 action='ignore')
    with pytest.raises(ValueError, match="'stop', 'skip'"):
        NonFiniteLossHook(action='ignore')
