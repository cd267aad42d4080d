"""``FiniteLossOptimWrapper``: an ``OptimWrapper`` with the finite-loss guard
built in, kept for configs written before the guard could be installed on a
standard wrapper.

New configs use the standard ``optim_wrapper=dict(type='OptimWrapper',
...)`` (so that MMPose's ``tools/train.py --amp`` accepts them) and
``custom_hooks=[dict(type='NonFiniteLossHook', action='stop')]``, which
installs :class:`~.finite_loss_guard.FiniteLossGuard` on the wrapper the
Runner built. This class gives the same behaviour from the wrapper's own
config (``action``, ``check_grads``), with or without the hook.
"""
from __future__ import annotations

import torch
from mmengine.optim import OptimWrapper
from mmpose.registry import OPTIM_WRAPPERS

from .finite_loss_guard import (FiniteLossGuard, NonFiniteFault,
                                NonFiniteLossError, is_finite_number)

__all__ = [
    'FiniteLossOptimWrapper', 'NonFiniteFault', 'NonFiniteLossError',
    'is_finite_number'
]


def _guard_attribute(name: str, doc: str) -> property:
    """A property reading and writing the guard's attribute ``name``."""

    def get(self):
        return getattr(self.finite_loss_guard, name)

    def set_(self, value) -> None:
        setattr(self.finite_loss_guard, name, value)

    return property(get, set_, doc=doc)


@OPTIM_WRAPPERS.register_module()
class FiniteLossOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that withholds updates from non-finite losses.

    Args:
        optimizer: The optimizer (built by mmengine from the config).
        action: ``'stop'`` (raise ``NonFiniteLossError``) or ``'skip'``
            (skip the step, count it, log it, go on).
        check_grads: Also withhold a step whose gradients are not finite
            though the loss is.
        **kwargs: ``OptimWrapper``'s (``accumulative_counts``,
            ``clip_grad``).
    """

    action = _guard_attribute('action', "'stop' or 'skip'")
    check_grads = _guard_attribute('check_grads', 'check the gradients')
    num_skipped = _guard_attribute('num_skipped', 'steps skipped so far')
    last_fault = _guard_attribute('last_fault', 'latest withheld step')
    report_via_hook = _guard_attribute('report_via_hook',
                                       'NonFiniteLossHook reports')

    def __init__(self,
                 optimizer: torch.optim.Optimizer,
                 action: str = 'stop',
                 check_grads: bool = True,
                 **kwargs) -> None:
        super().__init__(optimizer, **kwargs)
        self.finite_loss_guard = FiniteLossGuard(self, action, check_grads)

    def update_params(self,
                      loss: torch.Tensor,
                      step_kwargs: dict | None = None,
                      zero_kwargs: dict | None = None) -> None:
        """``OptimWrapper.update_params`` with the finiteness checks."""
        self.finite_loss_guard.update_params(loss, step_kwargs, zero_kwargs)
