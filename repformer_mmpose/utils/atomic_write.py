"""Atomic file writes: a temporary file in the same folder + ``os.replace``.

Every writer of the plugin (checkpoints through mmengine's file backend,
the converters' JSON, images and ``metainfo.py``, SynthFace's annotations
and manifest) goes through :func:`atomic_path`. The final path then holds
either its old content or the complete new one, never a partial file.

* The temporary file is ``.<name>.<pid>-<8 hex>.tmp`` (``...tmp<ext>``
  when the extension must be kept, e.g. for ``cv2.imwrite``) in the
  target's folder: :func:`stale_temporaries` recognises exactly this
  pattern (and the ``.<name>.<8 chars>.tmp`` of earlier versions, written
  by ``tempfile.mkstemp``), so that a file left by a killed process can be
  found and removed.
* Permissions are those a plain ``open(path, 'w')`` would give: a new file
  gets ``0o666`` minus the umask (the kernel applies it, as for ``open``),
  a replaced file keeps its mode (``tempfile.mkstemp`` would give 0600).
* The data are flushed to disk (``fsync``) before the rename; on any
  error, the temporary file is removed and the error propagates.

No tool writes over its own input: :func:`refuse_input_as_output` is the
one rule every command applies to its outputs (same path, symlinks
resolved, or the same file under another name, a hard link), and since
writes replace the directory entry, an input hard-linked elsewhere keeps
its content even so.
"""
from __future__ import annotations

import contextlib
import os
import os.path as osp
import re
import secrets
import stat
from collections.abc import Iterator
from typing import IO

TEMP_SUFFIX = '.tmp'
# .<target>.<pid>-<8 hex>.tmp[<ext>] (this module) or
# .<target>.<8 of [a-z0-9_]>.tmp (tempfile.mkstemp, earlier versions)
TEMP_PATTERN = re.compile(
    r'^\.(?P<target>.+)\.(?:(?P<pid>\d+)-[0-9a-f]{8}|[a-z0-9_]{8})'
    r'\.tmp(?:\.[A-Za-z0-9]+)?$')


class OutputIsInputError(ValueError):
    """An output path names one of the command's inputs."""


def refuse_input_as_output(output: str | os.PathLike,
                           inputs: dict[str, str | os.PathLike | None]
                           | list[tuple[str, str | os.PathLike | None]],
                           what: str = 'output') -> None:
    """Raise :class:`OutputIsInputError` if ``output`` is one of
    ``inputs`` (``{kind: path}`` or ``(kind, path)`` pairs, e.g.
    ``{'checkpoint': ...}``): the same path once symlinks are resolved, or
    the same existing file (a hard link). ``what`` names the output in the
    message."""
    output = os.fspath(output)
    pairs = inputs.items() if isinstance(inputs, dict) else inputs
    for kind, path in pairs:
        if path is None:
            continue
        path = os.fspath(path)
        same = osp.realpath(output) == osp.realpath(path) or (
            osp.exists(output) and osp.exists(path)
            and osp.samefile(output, path))
        if same:
            raise OutputIsInputError(
                f'{what} {output} is the {kind} {path}: writing it would '
                'destroy an input; choose another output')


def _create_temporary(path: str, keep_extension: bool) -> tuple[int, str]:
    """Create a temporary file beside ``path``: its descriptor (open for
    writing) and its name."""
    folder, name = osp.split(osp.abspath(path))
    ext = osp.splitext(name)[1] if keep_extension else ''
    for _ in range(100):
        tmp = osp.join(
            folder, f'.{name}.{os.getpid()}-{secrets.token_hex(4)}'
            f'{TEMP_SUFFIX}{ext}')
        try:
            # mode 0o666: the kernel applies the umask, as for open()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        return fd, tmp
    raise FileExistsError(f'no free temporary file name beside {path}')


def _fsync_file(path: str) -> None:
    # POSIX syncs through a read-only descriptor (the file's mode may
    # forbid writing); Windows needs a writable one
    fd = os.open(path, os.O_RDWR if os.name == 'nt' else os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: str) -> None:
    """Make the rename durable where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _keep_mode_of(path: str, tmp: str) -> None:
    """A replaced file keeps its mode, as with ``open(path, 'w')``."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return
    os.chmod(tmp, mode)


@contextlib.contextmanager
def _atomic_fd(path: str | os.PathLike,
               keep_extension: bool) -> Iterator[tuple[int, str]]:
    """``(descriptor, temporary path)``; the caller closes the descriptor.
    On a normal exit the file is synced and moved to ``path``; on an
    error it is removed."""
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = _create_temporary(path, keep_extension)
    try:
        yield fd, tmp
        _fsync_file(tmp)
        _keep_mode_of(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike,
                keep_extension: bool = False) -> Iterator[str]:
    """A temporary path to write; moved to ``path`` when the block ends.

    Example::

        >>> with atomic_path('out/face.png', keep_extension=True) as tmp:
        ...     cv2.imwrite(tmp, image)

    Args:
        path: The final file. Its folder is created if missing.
        keep_extension: End the temporary name with ``path``'s extension
            (for writers that choose the format by it).

    Yields:
        str: The temporary file (created empty, with ``open()``'s mode).
    """
    with _atomic_fd(path, keep_extension) as (fd, tmp):
        os.close(fd)
        yield tmp


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike,
                mode: str = 'w',
                encoding: str | None = 'utf-8') -> Iterator[IO]:
    """``open(path, mode)`` that writes atomically (``'w'`` or ``'wb'``)."""
    if mode not in ('w', 'wb'):
        raise ValueError(f'atomic_open writes only ("w", "wb"), got {mode!r}')
    with _atomic_fd(path, keep_extension=False) as (fd, _):
        with os.fdopen(fd, mode,
                       encoding=None if 'b' in mode else encoding) as f:
            yield f


def write_bytes_atomic(data: bytes, path: str | os.PathLike) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, 'wb') as f:
        f.write(data)


def write_text_atomic(text: str,
                      path: str | os.PathLike,
                      encoding: str = 'utf-8') -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_open(path, 'w', encoding=encoding) as f:
        f.write(text)


def _writer_alive(pid: int) -> bool:
    """Whether process ``pid`` (not this one) runs on this machine."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def stale_temporaries(folder: str | os.PathLike) -> list[str]:
    """Temporary files of :func:`atomic_path` in ``folder`` (not below it)
    whose writer is gone: an earlier version's, this process's, or one
    whose process id no longer runs here. Sorted paths."""
    folder = os.fspath(folder)
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    stale = []
    for name in sorted(names):
        match = TEMP_PATTERN.match(name)
        path = osp.join(folder, name)
        if match is None or not osp.isfile(path) or osp.islink(path):
            continue
        if match['pid'] is not None and _writer_alive(int(match['pid'])):
            continue
        stale.append(path)
    return stale


def remove_stale_temporaries(
        folder: str | os.PathLike) -> list[tuple[str, int]]:
    """Remove :func:`stale_temporaries` of ``folder``.

    Returns:
        list[tuple[str, int]]: ``(path, size in bytes)`` of each file
        removed.
    """
    removed = []
    for path in stale_temporaries(folder):
        try:
            size = osp.getsize(path)
            os.unlink(path)
        except FileNotFoundError:  # removed meanwhile
            continue
        removed.append((path, size))
    return removed
