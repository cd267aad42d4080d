"""RePFormer (Refinement Pyramid Transformer) as an MMPose plugin.

Importing this package registers its components in MMPose's registries
(``custom_imports=dict(imports=['repformer_mmpose'])`` in a config does it).
On ``mmcv-lite`` a stand-in for mmcv's compiled ops is registered first so
that ``mmpose.models`` imports; see
:mod:`repformer_mmpose.utils.mmcv_ops_fallback`.
"""
import warnings

# mmengine 0.10 imports pkg_resources, which setuptools marks deprecated: a
# notice at every start that a user cannot act on (import this package
# before mmengine to silence it; MMPose's own tools import mmengine first)
warnings.filterwarnings('ignore', 'pkg_resources is deprecated',
                        UserWarning)

from .utils.mmcv_ops_fallback import install_mmcv_ops_fallback  # noqa: E402

install_mmcv_ops_fallback()

from . import codecs, datasets, engine, evaluation, models  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__']
