from .safe_checkpoint import (UnsafeCheckpointError, load_checkpoint_file,
                              register_safe_checkpoint_loader)

register_safe_checkpoint_loader()

__all__ = [
    'UnsafeCheckpointError', 'load_checkpoint_file',
    'register_safe_checkpoint_loader'
]
