"""Install the RePFormer MMPose plugin: ``pip install .`` (or ``-e .``).

``install_requires`` holds what the plugin imports, with the ranges we test,
except two packages a user of MMPose already has and pip cannot be asked
for: MMPose itself (its declared chumpy does not build on Python >= 3.11,
so listing mmpose makes pip try to build it) and mmcv (``mmcv`` and
``mmcv-lite`` are two distributions of one package; either works). Both
are checked when the plugin is imported, with the command that installs
them. ``tools/setup_env.sh`` installs the whole pinned stack.

The wheel also puts ``repformer_mmcv_ext.pth`` into site-packages: one
line that lets ``mmcv.ops`` (and so ``mmpose.apis``) import on mmcv-lite in
any import order (see ``_repformer_mmcv_ext.py``); it does nothing with a
full mmcv.
"""
import os.path as osp

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    namespace: dict = {}
    with open(osp.join('repformer_mmpose', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_start_up_hook() -> tuple:
    """``(file name, text)`` of the start-up hook's .pth file."""
    namespace: dict = {}
    with open(osp.join(HERE, '_repformer_mmcv_ext.py')) as f:
        exec(f.read(), namespace)
    return namespace['PTH_NAME'], namespace['PTH_TEXT']


class BuildPyWithStartUpHook(build_py):
    """``build_py`` that also writes the start-up hook's .pth file at the
    root of the build (so of the wheel, so of site-packages)."""

    def run(self) -> None:
        super().run()
        name, text = read_start_up_hook()
        with open(osp.join(self.build_lib, name), 'w') as f:
            f.write(text)

    def get_outputs(self, include_bytecode: bool = True) -> list:
        return super().get_outputs(include_bytecode) + [
            osp.join(self.build_lib, read_start_up_hook()[0])]


class EditableWheelWithStartUpHook(editable_wheel):
    """``pip install -e .``: the same .pth file in the editable wheel
    (setuptools >= 64 writes every file of this folder into it)."""

    def _install_namespaces(self, installation_dir, pth_prefix) -> None:
        super()._install_namespaces(installation_dir, pth_prefix)
        name, text = read_start_up_hook()
        with open(osp.join(installation_dir, name), 'w') as f:
            f.write(text)


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
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['repformer_mmpose', 'repformer_mmpose.*']),
    # the start-up hook that lets mmcv.ops import on mmcv-lite, and its
    # .pth file (BuildPyWithStartUpHook)
    py_modules=['_repformer_mmcv_ext'],
    cmdclass=dict(build_py=BuildPyWithStartUpHook,
                  editable_wheel=EditableWheelWithStartUpHook),
    python_requires='>=3.9,<3.13',
    install_requires=read_requirements('plugin.txt'),
    extras_require=dict(tests=read_requirements('tests.txt')),
    license='Apache-2.0',
    zip_safe=False,
)
