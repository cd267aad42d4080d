"""Which checkpoint a Runner will resume or load, decided before it does.

mmengine's ``Runner.load_or_resume`` with ``resume=True`` and no
``load_from`` reads ``<work_dir>/last_checkpoint``; when there is none it
logs ``Auto resumed from the latest checkpoint None.`` and trains from
scratch, and a ``load_from`` naming a missing file fails only inside the
loader. :func:`checkpoint_source` makes the same decision up front and
says plainly what happens:

* a named checkpoint (``--resume PATH``, ``resume=True`` with
  ``load_from``, or ``load_from`` alone) must exist:
  :class:`CheckpointNotFoundError` otherwise;
* auto-resume uses the file ``last_checkpoint`` names; a pointer that is
  empty or names a missing file is an error, and so is a work dir with
  ``epoch_N.pth`` / ``iter_N.pth`` files but no pointer (say which one to
  resume);
* a work dir with neither: ``None``, and the caller warns that training
  starts from scratch.
"""
from __future__ import annotations

import os
import os.path as osp
import re
from typing import NamedTuple

POINTER = 'last_checkpoint'
_NUMBERED = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


class CheckpointNotFoundError(FileNotFoundError):
    """The checkpoint to resume or load does not exist."""

    def __str__(self) -> str:  # FileNotFoundError would add errno noise
        return str(self.args[0]) if self.args else ''


class CheckpointSource(NamedTuple):
    """What the Runner will load: ``path`` (None: nothing), ``resume``
    (resume the training state, or only load weights) and ``how`` it was
    chosen (for messages)."""
    path: str | None
    resume: bool
    how: str


def _is_remote(path: str) -> bool:
    return '://' in path


def numbered_checkpoints(work_dir: str) -> list[str]:
    """``epoch_N.pth`` / ``iter_N.pth`` in ``work_dir``, by number."""
    try:
        names = os.listdir(work_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = [(int(m[2]), name) for name in names
             if (m := _NUMBERED.match(name))]
    return [name for _, name in sorted(found)]


def latest_checkpoint(work_dir: str) -> str | None:
    """The checkpoint ``<work_dir>/last_checkpoint`` names, checked.

    Returns:
        The path, or None when the work dir has no pointer and no
        numbered checkpoint (nothing to resume).

    Raises:
        CheckpointNotFoundError: the pointer is empty or names a missing
            file, or checkpoints exist without a pointer.
    """
    pointer = osp.join(work_dir, POINTER)
    if not osp.isfile(pointer):
        found = numbered_checkpoints(work_dir)
        if found:
            raise CheckpointNotFoundError(
                f'resume: {work_dir} has {len(found)} checkpoint(s) '
                f'({", ".join(found[-3:])}) but no {POINTER} file saying '
                'which to resume; name one: --resume '
                f'{osp.join(work_dir, found[-1])}')
        return None
    with open(pointer, encoding='utf-8', errors='replace') as f:
        path = f.read().strip()
    if not path:
        raise CheckpointNotFoundError(
            f'resume: {pointer} is empty (a run killed while writing it?); '
            'name the checkpoint to resume: --resume PATH')
    if not _is_remote(path) and not osp.isfile(path):
        raise CheckpointNotFoundError(
            f'resume: {pointer} names {path}, which does not exist; name '
            'the checkpoint to resume: --resume PATH')
    return path


def checkpoint_source(work_dir: str, load_from: str | None,
                      resume: bool) -> CheckpointSource:
    """What ``Runner.load_or_resume`` will do with these settings.

    Raises:
        CheckpointNotFoundError: a named checkpoint does not exist, or the
            work dir's ``last_checkpoint`` is broken (see
            :func:`latest_checkpoint`).
    """
    if load_from is not None:
        load_from = os.fspath(load_from)
        key = 'resume' if resume else 'load_from'
        if not _is_remote(load_from) and not osp.isfile(load_from):
            raise CheckpointNotFoundError(
                f'{key}: checkpoint {load_from} not found'
                + (' (resume=True, load_from names the checkpoint to '
                   'resume)' if resume else ''))
        return CheckpointSource(load_from, resume, key)
    if not resume:
        return CheckpointSource(None, False, 'nothing to load')
    path = latest_checkpoint(work_dir)
    return CheckpointSource(path, path is not None,
                            f'{osp.join(work_dir, POINTER)}')
