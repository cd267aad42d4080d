"""Load mmengine Runner checkpoints with ``torch.load(weights_only=True)``.

Since torch 2.6 ``torch.load`` refuses, by default, any pickled global that
is not allow-listed. A Runner checkpoint holds, besides tensors, the
``message_hub`` (mmengine ``HistoryBuffer`` objects, numpy arrays and
scalars, a ``Counter`` of scheduler milestones), so mmengine 0.10.7's
``load_checkpoint`` / ``resume`` fail out of the box.

Rather than switching the check off (``weights_only=False`` runs arbitrary
code from the file), this module replaces mmengine's loader for local files
with one that keeps ``weights_only=True`` and allow-lists exactly the types
such checkpoints need. ``HistoryBuffer`` pickles its statistics methods as
``getattr(HistoryBuffer, 'min')``; instead of allowing ``getattr`` itself we
map that global to :func:`_history_buffer_getattr`, which answers only those
look-ups. A checkpoint that needs anything else is refused with a message
naming the file and the global; setting ``REPFORMER_UNSAFE_LOAD=1`` loads
it with ``weights_only=False`` (only for files you trust), and says so.
"""
from __future__ import annotations

import collections
import contextlib
import os
import os.path as osp
import pickle
import warnings
import zipfile

import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

# numpy's part of the allow-list is shared with the dump reader
from ..utils.safe_pickle import numpy_globals

UNSAFE_ENV = 'REPFORMER_UNSAFE_LOAD'
# torch.save stores its archive's entries uncompressed; an entry that
# inflates more than this is refused before torch reads it
MAX_INFLATION = 100
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs globals outside the safe allow-list."""


class CheckpointReadError(RuntimeError):
    """A checkpoint file cannot be read (empty, truncated, not a
    checkpoint); torch's own error names no file."""


def _history_buffer_getattr(obj, name: str):
    """Stands in for ``builtins.getattr`` while unpickling a checkpoint."""
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(obj, name)
    raise UnsafeCheckpointError(
        f'the checkpoint asks for getattr({obj!r}, {name!r}); only '
        f'HistoryBuffer.{{{",".join(_HISTORY_BUFFER_METHODS)}}} is allowed')


def safe_globals() -> list:
    """The allow-list passed to ``torch.serialization.safe_globals``."""
    return [
        HistoryBuffer, collections.Counter, collections.OrderedDict, bytes,
        (_history_buffer_getattr, 'builtins.getattr'),
        (_history_buffer_getattr, '__builtin__.getattr'), *numpy_globals()
    ]


def load_checkpoint_file(filename: str, map_location=None):
    """``torch.load`` of a local checkpoint with ``weights_only=True``.

    Raises:
        FileNotFoundError: if ``filename`` does not exist.
        UnsafeCheckpointError: if the file needs a global outside the
            allow-list and ``REPFORMER_UNSAFE_LOAD`` is not set.
        CheckpointReadError: if the file is empty, truncated or otherwise
            unreadable (the message names it and gives torch's reason).
    """
    filename = osp.expanduser(filename)
    if osp.isdir(filename):
        raise CheckpointReadError(
            f'{filename} is a folder, not a checkpoint file')
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found')
    check_checkpoint_format(filename)
    try:
        with torch.serialization.safe_globals(safe_globals()), \
                _guard_history_buffer_methods(filename):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except (EOFError, RuntimeError) as error:
        reason = (str(error).splitlines() or ['empty or truncated file'])[0]
        raise CheckpointReadError(
            f'checkpoint {filename} ({osp.getsize(filename)} bytes) cannot '
            f'be read: {reason}') from error
    except pickle.UnpicklingError as error:
        if os.environ.get(UNSAFE_ENV) != '1':
            raise UnsafeCheckpointError(
                f'{filename} cannot be loaded with weights_only=True: '
                f'{_reason(error)}\nIf you trust this file, '
                f'set {UNSAFE_ENV}=1 to load it with weights_only=False '
                '(which can run code stored in it).') from error
    warnings.warn(f'{UNSAFE_ENV}=1: loading {filename} with '
                  'weights_only=False', stacklevel=2)
    return torch.load(filename, map_location=map_location, weights_only=False)


def check_checkpoint_format(filename: str) -> None:
    """Refuse, before torch reads it, a file that is not a checkpoint
    (``torch.save`` writes a zip archive, or a pickle in the legacy
    format) or an archive whose entries inflate more than
    :data:`MAX_INFLATION` times (a decompression bomb)."""
    with open(filename, 'rb') as f:
        head = f.read(4)
    if zipfile.is_zipfile(filename):
        with zipfile.ZipFile(filename) as archive:
            for entry in archive.infolist():
                if entry.file_size > MAX_INFLATION * max(
                        entry.compress_size, 1024):
                    raise CheckpointReadError(
                        f'{filename} is not a torch checkpoint: its entry '
                        f'{entry.filename} inflates from '
                        f'{entry.compress_size} to {entry.file_size} bytes '
                        '(torch.save stores entries uncompressed)')
        return
    if not head or head.startswith(b'PK'):  # empty, or a damaged archive
        return  # torch's own error says which
    if not head.startswith(b'\x80'):  # pickle protocol >= 2
        raise CheckpointReadError(
            f'{filename} is not a checkpoint: torch.save writes a zip '
            f'archive (or a pickle), this file starts with {head!r}')


@contextlib.contextmanager
def _guard_history_buffer_methods(filename: str):
    """``HistoryBuffer.__setstate__`` merges pickled statistics methods
    into a class-level dict shared by the whole process: accept only
    mmengine's own methods, and leave the dict as it was."""
    methods = HistoryBuffer._statistics_methods
    before = dict(methods)
    try:
        yield
        allowed = {getattr(HistoryBuffer, n) for n in _HISTORY_BUFFER_METHODS}
        foreign = {
            name: method
            for name, method in methods.items()
            if method not in allowed and before.get(name) is not method
        }
        if foreign:
            raise UnsafeCheckpointError(
                f'{filename} replaces HistoryBuffer statistics methods '
                f'{sorted(foreign)}; refused')
    finally:
        methods.clear()
        methods.update(before)


def _reason(error: Exception) -> str:
    """The line of torch's long message that names the refused global."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    named = [line for line in lines if 'unsupported global' in line.lower()]
    return (named or lines or [repr(error)])[0]


def load_from_local(filename: str, map_location=None):
    """mmengine's local-file scheme (mmengine logs the name after
    ``load_from_``), served by :func:`load_checkpoint_file`."""
    return load_checkpoint_file(filename, map_location)


def register_safe_checkpoint_loader() -> None:
    """Make mmengine load local checkpoints through
    :func:`load_checkpoint_file` (idempotent)."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)
