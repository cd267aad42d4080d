"""Local file writes that never leave a partial file behind.

mmengine saves a checkpoint by serialising it in memory and handing the
bytes to its file backend; the local backend opens the final path and
writes. A process killed (SIGKILL, out of memory, a pre-empted node) in
the middle of that write leaves a truncated ``epoch_N.pth`` under the real
name, which ``--resume`` or ``load_from`` then fails on. mmengine writes
``last_checkpoint`` only after the checkpoint, so auto-resume itself picks
the previous, complete file; but the truncated one is still there.

:class:`AtomicLocalBackend` is mmengine's ``LocalBackend`` whose ``put`` and
``put_text`` write a temporary file in the same folder, flush it to disk
and move it into place with ``os.replace`` (atomic on POSIX and Windows):
the final path holds either the old content or the complete new one
(:mod:`repformer_mmpose.utils.atomic_write`, shared by every writer of the
plugin). A process killed mid-write leaves only a hidden temporary file,
which :class:`repformer_mmpose.engine.CheckpointGuardHook` removes when the
next run in that work dir starts.
It is registered as mmengine's backend ``'atomic_local'`` (when
``repformer_mmpose`` is imported) and used where the plugin writes:
``SafeCheckpointHook`` saves checkpoints with
``backend_args=dict(backend='atomic_local')``. mmengine's own ``'local'``
backend is left as it is for everything else in the process.
"""
from __future__ import annotations

from pathlib import Path

from mmengine.fileio import io as fileio_io
from mmengine.fileio import register_backend
from mmengine.fileio.backends import LocalBackend

from ..utils.atomic_write import write_bytes_atomic, write_text_atomic

__all__ = [
    'AtomicLocalBackend', 'register_atomic_local_backend',
    'write_bytes_atomic'
]


class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` with atomic ``put`` / ``put_text``."""

    def put(self, obj: bytes, filepath: str | Path) -> None:
        write_bytes_atomic(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: str | Path,
                 encoding: str = 'utf-8') -> None:
        write_text_atomic(obj, filepath, encoding)


ATOMIC_BACKEND = 'atomic_local'


def register_atomic_local_backend() -> None:
    """Register :class:`AtomicLocalBackend` as ``'atomic_local'``
    (idempotent; no prefix, so no path is served by it unasked)."""
    if ATOMIC_BACKEND not in fileio_io.backends:
        register_backend(ATOMIC_BACKEND, AtomicLocalBackend)
