"""Guard training against NaN/inf losses, and report them.

A NaN update must be stopped between the loss and the optimizer step, which
both happen inside ``train_step``, before any hook runs. So before training
this hook installs :class:`~..optim_wrappers.FiniteLossGuard` on the
optimizer wrapper the Runner built from the config's standard
``optim_wrapper=dict(type='OptimWrapper', ...)`` (or any subclass, such
as ``BF16AutocastOptimWrapper``). An ``AmpOptimWrapper`` (e.g.
MMPose's ``tools/train.py --amp``) is left alone: its dynamic loss scale
already skips steps whose gradients are inf/NaN and lowers the scale; the
hook says so once in the log and does nothing else for it.

The hook runs right after each iteration, first among all hooks (priority
``HIGHEST``, so before ``CheckpointHook`` and ``LoggerHook``), and sees the
iteration's loss terms:

* ``action='stop'`` (default): it raises :class:`NonFiniteLossError`
  naming the iteration, the epoch, the iteration within the epoch and the
  terms that were not finite. No checkpoint is written for that
  iteration, and the weights in memory are those of the previous one.
* ``action='skip'``: it logs the same facts as a warning with the number
  of steps skipped so far, puts that number in the message hub
  (``train/nonfinite_skips``, so ``LoggerHook`` shows it) and in every
  checkpoint's ``meta['nonfinite_skips']``, from which a resumed run
  counts on. Each epoch ends with a summary line when steps were skipped.
  The logged loss stays the true value: ``LoggerHook``'s window mean shows
  ``nan`` until the skipped iteration leaves the window.

Priority ``HIGHEST`` also means this hook's ``after_train_iter`` runs
before mmengine's ``RuntimeInfoHook`` records the iteration's outputs.
"""
from __future__ import annotations

import logging

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapperDict
from mmpose.registry import HOOKS

from ..optim_wrappers.finite_loss_guard import (FiniteLossGuard,
                                                NonFiniteLossError,
                                                check_action,
                                                finite_loss_guard,
                                                install_finite_loss_guard,
                                                is_finite_number)

META_KEY = 'nonfinite_skips'


def _as_float(value) -> float:
    if isinstance(value, torch.Tensor):
        value = value.detach().float().mean()
    return float(value)


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop at, or log and count, iterations with a NaN/inf loss.

    Args:
        action: ``'stop'`` or ``'skip'``. None (default): the installed
            guard's, ``'stop'``.
        check_grads: Also withhold steps whose gradients are not finite
            though the loss is. None (default): the guard's, True.
    """

    priority = 'HIGHEST'

    def __init__(self,
                 action: str | None = None,
                 check_grads: bool | None = None) -> None:
        self.action = None if action is None else check_action(action)
        self.check_grads = check_grads
        self._guards: list[FiniteLossGuard] = []
        self._resumed_skips = 0

    def before_train(self, runner) -> None:
        optim_wrapper = runner.optim_wrapper
        wrappers = (list(optim_wrapper.values()) if isinstance(
            optim_wrapper, OptimWrapperDict) else [optim_wrapper])
        self._guards = []
        for wrapper in wrappers:
            if isinstance(wrapper, AmpOptimWrapper):
                print_log(
                    'NonFiniteLossHook: AmpOptimWrapper\'s loss scaler '
                    'skips steps whose gradients are inf/NaN (and lowers '
                    'the scale); no finite-loss guard is installed on it',
                    logger='current',
                    level=logging.INFO)
                continue
            guard = (finite_loss_guard(wrapper)
                     or install_finite_loss_guard(wrapper))
            if self.action is not None:
                guard.action = self.action
            if self.check_grads is not None:
                guard.check_grads = self.check_grads
            guard.report_via_hook = True
            guard.last_fault = None
            self._guards.append(guard)
        if self._guards and runner.iter > 0:  # resumed (not ``load_from``)
            self._guards[0].num_skipped += self._resumed_skips
        self._resumed_skips = 0

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._resumed_skips = int(
            checkpoint.get('meta', {}).get(META_KEY, 0))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._guards:
            checkpoint.setdefault('meta', {})[META_KEY] = self._skips()

    def _skips(self) -> int:
        return sum(guard.num_skipped for guard in self._guards)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: dict | None = None) -> None:
        faults = []
        for guard in self._guards:
            if guard.last_fault is not None:
                faults.append(guard.last_fault)
                action = guard.action
                guard.last_fault = None
        if not faults:
            return
        fault = faults[0]
        terms = {
            name: _as_float(value)
            for name, value in (outputs or {}).items()
            if not is_finite_number(value)
        }
        where = (f'iteration {fault.iteration} (epoch {fault.epoch}, '
                 f'iteration {batch_idx + 1} of the epoch)')
        what = ('non-finite loss' if fault.kind == 'loss' else
                f'non-finite gradient (loss {fault.loss})')
        named = ', '.join(f'{k}={v}' for k, v in terms.items())
        text = f'{what} at {where}' + (f'; terms: {named}' if named else '')
        if action == 'stop':
            raise NonFiniteLossError(
                f'{text}. Training stopped before the optimizer step: the '
                'weights and the checkpoints are those of the previous '
                'iteration. Set action="skip" in NonFiniteLossHook '
                '(custom_hooks) to skip such steps instead.')
        skips = self._skips()
        runner.message_hub.update_scalar('train/nonfinite_skips', skips)
        print_log(f'{text}; optimizer step skipped ({skips} so far)',
                  logger='current', level=logging.WARNING)

    def after_train_epoch(self, runner) -> None:
        skips = self._skips()
        if skips:
            print_log(
                f'{skips} optimizer step(s) skipped for a non-finite loss '
                f'or gradient so far (epoch {runner.epoch + 1})',
                logger='current',
                level=logging.WARNING)
