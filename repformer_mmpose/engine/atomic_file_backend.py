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
the final path holds either the old content or the complete new one.
:func:`register_atomic_local_backend` makes it mmengine's backend for local
paths (it is called when ``repformer_mmpose`` is imported).
"""
from __future__ import annotations

import os
import os.path as osp
import tempfile
from pathlib import Path

from mmengine.fileio import io as fileio_io
from mmengine.fileio import register_backend
from mmengine.fileio.backends import LocalBackend


def write_bytes_atomic(data: bytes, filepath: str | Path) -> None:
    """Write ``data`` to ``filepath`` via a temporary file + ``os.replace``.

    Either the complete file appears at ``filepath`` or nothing changes
    there; the temporary file is removed on failure.
    """
    filepath = os.fspath(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix=f'.{osp.basename(filepath)}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` with atomic ``put`` / ``put_text``."""

    def put(self, obj: bytes, filepath: str | Path) -> None:
        write_bytes_atomic(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: str | Path,
                 encoding: str = 'utf-8') -> None:
        write_bytes_atomic(obj.encode(encoding), filepath)


def register_atomic_local_backend() -> None:
    """Serve local paths (no ``scheme://`` prefix, or ``backend='local'``)
    with :class:`AtomicLocalBackend` (idempotent)."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    # backends built before this call are cached by mmengine: drop the
    # plain local ones so the next look-up builds an atomic one
    for key, backend in list(fileio_io.backend_instances.items()):
        if type(backend) is LocalBackend:
            del fileio_io.backend_instances[key]
