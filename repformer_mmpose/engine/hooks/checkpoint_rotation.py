"""mmengine's ``CheckpointHook``, removing old checkpoints only after the
new one is written.

mmengine 0.10.7 rotates checkpoints (``max_keep_ckpts``) and the best one
(``save_best``) by *first* removing the outdated file and *then* saving
the new one. With ``max_keep_ckpts=1`` a process killed (or a disk that
fills up) between the two steps leaves no checkpoint at all, and
``last_checkpoint`` names the removed file.

:class:`SafeCheckpointHook` runs mmengine's own saving logic with the
removals held back: they are done once the new checkpoint is in place
(written atomically by :mod:`repformer_mmpose.utils.atomic_write`), and
dropped if the save fails, so the last good checkpoint always exists. A
file that was just written is never removed. The plugin's configs use it
(``configs/_base_/default_runtime.py``).
"""
from __future__ import annotations

import contextlib
import difflib
import inspect
import logging
from collections.abc import Iterator

from mmengine.hooks import CheckpointHook
from mmengine.logging import MMLogger
from mmpose.registry import HOOKS
from ..atomic_file_backend import ATOMIC_BACKEND


class _HeldBackRemovals:
    """A file backend whose ``remove`` / ``rmtree`` are only recorded."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.pending: list[tuple[str, str]] = []

    def remove(self, path: str) -> None:
        self.pending.append(('remove', path))

    def rmtree(self, path: str) -> None:
        self.pending.append(('rmtree', path))

    def __getattr__(self, name: str):
        return getattr(self.backend, name)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` that keeps the previous checkpoint (and the
    previous best one) until the new one is saved. Same arguments.

    mmengine's hook takes unknown keyword arguments and passes them to
    ``Runner.save_checkpoint`` at the first save, so a typo
    (``max_keep_ckpt=1``) fails only after a whole epoch; here it fails
    when the hook is built, before training, naming the option.
    """

    def __init__(self, *args, **kwargs) -> None:
        known = set(inspect.signature(CheckpointHook.__init__).parameters)
        for name in kwargs:
            if name not in known:
                close = difflib.get_close_matches(name, sorted(known), 1)
                hint = f' (did you mean {close[0]!r}?)' if close else ''
                raise TypeError(
                    f'SafeCheckpointHook (default_hooks.checkpoint) got an '
                    f'unexpected keyword argument {name!r}{hint}')
        if kwargs.get('backend_args') is None and \
                kwargs.get('file_client_args') is None:
            # checkpoints written atomically (temporary file + rename)
            kwargs['backend_args'] = dict(backend=ATOMIC_BACKEND)
        super().__init__(*args, **kwargs)

    def before_train(self, runner) -> None:
        with _quiet_file_client():
            super().before_train(runner)

    def _save_checkpoint_with_step(self, runner, step, meta):
        with self._removals_held_back(), _quiet_file_client():
            super()._save_checkpoint_with_step(runner, step, meta)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with self._removals_held_back(), _quiet_file_client():
            super()._save_best_checkpoint(runner, metrics)

    def _written(self) -> set[str]:
        """The checkpoints this hook currently points at."""
        paths = {self.last_ckpt, getattr(self, 'best_ckpt_path', None)}
        paths.update(getattr(self, 'best_ckpt_path_dict', {}).values())
        return {path for path in paths if path}

    @contextlib.contextmanager
    def _removals_held_back(self) -> Iterator[None]:
        if isinstance(self.file_backend, _HeldBackRemovals):
            yield  # nested (best checkpoint -> step checkpoint)
            return
        backend = self.file_backend
        held = _HeldBackRemovals(backend)
        self.file_backend = held
        try:
            yield
        finally:
            self.file_backend = backend
        keep = self._written()
        for action, path in held.pending:
            if path not in keep:
                getattr(backend, action)(path)


@contextlib.contextmanager
def _quiet_file_client() -> Iterator[None]:
    """mmengine's checkpoint hook and ``save_checkpoint`` build a
    ``FileClient`` for the default backend whatever the options, and each
    time log the deprecation of mmengine's own classes, which no user can
    act on: drop those two notices of the current logger."""
    starts = ('"FileClient" will be deprecated',
              '"HardDiskBackend" is the alias')

    def keep(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(starts)

    logger = MMLogger.get_current_instance()
    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)
