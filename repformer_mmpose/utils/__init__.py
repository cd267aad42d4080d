from .mmcv_ops_fallback import (MissingMMCVOpError, has_compiled_mmcv_ops,
                                install_mmcv_ops_fallback)

__all__ = [
    'MissingMMCVOpError', 'has_compiled_mmcv_ops', 'install_mmcv_ops_fallback'
]
