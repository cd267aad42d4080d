"""Let MMPose import on ``mmcv-lite``, which ships no compiled ops.

``import mmpose.models`` imports MMPose's EDPose head, which imports
``mmcv.ops.MultiScaleDeformableAttention``; every module of ``mmcv.ops`` in
turn loads the compiled extension ``mmcv._ext`` at import time. RePFormer uses
no compiled op, so on ``mmcv-lite`` we register a stand-in ``mmcv._ext`` whose
attributes exist (the loaders only check ``hasattr``) but raise a clear error
when *called*. With a full mmcv the real extension is found first and nothing
is replaced.
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


def has_compiled_mmcv_ops() -> bool:
    """Whether a real (compiled) ``mmcv._ext`` imports.

    It is imported, not only looked up: a full mmcv built for another
    torch has an ``_ext`` that exists but fails to load (undefined
    symbols), which must count as "no compiled ops" too.
    """
    module = sys.modules.get(EXT_NAME)
    if module is not None:
        return not isinstance(module, _MissingExtModule)
    try:
        if importlib.util.find_spec(EXT_NAME) is None:
            return False
    except (ImportError, ValueError):
        return False
    try:
        importlib.import_module(EXT_NAME)
    except (ImportError, OSError) as error:
        warnings.warn(
            f'mmcv\'s compiled ops are installed but do not load ({error}); '
            'using the RePFormer stand-in. Rebuild mmcv for this torch to '
            'use them.',
            stacklevel=2)
        return False
    return True


def install_mmcv_ops_fallback() -> bool:
    """Register the stand-in ``mmcv._ext`` if no compiled one exists.

    Returns:
        bool: True if the stand-in was installed (now or earlier).
    """
    if has_compiled_mmcv_ops():
        return False
    if EXT_NAME not in sys.modules:
        module = _MissingExtModule(EXT_NAME)
        # A real spec keeps importlib/pkgutil look-ups from failing; the
        # loader stays None so `mmcv.utils.ext_loader.check_ops_exist()`
        # still reports, truthfully, that no compiled ops exist.
        module.__spec__ = importlib.machinery.ModuleSpec(EXT_NAME, None)
        sys.modules[EXT_NAME] = module
    return True
