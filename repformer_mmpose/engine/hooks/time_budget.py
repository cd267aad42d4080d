"""Train for as many whole epochs as fit in a wall-time budget."""
from __future__ import annotations

import math
import time

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class TimeBudgetHook(Hook):
    """Fix the epoch count of an epoch-based run from a wall-time budget.

    After ``skip_iters`` warm-up iterations (slower: worker start-up,
    kernel selection) it times ``calibration_iters`` more, then sets the
    run's length to the whole epochs that fit in ``seconds`` from the
    start of training, between 1 and the config's ``max_epochs`` (the
    cap). Epoch-based schedulers that ended with the old last epoch (a
    cosine decay, say) are stretched or shrunk to end with the new one, so
    the learning rate still anneals; iteration-based warm-up is left alone.
    The decision is logged; ``self.epochs`` keeps it.

    Args:
        seconds (float): The budget for training (not testing).
        calibration_iters (int): Iterations timed.
        skip_iters (int): Iterations before timing starts.
    """

    priority = 'VERY_LOW'

    def __init__(self, seconds: float, calibration_iters: int = 30,
                 skip_iters: int = 5) -> None:
        if not seconds > 0:
            raise ValueError(f'seconds must be positive, got {seconds}')
        self.seconds = float(seconds)
        self.calibration_iters = calibration_iters
        self.skip_iters = skip_iters
        self.epochs: int | None = None
        self._start = self._timed_from = 0.

    def before_train(self, runner) -> None:
        self._start = time.perf_counter()

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if runner.iter == self.skip_iters:
            self._timed_from = time.perf_counter()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        done = runner.iter + 1
        if self.epochs is not None or \
                done != self.skip_iters + self.calibration_iters:
            return
        now = time.perf_counter()
        per_iter = (now - self._timed_from) / self.calibration_iters
        iters_per_epoch = len(runner.train_dataloader)
        fit = done + (self.seconds - (now - self._start)) / per_iter
        cap = runner.train_loop.max_epochs
        self.epochs = max(1, min(cap, math.floor(fit / iters_per_epoch)))
        set_max_epochs(runner, self.epochs)
        runner.logger.info(
            f'TimeBudgetHook: {per_iter:.3f} s per iteration, '
            f'{iters_per_epoch} per epoch: {self.epochs} epoch(s) fit in '
            f'{self.seconds:g} s (cap {cap})')


def set_max_epochs(runner, epochs: int) -> None:
    """Change an epoch-based run's length to ``epochs``, with the epoch-
    based schedulers that ended at the old last epoch."""
    loop = runner.train_loop
    old = loop.max_epochs
    loop._max_epochs = epochs
    loop._max_iters = epochs * len(loop.dataloader)
    schedulers = runner.param_schedulers or []
    if isinstance(schedulers, dict):
        schedulers = [s for group in schedulers.values() for s in group]
    for scheduler in schedulers:
        if not getattr(scheduler, 'by_epoch', False):
            continue
        if scheduler.end == old:
            scheduler.end = epochs
        if getattr(scheduler, 'T_max', None) == old:
            scheduler.T_max = epochs
