"""Report NaN/inf losses caught by :class:`FiniteLossOptimWrapper`.

The wrapper withholds the optimizer step of a non-finite iteration (it must:
the step happens inside ``train_step``, before any hook). This hook runs
right after that iteration, first among all hooks (priority ``HIGHEST``, so
before ``CheckpointHook`` and ``LoggerHook``), and sees the iteration's
loss terms:

* ``action='stop'`` (the wrapper's option): it raises
  :class:`NonFiniteLossError` naming the iteration, the epoch, the
  iteration within the epoch and the terms that were not finite. No
  checkpoint is written for that iteration, and the weights in memory are
  those of the previous one.
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
from mmengine.optim import OptimWrapperDict
from mmpose.registry import HOOKS

from ..optim_wrappers.finite_loss_optim_wrapper import (
    FiniteLossOptimWrapper, NonFiniteLossError, is_finite_number)

META_KEY = 'nonfinite_skips'


def _as_float(value) -> float:
    if isinstance(value, torch.Tensor):
        value = value.detach().float().mean()
    return float(value)


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop at, or log and count, iterations with a NaN/inf loss.

    Needs ``optim_wrapper=dict(type='FiniteLossOptimWrapper', ...)``, whose
    ``action`` decides between stopping and skipping.
    """

    priority = 'HIGHEST'

    def __init__(self) -> None:
        self._resumed_skips = 0

    @staticmethod
    def _wrappers(runner) -> list[FiniteLossOptimWrapper]:
        optim_wrapper = runner.optim_wrapper
        wrappers = (list(optim_wrapper.values()) if isinstance(
            optim_wrapper, OptimWrapperDict) else [optim_wrapper])
        found = [w for w in wrappers if isinstance(w, FiniteLossOptimWrapper)]
        if len(found) != len(wrappers):
            raise TypeError(
                'NonFiniteLossHook needs optim_wrapper=dict(type='
                '"FiniteLossOptimWrapper", ...): a hook runs after the '
                'optimizer step, too late to keep a NaN update out of the '
                f'weights; got {[type(w).__name__ for w in wrappers]}')
        return found

    def before_train(self, runner) -> None:
        wrappers = self._wrappers(runner)
        for wrapper in wrappers:
            wrapper.report_via_hook = True
            wrapper.last_fault = None
        if runner.iter > 0:  # resumed (``load_from`` starts at 0)
            wrappers[0].num_skipped += self._resumed_skips
        self._resumed_skips = 0

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._resumed_skips = int(
            checkpoint.get('meta', {}).get(META_KEY, 0))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[META_KEY] = self._skips(runner)

    def _skips(self, runner) -> int:
        return sum(w.num_skipped for w in self._wrappers(runner))

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: dict | None = None) -> None:
        faults = []
        for wrapper in self._wrappers(runner):
            if wrapper.last_fault is not None:
                faults.append(wrapper.last_fault)
                action = wrapper.action
                wrapper.last_fault = None
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
                'iteration. Set optim_wrapper.action="skip" to skip such '
                'steps instead.')
        skips = self._skips(runner)
        runner.message_hub.update_scalar('train/nonfinite_skips', skips)
        print_log(f'{text}; optimizer step skipped ({skips} so far)',
                  logger='current', level=logging.WARNING)

    def after_train_epoch(self, runner) -> None:
        skips = self._skips(runner)
        if skips:
            print_log(
                f'{skips} optimizer step(s) skipped for a non-finite loss '
                f'or gradient so far (epoch {runner.epoch + 1})',
                logger='current',
                level=logging.WARNING)
