"""One-line command-line errors for checkpoints that cannot be used.

The tools wrap their ``main`` in :func:`exit_on_checkpoint_errors`: a
missing checkpoint, one that does not fit the config, or an unreadable one
ends the command with ``<tool>: error: <message>`` (exit status 1), not a
traceback. Called as functions (``main(argv)``), the tools raise.
"""
from __future__ import annotations

import contextlib
import os.path as osp
import sys
from collections.abc import Iterator

from .checkpoint_fit import CheckpointMismatchError
from .resume_source import CheckpointNotFoundError
from .safe_checkpoint import CheckpointReadError

CHECKPOINT_ERRORS = (CheckpointMismatchError, CheckpointNotFoundError,
                     CheckpointReadError)


@contextlib.contextmanager
def exit_on_checkpoint_errors(program: str) -> Iterator[None]:
    """Turn :data:`CHECKPOINT_ERRORS` raised in the block into
    ``sys.exit('<program>: error: <message>')``."""
    try:
        yield
    except CHECKPOINT_ERRORS as error:
        sys.exit(f'{osp.basename(program)}: error: {error}')
