"""Our ``tools/train.py`` and ``tools/test.py`` are MMPose's, plus a few
flags: every flag of MMPose's own script is parsed and merged into the
config by that script's ``parse_args`` and ``merge_args`` (loaded from
``mmpose/.mim/tools``, which MMPose's wheel ships), and ours are parsed
first and applied after."""
from __future__ import annotations

import argparse
import importlib.util
import os.path as osp
import sys
from types import ModuleType

from mmengine.config import Config


def load_mmpose_tool(name: str) -> ModuleType:
    """MMPose's ``tools/<name>.py`` as a module."""
    import mmpose
    path = osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools',
                    f'{name}.py')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'MMPose\'s {name} script not found at {path}: install mmpose '
            'from its wheel or source (it ships mmpose/.mim/tools)')
    spec = importlib.util.spec_from_file_location(f'_mmpose_tools_{name}',
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_tool_args(tool: ModuleType, ours: argparse.ArgumentParser,
                    argv: list[str] | None, prog: str) -> argparse.Namespace:
    """Our flags (``ours``, built with ``add_help=False`` and
    ``allow_abbrev=False``, so that no MMPose flag reads as a prefix of
    ours) and every flag
    of MMPose's ``tool``, in one namespace. ``--help`` prints ours, then
    MMPose's."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if '-h' in argv or '--help' in argv:
        ours.print_help()
        print(f'\nand every flag of MMPose\'s {prog}:\n')
    known, rest = ours.parse_known_args(argv)
    saved = sys.argv
    sys.argv = [prog, *rest]
    try:
        mmpose_args = tool.parse_args()  # exits with MMPose's usage
    finally:
        sys.argv = saved
    return argparse.Namespace(**vars(mmpose_args), **vars(known))


DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def set_data_root(cfg: Config, data_root: str) -> None:
    """Point the datasets of every data loader at ``data_root`` (the
    annotation files and image folders stay relative to it), and the
    config's ``data_root`` variable too."""
    data_root = osp.join(data_root, '')
    cfg.data_root = data_root
    for name in DATALOADERS:
        loader = cfg.get(name)
        if not loader:
            continue
        datasets = [loader.dataset]
        while datasets:
            dataset = datasets.pop()
            if 'datasets' in dataset:  # ConcatDataset and the like
                datasets.extend(dataset.datasets)
            elif 'dataset' in dataset:  # RepeatDataset and the like
                datasets.append(dataset.dataset)
            else:
                dataset.data_root = data_root
