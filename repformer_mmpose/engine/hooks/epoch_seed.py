"""Seed every training epoch from ``(seed, epoch)``: exact resumes.

mmengine seeds the process once, at start. The random augmentation
(numpy/python ``random`` in the transforms), dropout (torch) and the data
loader's worker seeds then depend on everything drawn since the start, and
a checkpoint does not store those RNG states: a run resumed at epoch k
draws different numbers from the uninterrupted run, which ends with
different weights (``DefaultSampler`` alone is exact: it shuffles with
``seed + epoch``).

:class:`EpochSeedHook` re-seeds at the start of every epoch (last among the
``before_train_epoch`` hooks, right before the loader is iterated):

* python's ``random``, numpy's global RNG and torch's (CPU and every GPU)
  from ``numpy.random.SeedSequence([seed, epoch])``, ``seed`` being the
  Runner's (the config's ``randomness.seed``, or the one mmengine drew and
  stored in the checkpoint);
* loader workers (``num_workers > 0``): each worker, when it starts, from
  ``SeedSequence([seed, epoch, rank, worker_id])``, after any
  ``worker_init_fn`` of the config. Persistent workers are restarted at
  each epoch so that their streams restart too (``restart_persistent_
  workers=False`` keeps them running, and resumes are then not exact).

What an epoch draws thus depends only on ``(seed, epoch)`` and the state
at its start, which the epoch checkpoint holds (weights, optimizer,
schedulers): ``--resume`` from ``epoch_k.pth`` repeats epochs k+1... of the
uninterrupted run bit for bit on CPU (on a GPU, as far as its kernels are
deterministic: ``randomness.deterministic=True``). Epoch-based loops only;
with an iteration-based loop the hook does nothing (and a resume there is
not exact: ``CheckpointGuardHook`` warns).
"""
from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from mmpose.registry import HOOKS


def epoch_seeds(*entropy: int) -> tuple[int, int, int]:
    """Three independent 32-bit seeds (python, numpy, torch) from
    ``entropy`` (e.g. ``seed, epoch``)."""
    words = np.random.SeedSequence([int(e) for e in entropy]).generate_state(
        3, dtype=np.uint32)
    return int(words[0]), int(words[1]), int(words[2])


def seed_everything(*entropy: int) -> None:
    """Seed python's ``random``, numpy's and torch's global RNGs."""
    python_seed, numpy_seed, torch_seed = epoch_seeds(*entropy)
    random.seed(python_seed)
    np.random.seed(numpy_seed)
    torch.manual_seed(torch_seed)  # and every CUDA device


class EpochWorkerInit:
    """A loader's ``worker_init_fn``: the config's one (if any), then
    :func:`seed_everything` from ``(seed, epoch, rank, worker_id)``.
    Picklable, for spawned workers."""

    def __init__(self, seed: int, epoch: int, rank: int,
                 inner: Callable[[int], object] | None = None) -> None:
        self.seed, self.epoch, self.rank, self.inner = seed, epoch, rank, inner

    def __call__(self, worker_id: int) -> None:
        if self.inner is not None:
            self.inner(worker_id)
        seed_everything(self.seed, self.epoch, self.rank, worker_id)


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Re-seed python/numpy/torch and the loader workers every epoch.

    Args:
        restart_persistent_workers (bool): Restart persistent loader
            workers at each epoch, so that they are re-seeded too (needed
            for exact resumes). Defaults to True.
    """

    priority = 'LOWEST'

    def __init__(self, restart_persistent_workers: bool = True) -> None:
        self.restart_persistent_workers = restart_persistent_workers
        self._config_init: Callable[[int], object] | None = None
        self._active = False

    def before_train(self, runner) -> None:
        self._active = isinstance(runner.train_loop, EpochBasedTrainLoop)
        if not self._active:
            runner.logger.info(
                f'EpochSeedHook: {type(runner.train_loop).__name__} is not '
                'epoch-based; nothing is re-seeded')
            return
        loader = runner.train_loop.dataloader
        self._config_init = getattr(loader, 'worker_init_fn', None)
        if isinstance(self._config_init, EpochWorkerInit):
            self._config_init = self._config_init.inner
        runner.logger.info(
            f'EpochSeedHook: every epoch seeds python/numpy/torch from '
            f'(seed={runner.seed}, epoch) and loader workers from (seed, '
            'epoch, rank, worker)')

    def before_train_epoch(self, runner) -> None:
        if not self._active:
            return
        seed, epoch = runner.seed, runner.epoch
        seed_everything(seed, epoch)
        loader = runner.train_loop.dataloader
        if getattr(loader, 'num_workers', 0) > 0:
            loader.worker_init_fn = EpochWorkerInit(
                seed, epoch, get_rank(), self._config_init)
            if loader.persistent_workers and \
                    self.restart_persistent_workers:
                _stop_persistent_workers(loader)


def _stop_persistent_workers(loader) -> None:
    """Shut a loader's persistent workers down; the next ``iter(loader)``
    starts new ones (with the new ``worker_init_fn``)."""
    iterator = getattr(loader, '_iterator', None)
    if iterator is None:
        return
    shutdown = getattr(iterator, '_shutdown_workers', None)
    if shutdown is not None:
        shutdown()
    loader._iterator = None
