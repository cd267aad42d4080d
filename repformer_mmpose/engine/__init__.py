"""Engine pieces: safe checkpoint loading and atomic writing, checks of
what a Runner loads and resumes (fit, existence), exact resumes (per-epoch
seeds), checkpoint rotation that keeps the last good file, the non-finite
loss guard (optimizer wrapper + hook), config error messages."""
from .atomic_file_backend import (AtomicLocalBackend,
                                  register_atomic_local_backend)
from .checkpoint_fit import (CheckpointMismatchError, check_state_dict,
                             checkpoint_state_dict)
from .cli import CHECKPOINT_ERRORS, exit_on_checkpoint_errors
from .config_errors import UnknownTypeError, explain_unknown_types
from .hooks import (CheckpointGuardHook, EpochSeedHook, NonFiniteLossHook,
                    SafeCheckpointHook, add_checkpoint_guard)
from .optim_wrappers import (FiniteLossGuard,
                             NonFiniteFault, NonFiniteLossError,
                             finite_loss_guard, install_finite_loss_guard)
from .resume_source import CheckpointNotFoundError, checkpoint_source
from .safe_checkpoint import (CheckpointReadError, UnsafeCheckpointError,
                              load_checkpoint_file,
                              register_safe_checkpoint_loader)

register_safe_checkpoint_loader()
register_atomic_local_backend()

__all__ = [
    'AtomicLocalBackend', 'CHECKPOINT_ERRORS', 'CheckpointGuardHook',
    'CheckpointMismatchError', 'CheckpointNotFoundError',
    'CheckpointReadError', 'EpochSeedHook', 'FiniteLossGuard',
    'finite_loss_guard',
    'install_finite_loss_guard',
    'NonFiniteFault', 'NonFiniteLossError', 'NonFiniteLossHook',
    'SafeCheckpointHook', 'UnknownTypeError', 'UnsafeCheckpointError',
    'add_checkpoint_guard', 'check_state_dict', 'checkpoint_source',
    'checkpoint_state_dict', 'exit_on_checkpoint_errors',
    'explain_unknown_types', 'load_checkpoint_file',
    'register_atomic_local_backend', 'register_safe_checkpoint_loader'
]
