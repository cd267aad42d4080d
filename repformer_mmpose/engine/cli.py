"""One-line command-line errors for checkpoints that cannot be used.

The tools wrap their ``main`` in :func:`exit_on_checkpoint_errors`: a
missing checkpoint, one that does not fit the config, an unreadable one, or
one refused as unsafe (it needs a pickled global outside the allow-list)
ends the command with ``<tool>: error: <message>`` on one line (exit status
1), not a traceback. Called as functions (``main(argv)``), the tools
raise.
"""
from __future__ import annotations

import contextlib
import os.path as osp
import sys
from collections.abc import Iterator

from .checkpoint_fit import CheckpointMismatchError
from .resume_source import CheckpointNotFoundError
from .safe_checkpoint import CheckpointReadError, UnsafeCheckpointError

CHECKPOINT_ERRORS = (CheckpointMismatchError, CheckpointNotFoundError,
                     CheckpointReadError, UnsafeCheckpointError)


@contextlib.contextmanager
def exit_on_checkpoint_errors(program: str) -> Iterator[None]:
    """Turn :data:`CHECKPOINT_ERRORS` raised in the block into
    ``sys.exit('<program>: error: <message>')``, the message on one
    line."""
    try:
        yield
    except CHECKPOINT_ERRORS as error:
        message = ' '.join(str(error).split())
        sys.exit(f'{osp.basename(program)}: error: {message}')
