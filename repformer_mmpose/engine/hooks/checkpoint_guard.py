"""Check what a Runner loads, before it loads it; tidy up killed saves.

:class:`CheckpointGuardHook` works with any mmengine ``Runner`` (ours,
MMPose's ``tools/train.py`` / ``tools/test.py`` with our configs):

* ``before_run`` (before ``load_or_resume``): decides, as mmengine will,
  which checkpoint is resumed or loaded
  (:func:`repformer_mmpose.engine.resume_source.checkpoint_source`). A
  named checkpoint that does not exist, or a broken ``last_checkpoint``,
  raises :class:`CheckpointNotFoundError`; ``resume`` with nothing to
  resume logs a warning that training starts from scratch (instead of
  mmengine's ``Auto resumed from the latest checkpoint None.``).
* ``after_load_checkpoint`` (before the weights reach the model, and
  before ``resume`` restores the optimizer): compares the checkpoint with
  the model and raises :class:`CheckpointMismatchError` naming the file
  and the config on any missing, unexpected or mis-shaped parameter
  (mmengine only warns and keeps them random); a resumed checkpoint must
  also hold a training state (``meta`` epoch/iter, ``message_hub``), not
  weights only.
* ``before_train`` (main process): removes temporary files that a kill
  during an atomic save left in the work dir (only names of
  :mod:`repformer_mmpose.utils.atomic_write`'s pattern whose writer is
  gone), logging each with its size.
"""
from __future__ import annotations

import os

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop
from mmpose.registry import HOOKS

from ...utils.atomic_write import remove_stale_temporaries
from ..checkpoint_fit import (CheckpointMismatchError, check_state_dict,
                              checkpoint_state_dict)
from ..resume_source import checkpoint_source
from .epoch_seed import EpochSeedHook


@HOOKS.register_module()
class CheckpointGuardHook(Hook):
    """Refuse missing or ill-fitting checkpoints; remove stale
    temporaries of interrupted saves. No arguments."""

    # first in after_load_checkpoint: no hook acts on a refused checkpoint
    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._source: str | None = None
        self._resuming = False

    def before_run(self, runner) -> None:
        source = checkpoint_source(runner.work_dir, runner._load_from,
                                   runner._resume)
        self._source, self._resuming = source.path, source.resume
        if runner._resume and source.path is None:
            runner.logger.warning(
                f'resume: no checkpoint found in {runner.work_dir} (no '
                'last_checkpoint file): training starts from scratch')
            runner._resume = False  # mmengine would log "... None."
        elif source.resume and not _epochs_seeded(runner):
            runner.logger.warning(
                'resume: the config has no EpochSeedHook (or an '
                'iteration-based loop), so the random augmentation and '
                'dropout after the resume will not be those of an '
                'uninterrupted run')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # the file before_run resolved; a later direct load is not named
        source = f'checkpoint {self._source or "(loaded by the runner)"}'
        resuming, self._source, self._resuming = self._resuming, None, False
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        check_state_dict(model, checkpoint_state_dict(checkpoint, source),
                         source, getattr(runner.cfg, 'filename', None))
        meta = checkpoint.get('meta')
        if resuming and not (isinstance(meta, dict) and {'epoch', 'iter'}
                             <= set(meta) and 'message_hub' in checkpoint):
            raise CheckpointMismatchError(
                f'{source} holds weights only (no meta epoch/iter or '
                'message_hub of a training run), so it cannot be resumed; '
                'to start a new run from its weights, use load_from')

    def before_train(self, runner) -> None:
        if not is_main_process():
            return
        self._lock = lock_work_dir(runner.work_dir)
        removed = remove_stale_temporaries(runner.work_dir)
        if removed:
            files = ', '.join(f'{path} ({size / 2**20:.1f} MB)'
                              for path, size in removed)
            runner.logger.warning(
                f'removed {len(removed)} temporary file(s) left by an '
                f'interrupted save: {files}')


    def after_run(self, runner) -> None:
        lock = getattr(self, '_lock', None)
        if lock is not None:
            lock.close()  # releases the lock
            self._lock = None


LOCK_FILE = '.training.lock'
# this process's locks: a run that ended with an exception (no after_run)
# must not lock its own process out of the work dir
_HELD: dict[str, object] = {}


def lock_work_dir(work_dir: str):
    """Hold an exclusive lock on ``work_dir`` for this training (released
    when the returned file is closed, or the process ends, killed or not):
    two trainings in one work dir would rotate and overwrite each other's
    checkpoints and ``last_checkpoint``."""
    import fcntl
    path = os.path.realpath(os.path.join(work_dir, LOCK_FILE))
    earlier = _HELD.pop(path, None)
    if earlier is not None:  # this process's own, from an earlier run
        earlier.close()
    lock = open(path, 'a+')
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or 'another process'
        lock.close()
        raise RuntimeError(
            f'work dir {work_dir} is in use by a training ({holder}): two '
            'runs in one work dir overwrite each other\'s checkpoints; '
            'choose another --work-dir') from None
    lock.seek(0)
    lock.truncate()
    lock.write(f'pid {os.getpid()}')
    lock.flush()
    _HELD[path] = lock
    return lock


def _epochs_seeded(runner) -> bool:
    """Whether :class:`EpochSeedHook` will re-seed every epoch."""
    # _train_loop: the built loop in train(), a config dict elsewhere
    return isinstance(runner._train_loop, EpochBasedTrainLoop) and any(
        isinstance(hook, EpochSeedHook) for hook in runner.hooks)


def add_checkpoint_guard(cfg) -> None:
    """Put :class:`CheckpointGuardHook` in ``cfg.custom_hooks`` unless it
    is there (the tools call it, so configs without it are checked too)."""
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(_is_guard(hook) for hook in hooks):
        hooks.append(dict(type='CheckpointGuardHook'))
    cfg.custom_hooks = hooks


def _is_guard(hook) -> bool:
    """A hook config or object that is a :class:`CheckpointGuardHook`."""
    if isinstance(hook, dict):
        return hook.get('type') in ('CheckpointGuardHook',
                                    CheckpointGuardHook)
    return isinstance(hook, CheckpointGuardHook)
