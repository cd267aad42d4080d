"""An optimizer wrapper that never applies a non-finite update.

mmengine's ``OptimWrapper.update_params`` runs backward and the optimizer
step inside the model's ``train_step``, before any ``after_train_iter``
hook: a hook that sees a NaN loss is too late, the weights (and Adam's
moments) are already NaN, and the next checkpoint saves them. The check
therefore sits in the wrapper, between the loss and the step:

* a non-finite loss (NaN or +-inf): no backward, no step; gradients
  accumulated so far in this accumulation window are dropped;
* with ``check_grads`` (default), a finite loss whose gradients are not
  finite (e.g. ``sqrt`` at 0, an overflow): no step either.

Then, with ``action='stop'`` (default), :class:`NonFiniteLossError` names
the iteration and epoch; with ``action='skip'`` the step is skipped,
counted (:attr:`FiniteLossOptimWrapper.num_skipped`) and logged, and
training goes on. With :class:`~repformer_mmpose.engine.hooks.
NonFiniteLossHook` registered, the wrapper leaves raising and logging to
the hook, which runs right after the iteration and can also name the loss
terms that were not finite (the wrapper only sees their sum).

In distributed training the decision is all-reduced, so every rank skips
(or stops at) the same iteration.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
from mmengine.dist import all_reduce, is_distributed
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper
from mmpose.registry import OPTIM_WRAPPERS

ACTIONS = ('stop', 'skip')


class NonFiniteLossError(FloatingPointError):
    """Training met a NaN/inf loss or gradient and was told to stop."""


@dataclass
class NonFiniteFault:
    """One iteration whose update was withheld.

    Attributes:
        iteration: 1-based training iteration (as mmengine logs it).
        epoch: 1-based epoch.
        kind: ``'loss'`` or ``'gradient'``.
        loss: The loss value (its sum over terms).
    """

    iteration: int
    epoch: int
    kind: str
    loss: float

    def describe(self) -> str:
        what = (f'non-finite loss ({self.loss})' if self.kind == 'loss' else
                f'non-finite gradient (loss {self.loss})')
        return f'{what} at iteration {self.iteration} (epoch {self.epoch})'


def _training_position() -> tuple[int, int]:
    """1-based (iteration, epoch) of the iteration running now, from the
    message hub that mmengine's ``RuntimeInfoHook`` keeps up to date."""
    hub = MessageHub.get_current_instance()
    return (int(hub.get_info('iter', 0)) + 1,
            int(hub.get_info('epoch', 0)) + 1)


@OPTIM_WRAPPERS.register_module()
class FiniteLossOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that withholds updates from non-finite losses.

    Args:
        optimizer: The optimizer (built by mmengine from the config).
        action: ``'stop'`` (raise :class:`NonFiniteLossError`) or ``'skip'``
            (skip the step, count it, log it, go on).
        check_grads: Also withhold a step whose gradients are not finite
            though the loss is.
        **kwargs: ``OptimWrapper``'s (``accumulative_counts``,
            ``clip_grad``).

    Attributes:
        num_skipped: Steps skipped so far (``action='skip'``).
        last_fault: The latest withheld iteration, or None.
        report_via_hook: Set by ``NonFiniteLossHook``: the hook raises or
            logs after the iteration, with the loss terms.
    """

    def __init__(self,
                 optimizer: torch.optim.Optimizer,
                 action: str = 'stop',
                 check_grads: bool = True,
                 **kwargs) -> None:
        if action not in ACTIONS:
            raise ValueError(f'FiniteLossOptimWrapper: action must be one of '
                             f'{ACTIONS}, got {action!r}')
        super().__init__(optimizer, **kwargs)
        self.action = action
        self.check_grads = check_grads
        self.num_skipped = 0
        self.last_fault: NonFiniteFault | None = None
        self.report_via_hook = False

    def update_params(self,
                      loss: torch.Tensor,
                      step_kwargs: dict | None = None,
                      zero_kwargs: dict | None = None) -> None:
        """``OptimWrapper.update_params`` with the finiteness checks."""
        if not self._all_ranks_agree(torch.isfinite(loss.detach()).all()):
            # no backward: the step's gradient is dropped, but the
            # iteration still counts towards gradient accumulation
            self._inner_count += 1
            self._withhold('loss', loss, zero_kwargs)
            return
        self.backward(self.scale_loss(loss))
        if not self.should_update():
            return
        if self.check_grads and not self._grads_finite():
            self._withhold('gradient', loss, zero_kwargs)
            return
        self.step(**(step_kwargs or {}))
        self.zero_grad(**(zero_kwargs or {}))

    def _grads_finite(self) -> bool:
        grads = [
            p.grad for group in self.optimizer.param_groups
            for p in group['params'] if p.grad is not None
        ]
        if not grads:
            return True
        # one flag per tensor, one device sync in all
        return bool(torch.stack([torch.isfinite(g).all() for g in grads
                                 ]).all())

    @staticmethod
    def _all_ranks_agree(finite: torch.Tensor) -> bool:
        """True if the flag is true on every rank."""
        if not is_distributed():
            return bool(finite)
        bad = (~finite).to(torch.float32).reshape(1)
        all_reduce(bad, op='sum')
        return bool(bad.item() == 0)

    def _withhold(self, kind: str, loss: torch.Tensor,
                  zero_kwargs: dict | None) -> None:
        self.zero_grad(**(zero_kwargs or {}))
        iteration, epoch = _training_position()
        value = float(loss.detach().float().sum())
        self.last_fault = NonFiniteFault(iteration, epoch, kind, value)
        if self.action == 'stop':
            if not self.report_via_hook:
                raise NonFiniteLossError(
                    f'{self.last_fault.describe()}: training stopped before '
                    'the optimizer step, so the weights and checkpoints are '
                    'those of the previous iteration (action="stop"; '
                    'action="skip" skips such steps instead)')
            return
        self.num_skipped += 1
        if not self.report_via_hook:
            print_log(
                f'{self.last_fault.describe()}: optimizer step skipped '
                f'({self.num_skipped} so far)',
                logger='current',
                level=logging.WARNING)


def is_finite_number(value) -> bool:
    """True for a finite float/int or a tensor whose values are all finite."""
    if isinstance(value, torch.Tensor):
        return bool(torch.isfinite(value.detach()).all())
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True  # not a number: nothing to check
