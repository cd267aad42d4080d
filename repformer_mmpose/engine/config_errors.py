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

Given the ``--cfg-options`` (``DictAction``'s ``{key: value}``), a key
set on the command line is reported as such (``--cfg-options
model.neck.type=CrossScaleNek (on top of CONFIG): ...``) instead of being
blamed on the file, and a ``TypeError`` "unexpected keyword argument 'x'"
whose ``x`` an option introduced (a misspelt key) becomes
:class:`UnknownOptionKeyError` naming the option.
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

# mmengine.registry.build_functions: f'{obj_type} is not in the
# {registry.scope}::{registry.name} registry. ...'
_MMENGINE_MESSAGE = re.compile(
    r'^(?P<type>\S+) is not in the (?P<registry>\S+) registry\b')
# Python: "X.__init__() got an unexpected keyword argument 'name'"
_UNEXPECTED_KEYWORD = re.compile(r"unexpected keyword argument '(\w+)'")
_HINT = ('check the spelling, and that the module defining it is imported '
         '(custom_imports)')


class UnknownTypeError(KeyError):
    """A config names a ``type`` that is not registered.

    Args:
        config_file: The config file.
        type_name: The unknown type.
        registry: The registry it was looked up in (``scope::name``).
        keys: Config keys whose ``type`` is ``type_name``.
        detail: mmengine's original message.
        options: The ``--cfg-options`` (``key=value``) that set some of
            ``keys``; empty when all come from the file.
    """

    def __init__(self, config_file: str, type_name: str, registry: str,
                 keys: list[str], detail: str,
                 options: list[str] | None = None) -> None:
        self.config_file = config_file
        self.type_name = type_name
        self.registry = registry
        self.keys = keys
        self.options = list(options or [])
        from_options = {option.split('=', 1)[0] for option in self.options}
        by_option = [_set_by(key, from_options) for key in keys]
        source = config_file
        if keys and all(by_option):  # the command line's, not the file's
            source = (f'--cfg-options {" ".join(self.options)} (on top of '
                      f'{config_file})')
            by_option = [False] * len(keys)
        where = ', '.join(
            key + (' (set by --cfg-options)' if flag else '')
            for key, flag in zip(keys, by_option)
        ) or 'a key set outside the config file'
        self.message = (
            f'{source}: {where} = {type_name!r} is not in the {registry} '
            f'registry: {_HINT}. mmengine: {detail}')
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class UnknownOptionKeyError(TypeError):
    """A ``--cfg-options`` key that the built class does not take (a
    misspelt key: mmengine adds any key it is given)."""


def _dotted(key: str) -> str:
    """``a.b[0].c`` -> ``a.b.0.c`` (how ``--cfg-options`` writes it)."""
    return re.sub(r'\[(\d+)\]', r'.\1', key)


def _set_by(key: str, option_keys: set[str]) -> bool:
    """Whether an option key sets config key ``key`` (or a parent)."""
    key = _dotted(key)
    return any(key == option or key.startswith(option + '.')
               for option in option_keys)


def _options(cfg_options: Mapping | None, keys: list[str]) -> list[str]:
    """``key=value`` of the options that set any of ``keys``."""
    return [
        f'{option}={value}' for option, value in (cfg_options or {}).items()
        if any(_set_by(key, {option}) for key in keys)
    ]


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


def unknown_type_error(error: KeyError, cfg: Any, config_file: str,
                       cfg_options: Mapping | None = None
                       ) -> UnknownTypeError | None:
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
    keys = find_type_keys(data, type_name)
    return UnknownTypeError(config_file, type_name, match['registry'], keys,
                            detail, _options(cfg_options, keys))


def unknown_option_key_error(error: TypeError, config_file: str,
                             cfg_options: Mapping | None
                             ) -> UnknownOptionKeyError | None:
    """:class:`UnknownOptionKeyError` when ``error`` is an "unexpected
    keyword argument 'x'" and an option's last key is ``x``; else None."""
    match = _UNEXPECTED_KEYWORD.search(str(error))
    if match is None or isinstance(error, UnknownOptionKeyError):
        return None
    options = [f'{key}={value}' for key, value in (cfg_options or {}).items()
               if _dotted(key).split('.')[-1] == match[1]]
    if not options:
        return None
    return UnknownOptionKeyError(
        f'--cfg-options {" ".join(options)} (on top of {config_file}): '
        f'{error}; the option adds a key the class does not take: check '
        'its spelling')


@contextlib.contextmanager
def explain_unknown_types(cfg: Any, config_file: str,
                          cfg_options: Mapping | None = None
                          ) -> Iterator[None]:
    """Re-raise mmengine's "is not in the ... registry" errors raised in
    the block as :class:`UnknownTypeError` naming ``config_file`` (or the
    ``cfg_options`` that set the type) and the keys, and an unexpected
    keyword that an option introduced as :class:`UnknownOptionKeyError`.
    """
    try:
        yield
    except KeyError as error:
        explained = unknown_type_error(error, cfg, config_file, cfg_options)
        if explained is None:
            raise
        raise explained from error
    except TypeError as error:
        explained = unknown_option_key_error(error, config_file, cfg_options)
        if explained is None:
            raise
        raise explained from error
