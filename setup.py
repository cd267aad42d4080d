"""Install the RePFormer MMPose plugin (``pip install -e .``).

The OpenMMLab stack is not declared in ``install_requires``: MMPose depends on
chumpy, which does not build on Python 3.11, so ``tools/setup_env.sh`` installs
the pinned stack from ``requirements/`` first (mmpose/mmdet/mmpretrain with
``--no-deps``) and this package with ``--no-deps`` after it.
"""
import os.path as osp

from setuptools import find_packages, setup


def read_version() -> str:
    namespace: dict = {}
    with open(osp.join('repformer_mmpose', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_requirements(name: str) -> list:
    path = osp.join('requirements', name)
    with open(path) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


setup(
    name='repformer-mmpose',
    version=read_version(),
    description='RePFormer: Refinement Pyramid Transformer for robust facial '
    'landmark detection, as an MMPose plugin',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['repformer_mmpose', 'repformer_mmpose.*']),
    # the start-up hook that lets mmcv.ops import on mmcv-lite; its .pth
    # file is written by `python -m _repformer_mmcv_ext install`
    # (tools/setup_env.sh), since editable installs do not ship .pth files
    py_modules=['_repformer_mmcv_ext'],
    python_requires='>=3.9',
    extras_require=dict(
        runtime=read_requirements('runtime.txt'),
        openmmlab=read_requirements('openmmlab.txt'),
        tests=read_requirements('tests.txt')),
    license='Apache-2.0',
    zip_safe=False,
)
