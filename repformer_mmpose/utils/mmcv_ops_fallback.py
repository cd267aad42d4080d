"""Let MMPose import on ``mmcv-lite``, which ships no compiled ops.

``import mmpose.models`` imports MMPose's EDPose head, which imports
``mmcv.ops.MultiScaleDeformableAttention``; every module of ``mmcv.ops`` in
turn loads the compiled extension ``mmcv._ext`` at import time. RePFormer uses
no compiled op, so on ``mmcv-lite`` we register a stand-in ``mmcv._ext`` whose
attributes exist (the loaders only check ``hasattr``) but raise a clear error
when *called*. With a full mmcv the real extension is found first and nothing
is replaced.

Importing ``repformer_mmpose`` registers the stand-in. So that MMPose's own
APIs work in any import order (``from mmpose.apis import MMPoseInferencer``
first), ``tools/setup_env.sh`` also installs a start-up hook
(``_repformer_mmcv_ext.py`` at the repository root) whose import-system
finder builds the stand-in from :func:`stand_in_spec` when ``mmcv._ext`` is
imported and not found. This module imports only the standard library: the
hook loads it on its own, during mmpose's import.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
import warnings

EXT_NAME = 'mmcv._ext'


class MissingMMCVOpError(RuntimeError):
    """Raised when a compiled mmcv op is called on an mmcv-lite install."""


def _missing_op(name: str):

    def op(*args, **kwargs):
        raise MissingMMCVOpError(
            f'mmcv op {name!r} needs the compiled extension `mmcv._ext`, '
            'which mmcv-lite does not ship. RePFormer does not use it; for '
            'models that do, install the full mmcv 2.1.0 (see README, '
            '"Installation").')

    op.__name__ = name
    return op


class _MissingExtModule(types.ModuleType):

    def __getattr__(self, name: str):
        if name.startswith('__'):
            raise AttributeError(name)
        return _missing_op(name)


def _loaderless_spec() -> importlib.machinery.ModuleSpec:
    # A real spec keeps importlib/pkgutil look-ups from failing; the loader
    # stays None so `mmcv.utils.ext_loader.check_ops_exist()` still
    # reports, truthfully, that no compiled ops exist.
    return importlib.machinery.ModuleSpec(EXT_NAME, None)


class _StandInLoader:
    """Import-system loader of the stand-in (for the start-up hook)."""

    @staticmethod
    def create_module(spec) -> _MissingExtModule:
        return _MissingExtModule(EXT_NAME)

    @staticmethod
    def exec_module(module: _MissingExtModule) -> None:
        module.__spec__ = _loaderless_spec()
        module.__loader__ = None


def stand_in_spec() -> importlib.machinery.ModuleSpec:
    """A spec from which the import system builds the stand-in
    ``mmcv._ext`` (what the start-up hook's finder returns)."""
    return importlib.machinery.ModuleSpec(EXT_NAME, _StandInLoader())


def has_compiled_mmcv_ops() -> bool:
    """Whether a real (compiled) ``mmcv._ext`` imports.

    It is imported, not only looked up: a full mmcv built for another
    torch has an ``_ext`` that exists but fails to load (undefined
    symbols), which must count as "no compiled ops" too.
    """
    module = sys.modules.get(EXT_NAME)
    if module is None:
        try:
            if importlib.util.find_spec(EXT_NAME) is None:
                return False
        except (ImportError, ValueError):
            return False
        try:
            # the start-up hook's finder answers with the stand-in
            module = importlib.import_module(EXT_NAME)
        except (ImportError, OSError) as error:
            warnings.warn(
                f'mmcv\'s compiled ops are installed but do not load '
                f'({error}); using the RePFormer stand-in. Rebuild mmcv for '
                'this torch to use them.',
                stacklevel=2)
            return False
    return not isinstance(module, _MissingExtModule)


def install_mmcv_ops_fallback() -> bool:
    """Register the stand-in ``mmcv._ext`` if no compiled one exists.

    Returns:
        bool: True if the stand-in was installed (now or earlier).
    """
    if has_compiled_mmcv_ops():
        return False
    if EXT_NAME not in sys.modules:
        module = _MissingExtModule(EXT_NAME)
        module.__spec__ = _loaderless_spec()
        sys.modules[EXT_NAME] = module
    return True
