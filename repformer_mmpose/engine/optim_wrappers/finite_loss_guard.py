"""Keep non-finite updates out of the weights, on any ``OptimWrapper``.

mmengine's ``OptimWrapper.update_params`` runs backward and the optimizer
step inside the model's ``train_step``, before any ``after_train_iter``
hook: a hook that sees a NaN loss is too late, the weights (and Adam's
moments) are already NaN, and the next checkpoint saves them. The check
therefore sits between the loss and the step. :class:`FiniteLossGuard`
is that check, installed on one optimizer wrapper instance (the one the
Runner built from a standard ``dict(type='OptimWrapper', ...)``) by
:func:`install_finite_loss_guard`, which ``NonFiniteLossHook`` calls:

* a non-finite loss (NaN or +-inf): no backward, no step; gradients
  accumulated so far in this accumulation window are dropped;
* with ``check_grads`` (default), a finite loss whose gradients are not
  finite (e.g. ``sqrt`` at 0, an overflow): no step either.

Then, with ``action='stop'`` (default), :class:`NonFiniteLossError` names
the iteration and epoch; with ``action='skip'`` the step is skipped,
counted (:attr:`FiniteLossGuard.num_skipped`) and logged, and training
goes on. With ``report_via_hook`` set (``NonFiniteLossHook`` sets it) the
guard leaves raising and logging to the hook, which runs right after the
iteration and can also name the loss terms that were not finite (the
guard only sees their sum).

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

ACTIONS = ('stop', 'skip')
GUARD_ATTRIBUTE = 'finite_loss_guard'


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


def check_action(action: str) -> str:
    """``action`` if it is ``'stop'`` or ``'skip'``, else ValueError."""
    if action not in ACTIONS:
        raise ValueError(f'non-finite loss guard: action must be one of '
                         f'{ACTIONS}, got {action!r}')
    return action


class FiniteLossGuard:
    """``update_params`` of one optimizer wrapper, with the checks.

    Uses only the wrapper's public steps (``scale_loss``, ``backward``,
    ``should_update``, ``step``, ``zero_grad``), so gradient accumulation
    and clipping work as the wrapper does them.

    Args:
        wrapper: The optimizer wrapper to guard.
        action: ``'stop'`` (raise :class:`NonFiniteLossError`) or
            ``'skip'`` (skip the step, count it, log it, go on).
        check_grads: Also withhold a step whose gradients are not finite
            though the loss is.

    Attributes:
        num_skipped: Steps skipped so far (``action='skip'``).
        last_fault: The latest withheld iteration, or None.
        report_via_hook: Set by ``NonFiniteLossHook``: the hook raises or
            logs after the iteration, with the loss terms.
    """

    def __init__(self,
                 wrapper: OptimWrapper,
                 action: str = 'stop',
                 check_grads: bool = True) -> None:
        self.wrapper = wrapper
        self.action = check_action(action)
        self.check_grads = check_grads
        self.num_skipped = 0
        self.last_fault: NonFiniteFault | None = None
        self.report_via_hook = False

    def update_params(self,
                      loss: torch.Tensor,
                      step_kwargs: dict | None = None,
                      zero_kwargs: dict | None = None) -> None:
        """``OptimWrapper.update_params`` with the finiteness checks."""
        wrapper = self.wrapper
        if not self._all_ranks_agree(torch.isfinite(loss.detach()).all()):
            # no backward: the step's gradient is dropped, but the
            # iteration still counts towards gradient accumulation
            wrapper._inner_count += 1
            self._withhold('loss', loss, zero_kwargs)
            return
        wrapper.backward(wrapper.scale_loss(loss))
        if not wrapper.should_update():
            return
        if self.check_grads and not self._grads_finite():
            self._withhold('gradient', loss, zero_kwargs)
            return
        wrapper.step(**(step_kwargs or {}))
        wrapper.zero_grad(**(zero_kwargs or {}))

    def _grads_finite(self) -> bool:
        grads = [
            p.grad for group in self.wrapper.optimizer.param_groups
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
        self.wrapper.zero_grad(**(zero_kwargs or {}))
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


def finite_loss_guard(wrapper: OptimWrapper) -> FiniteLossGuard | None:
    """The guard installed on ``wrapper``, or None."""
    return getattr(wrapper, GUARD_ATTRIBUTE, None)


def install_finite_loss_guard(wrapper: OptimWrapper,
                              action: str = 'stop',
                              check_grads: bool = True) -> FiniteLossGuard:
    """Guard ``wrapper.update_params`` (on this instance only).

    The wrapper's class must use ``OptimWrapper.update_params``: the guard
    replaces it, so a class with its own would lose its logic (TypeError).
    Installing twice returns the guard already there, with ``action`` and
    ``check_grads`` updated.
    """
    guard = finite_loss_guard(wrapper)
    if guard is not None:
        guard.action = check_action(action)
        guard.check_grads = check_grads
        return guard
    if type(wrapper).update_params is not OptimWrapper.update_params:
        raise TypeError(
            f'cannot guard {type(wrapper).__name__} against non-finite '
            'losses: it has its own update_params. Use '
            'optim_wrapper=dict(type="OptimWrapper", ...) or remove '
            'NonFiniteLossHook from custom_hooks')
    guard = FiniteLossGuard(wrapper, action, check_grads)
    setattr(wrapper, GUARD_ATTRIBUTE, guard)
    # an instance attribute: the class and other wrappers stay as they are
    wrapper.update_params = guard.update_params
    return guard


def is_finite_number(value) -> bool:
    """True for a finite float/int or a tensor whose values are all finite."""
    if isinstance(value, torch.Tensor):
        return bool(torch.isfinite(value.detach()).all())
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True  # not a number: nothing to check
