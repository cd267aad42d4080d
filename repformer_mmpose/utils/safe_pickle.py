"""Read pickles without running code from them.

Kept, not replaced by JSON: the pickles read are the ``.pkl`` files of
mmengine's ``DumpResults`` that MMPose's ``tools/test.py --dump`` writes.

``pickle.load`` calls whatever global a file names (``os.system`` with
any argument, for one), so a crafted ``predictions.pkl`` runs code when it
is read. Every pickle the plugin reads (mmengine ``DumpResults`` files:
``tools/analysis/report.py``, ``nme_by_source.py``, the ablation runner,
the main job) goes through :func:`load_restricted_pickle`, whose
unpickler resolves only an allow-list of globals and refuses any other
with :class:`UnsafePickleError`, naming the file and the global, before
anything is called.

The allow-list is what ``DumpResults`` writes for MMPose's and our
models (checked on real dumps of ``tools/test.py --out``): builtin
containers, numbers and strings need no global; numpy arrays, scalars
and dtypes need ``numpy.ndarray``, ``numpy.dtype`` and numpy's
reconstruction helpers; protocol 2 writes ``bytes`` as
``_codecs.encode(text, 'latin1')``, which is answered by a stand-in that
does only that. No torch type is allowed: a dump holds none, and torch's
storage helpers can load further pickles.

:func:`numpy_globals` is shared with the checkpoint loader
(:mod:`repformer_mmpose.engine.safe_checkpoint`); the two allow-lists are
otherwise separate.
"""
from __future__ import annotations

import _compat_pickle
import collections
import io
import os.path as osp
import pickle
from typing import Any

import numpy as np

#: Builtins a dump may need besides the containers pickle builds itself.
_BUILTINS = (bytes, bytearray, set, frozenset, complex)


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global outside the allow-list (not loaded)."""


class PickleReadError(ValueError):
    """A file cannot be read as a pickle (empty, truncated, corrupt)."""


def numpy_globals() -> list:
    """numpy objects that pickled arrays, scalars and dtypes need (numpy
    1.x and 2.x): classes, and ``(function, 'module.name')`` pairs, as
    ``torch.serialization.safe_globals`` takes them."""
    allowed: list = [np.ndarray, np.dtype]
    allowed += [type(np.dtype(name)) for name in (
        'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
        'uint32', 'uint64', 'float16', 'float32', 'float64')]
    for module_name in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        try:
            module = __import__(module_name, fromlist=['_reconstruct'])
        except ImportError:
            continue
        for attr in ('_reconstruct', 'scalar'):
            allowed.append((getattr(module, attr), f'{module_name}.{attr}'))
    return allowed


def _latin1_bytes(text: str, encoding: str = 'latin1') -> bytes:
    """Stands in for ``_codecs.encode``: protocol 2 pickles ``bytes`` as
    ``_codecs.encode(text, 'latin1')``; nothing else is answered."""
    if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
        raise UnsafePickleError(
            f'_codecs.encode({type(text).__name__}, {encoding!r}) refused; '
            "only the protocol 2 bytes form (text, 'latin1') is allowed")
    return text.encode('latin1')


def _frombuffer(buffer, dtype, shape, order):
    """numpy's protocol 5 array reconstructor, re-implemented."""
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)


def dump_globals() -> dict[tuple[str, str], Any]:
    """``{(module, name): object}``: every global a predictions dump may
    name."""
    allowed: dict[tuple[str, str], Any] = {}
    for entry in numpy_globals():
        obj, name = entry if isinstance(entry, tuple) else (
            entry, f'{entry.__module__}.{entry.__qualname__}')
        module, _, attr = name.rpartition('.')
        allowed[(module, attr)] = obj
    for module in ('numpy.core.numeric', 'numpy._core.numeric'):
        allowed[(module, '_frombuffer')] = _frombuffer
    for kind in _BUILTINS:
        allowed[('builtins', kind.__name__)] = kind
    allowed[('collections', 'OrderedDict')] = collections.OrderedDict
    allowed[('_codecs', 'encode')] = _latin1_bytes
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :func:`dump_globals`.

    Args:
        file: A binary file object.
        name (str): The file's name, for messages.
    """

    def __init__(self, file: io.BufferedIOBase, name: str) -> None:
        super().__init__(file)
        self.name = name
        self.allowed = dump_globals()

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names (protocol < 3 writes ``__builtin__.set``)
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        found = self.allowed.get((module, name))
        if found is None:
            raise UnsafePickleError(
                f'{self.name}: refused to unpickle the global '
                f'{module}.{name}; a predictions dump holds only numpy '
                'arrays, scalars and dtypes, builtin containers, numbers '
                'and strings (nothing in the file was run)')
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(
            f'{self.name}: refused a persistent id ({str(pid)[:40]!r}); a '
            'predictions dump has none (is it a torch checkpoint?)')


def load_restricted_pickle(path: str) -> Any:
    """The object pickled in ``path``, read by :class:`RestrictedUnpickler`.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        UnsafePickleError: if the file names a global outside the
            allow-list (nothing from the file is called).
        PickleReadError: if the file is empty, truncated or not a pickle.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'pickle file {path} not found')
    with open(path, 'rb') as file:
        try:
            return RestrictedUnpickler(file, path).load()
        except UnsafePickleError as error:
            if str(error).startswith(f'{path}: '):
                raise
            raise UnsafePickleError(f'{path}: {error}') from None
        except Exception as error:  # noqa: BLE001  (any decoding failure)
            reason = (str(error).splitlines() or [''])[0] or type(
                error).__name__
            raise PickleReadError(
                f'{path} ({osp.getsize(path)} bytes) cannot be read as a '
                f'pickle: {reason}') from error
