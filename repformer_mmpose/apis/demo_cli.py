"""One-line errors for the demos (``tools/demo/*_demo.py``).

A demo run as a command ends a user-facing failure with ``<demo>:
error: <one line naming the file and the cause>`` and exit status 1,
never a traceback: a missing or unreadable input, a checkpoint that is
missing, unreadable, unsafe (``UnsafeCheckpointError``) or does not fit
the config (``CheckpointMismatchError``), and a config that cannot be
read (syntax, parse errors) or built (unknown ``type``, unknown keyword).
Called as functions (``main(argv)``), the demos raise.
"""
from __future__ import annotations

import os.path as osp
import pickle
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from torch import nn

from ..engine.config_errors import (UnknownOptionKeyError, UnknownTypeError,
                                    explain_unknown_types)
from ..engine.safe_checkpoint import CheckpointReadError
from .model import init_face_model, load_config


class ConfigError(ValueError):
    """A config file cannot be read, or its model cannot be built."""


#: What a demo reports in one line (FileNotFoundError, ImageReadError,
#: CheckpointMismatchError, ModelConfigError are OSError/ValueError).
DEMO_ERRORS = (OSError, ValueError, UnknownTypeError, pickle.UnpicklingError,
               CheckpointReadError)


def one_line(error: BaseException) -> str:
    """``error``'s message on one line (a ``KeyError``'s without quotes,
    a ``SyntaxError`` with its file and line)."""
    if isinstance(error, SyntaxError) and error.filename:
        text = f'{error.filename}, line {error.lineno}: {error.msg}'
    elif type(error) is KeyError and error.args:
        text = str(error.args[0])
    else:
        text = str(error) or type(error).__name__
    return ' '.join(text.split())


def load_demo_model(config: str | Path, checkpoint: str | Path | None,
                    device: str = 'cpu',
                    cfg_options: Mapping | None = None) -> nn.Module:
    """:func:`init_face_model`, with config errors named.

    Raises:
        FileNotFoundError: if the config or the checkpoint is missing.
        ConfigError: if the config cannot be read or its model built
            (the message names the config file).
        UnknownTypeError: for an unregistered ``type`` (names the file or
            the ``--cfg-options`` and the key).
    """
    try:
        cfg = load_config(config, dict(cfg_options or {}))
    except FileNotFoundError:
        raise
    except Exception as error:  # noqa: BLE001  (a config is Python code)
        raise ConfigError(
            f'config {config} cannot be read: {one_line(error)}') from error
    try:
        with explain_unknown_types(cfg, str(config), cfg_options):
            return init_face_model(cfg, checkpoint, device)
    except UnknownOptionKeyError as error:
        raise ConfigError(one_line(error)) from error
    except (TypeError, AssertionError) as error:
        raise ConfigError(f'config {config}: the model cannot be built: '
                          f'{one_line(error)}') from error


def run_demo(main: Callable[[Sequence[str] | None], int],
             argv: Sequence[str] | None, program: str) -> int:
    """``main(argv)``; a :data:`DEMO_ERRORS` error becomes
    ``SystemExit('<program>: error: <one line>')`` (status 1)."""
    try:
        return main(argv)
    except DEMO_ERRORS as error:
        raise SystemExit(f'{osp.basename(program)}: error: '
                         f'{one_line(error)}') from None
