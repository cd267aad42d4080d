"""Engine pieces: safe checkpoint loading and atomic writing, the
non-finite loss guard (optimizer wrapper + hook), config error messages."""
from .atomic_file_backend import (AtomicLocalBackend,
                                  register_atomic_local_backend)
from .config_errors import UnknownTypeError, explain_unknown_types
from .hooks import NonFiniteLossHook
from .optim_wrappers import (FiniteLossOptimWrapper, NonFiniteFault,
                             NonFiniteLossError)
from .safe_checkpoint import (CheckpointReadError, UnsafeCheckpointError,
                              load_checkpoint_file,
                              register_safe_checkpoint_loader)

register_safe_checkpoint_loader()
register_atomic_local_backend()

__all__ = [
    'AtomicLocalBackend', 'CheckpointReadError', 'FiniteLossOptimWrapper',
    'NonFiniteFault', 'NonFiniteLossError', 'NonFiniteLossHook',
    'UnknownTypeError', 'UnsafeCheckpointError', 'explain_unknown_types',
    'load_checkpoint_file', 'register_atomic_local_backend',
    'register_safe_checkpoint_loader'
]
