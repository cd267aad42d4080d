"""Start-up hook: MMPose's APIs import on mmcv-lite, in any import order.

mmcv-lite ships no compiled ops (``mmcv._ext``), and every ``mmcv.ops``
module loads them when imported, so a script that starts with
``from mmpose.apis import MMPoseInferencer`` dies with ``No module named
'mmcv._ext'`` unless ``repformer_mmpose`` (which registers a stand-in, see
``repformer_mmpose/utils/mmcv_ops_fallback.py``) was imported first.

Installing the package (``pip install .`` or ``-e .``; ``setup.py`` adds
the file to both wheels) puts ``repformer_mmcv_ext.pth`` into the
environment's site-packages; ``python -m _repformer_mmcv_ext install``
writes it by hand. At every interpreter
start Python runs that file's one line: it imports this module (stdlib
only, nothing else is imported) and appends :class:`MMCVExtFinder` to the
end of ``sys.meta_path``. The finder answers only ``mmcv._ext``, and only
when no finder before it found one: with a full mmcv the compiled
extension is found by Python's path finder first and the finder is never
asked. When it is asked, it loads the stand-in's module (stdlib only) from
the installed ``repformer_mmpose`` without running the package's
``__init__``, which imports mmpose (that import is under way).

    python -m _repformer_mmcv_ext install   # write the .pth file
    python -m _repformer_mmcv_ext remove    # delete it
    python -m _repformer_mmcv_ext status    # where it is, if it is there

``--site-dir DIR`` chooses another folder. A ``.pth`` left behind after
``pip uninstall repformer-mmpose`` does nothing (its line checks that this
module is still importable).
"""
from __future__ import annotations

import sys

EXT_NAME = 'mmcv._ext'
FALLBACK_MODULE = 'repformer_mmpose.utils.mmcv_ops_fallback'
PTH_NAME = 'repformer_mmcv_ext.pth'
PTH_TEXT = (
    '# repformer-mmpose: lets mmcv.ops (and so mmpose.apis) import on\n'
    '# mmcv-lite, which has no compiled mmcv._ext; does nothing with a\n'
    '# full mmcv. Installed with repformer-mmpose (pip); removed by\n'
    '# pip uninstall repformer-mmpose, or by python -m _repformer_mmcv_ext\n'
    '# remove.\n'
    "import importlib.util as u; u.find_spec('_repformer_mmcv_ext') and "
    "__import__('_repformer_mmcv_ext').install()\n")


def _fallback_module():
    """``repformer_mmpose.utils.mmcv_ops_fallback``, loaded from its file
    under its own name if need be (so ``repformer_mmpose`` uses the same
    module later), or None if ``repformer_mmpose`` is not installed."""
    module = sys.modules.get(FALLBACK_MODULE)
    if module is not None:
        return module
    import importlib.util
    import os.path

    package = importlib.util.find_spec('repformer_mmpose')  # imports nothing
    if package is None or not package.submodule_search_locations:
        return None
    path = os.path.join(
        list(package.submodule_search_locations)[0], 'utils',
        'mmcv_ops_fallback.py')
    if not os.path.isfile(path):
        return None
    spec = importlib.util.spec_from_file_location(FALLBACK_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[FALLBACK_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[FALLBACK_MODULE]
        raise
    return module


class MMCVExtFinder:
    """Meta-path finder of the stand-in ``mmcv._ext``, asked last."""

    @classmethod
    def find_spec(cls, fullname: str, path=None, target=None):
        if fullname != EXT_NAME:
            return None
        fallback = _fallback_module()
        return None if fallback is None else fallback.stand_in_spec()


def install() -> None:
    """Append :class:`MMCVExtFinder` to ``sys.meta_path`` (once)."""
    if MMCVExtFinder not in sys.meta_path:
        sys.meta_path.append(MMCVExtFinder)


def uninstall() -> None:
    """Take :class:`MMCVExtFinder` off ``sys.meta_path``."""
    while MMCVExtFinder in sys.meta_path:
        sys.meta_path.remove(MMCVExtFinder)


def _pth_path(site_dir: str | None):
    import sysconfig
    from pathlib import Path

    return Path(site_dir or sysconfig.get_paths()['purelib']) / PTH_NAME


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog='python -m _repformer_mmcv_ext',
        description='Install or remove the start-up hook that lets mmcv.ops '
        'import on mmcv-lite.')
    parser.add_argument('command', choices=['install', 'remove', 'status'])
    parser.add_argument(
        '--site-dir',
        help='the folder of the .pth file (default: this environment\'s '
        'site-packages)')
    args = parser.parse_args(argv)
    pth = _pth_path(args.site_dir)
    if args.command == 'install':
        pth.write_text(PTH_TEXT)
        print(f'installed {pth}')
    elif args.command == 'remove':
        existed = pth.is_file()
        pth.unlink(missing_ok=True)
        print(f'removed {pth}' if existed else f'not installed: {pth}')
    else:
        installed = pth.is_file() and pth.read_text() == PTH_TEXT
        print(f'{"installed" if installed else "not installed"}: {pth}')
        return 0 if installed else 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
