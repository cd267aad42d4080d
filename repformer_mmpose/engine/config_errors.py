"""Name the config file and key of an unknown ``type`` in a config.

When a config names a class no registry knows (a typo, a missing
``custom_imports``), mmengine raises, at build time::

    KeyError: 'FaceDatset is not in the mmpose::dataset registry. Please
    check whether the value of `FaceDatset` is correct or it was registered
    as expected. More details can be found at https://...'

It names the type and the registry, but not the config file nor where in
it the type sits (a dataset may appear in three dataloaders, a transform in
several pipelines). :func:`explain_unknown_types` catches that error around
the build and re-raises it as :class:`UnknownTypeError` (a ``KeyError``, so
existing handlers still match) that adds the file and every config key
whose ``type`` is the unknown name, e.g.
``train_dataloader.dataset.type``. Other ``KeyError``s pass unchanged.
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

# mmengine.registry.build_functions: f'{obj_type} is not in the
# {registry.scope}::{registry.name} registry. ...'
_MMENGINE_MESSAGE = re.compile(
    r'^(?P<type>\S+) is not in the (?P<registry>\S+) registry\b')


class UnknownTypeError(KeyError):
    """A config names a ``type`` that is not registered.

    Args:
        config_file: The config file.
        type_name: The unknown type.
        registry: The registry it was looked up in (``scope::name``).
        keys: Config keys whose ``type`` is ``type_name``.
        detail: mmengine's original message.
    """

    def __init__(self, config_file: str, type_name: str, registry: str,
                 keys: list[str], detail: str) -> None:
        self.config_file = config_file
        self.type_name = type_name
        self.registry = registry
        self.keys = keys
        where = (', '.join(keys) if keys else
                 'a key set outside the config file')
        self.message = (
            f'{config_file}: {where} = {type_name!r} is not in the '
            f'{registry} registry: check the spelling, and that the module '
            f'defining it is imported (custom_imports). mmengine: {detail}')
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


def find_type_keys(cfg: Any, type_name: str, prefix: str = '') -> list[str]:
    """Dotted keys (``a.b[0].type``) of ``cfg`` whose value is
    ``type_name`` under a ``type`` key."""
    found: list[str] = []
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            path = f'{prefix}.{key}' if prefix else str(key)
            if key == 'type' and value == type_name:
                found.append(path)
            else:
                found += find_type_keys(value, type_name, path)
    elif isinstance(cfg, (list, tuple)):
        for index, value in enumerate(cfg):
            found += find_type_keys(value, type_name, f'{prefix}[{index}]')
    return found


def unknown_type_error(error: KeyError, cfg: Any,
                       config_file: str) -> UnknownTypeError | None:
    """The :class:`UnknownTypeError` for mmengine's registry ``KeyError``,
    or None for any other ``KeyError``."""
    if isinstance(error, UnknownTypeError) or not error.args:
        return None
    detail = str(error.args[0])
    match = _MMENGINE_MESSAGE.match(detail)
    if match is None:
        return None
    type_name = match['type']
    data = cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg
    return UnknownTypeError(config_file, type_name, match['registry'],
                            find_type_keys(data, type_name), detail)


@contextlib.contextmanager
def explain_unknown_types(cfg: Any, config_file: str) -> Iterator[None]:
    """Re-raise mmengine's "is not in the ... registry" errors raised in
    the block as :class:`UnknownTypeError` naming ``config_file`` and the
    keys."""
    try:
        yield
    except KeyError as error:
        explained = unknown_type_error(error, cfg, config_file)
        if explained is None:
            raise
        raise explained from error
