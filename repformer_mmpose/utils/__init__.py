from .atomic_write import (OutputIsInputError, atomic_open, atomic_path,
                           refuse_input_as_output, remove_stale_temporaries,
                           stale_temporaries, write_bytes_atomic,
                           write_text_atomic)
# bound by name too: the start-up hook may have loaded the module before
# this package (see _repformer_mmcv_ext.py), which leaves it unbound here
from . import mmcv_ops_fallback
from .mmcv_ops_fallback import (MissingMMCVOpError, has_compiled_mmcv_ops,
                                install_mmcv_ops_fallback)

__all__ = [
    'MissingMMCVOpError', 'OutputIsInputError', 'atomic_open', 'atomic_path',
    'refuse_input_as_output',
    'has_compiled_mmcv_ops', 'install_mmcv_ops_fallback',
    'remove_stale_temporaries', 'stale_temporaries', 'write_bytes_atomic',
    'write_text_atomic'
]
