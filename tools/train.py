"""Train a pose model: MMPose's ``tools/train.py``, every flag of it, plus
``--channels-last`` and ``--data-root``; ``--amp`` also works on a CPU.

Example::

    python tools/train.py configs/repformer/300w/\
repformer_res18_1xb16-360e_300w-256x256.py --data-root data/300w/

MMPose's flags (``--work-dir``, ``--resume``, ``--amp``, ``--no-validate``,
``--auto-scale-lr``, ``--show-dir``, ``--show``, ``--interval``,
``--wait-time``, ``--cfg-options``, ``--launcher``) are parsed and merged by
MMPose's own script. ``--amp`` on a machine without a GPU trains with bf16
autocast (``BF16AutocastOptimWrapper``; mmengine's ``AmpOptimWrapper``
refuses CPUs). ``--cfg-options`` come last, as in MMPose.
"""
from __future__ import annotations

import repformer_mmpose  # noqa: F401  (first: registers the plugin, quiets mmengine)
import argparse

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from repformer_mmpose.engine import (add_checkpoint_guard,
                                     exit_on_checkpoint_errors,
                                     explain_unknown_types)
from repformer_mmpose.engine.mmpose_tools import (load_mmpose_tool,
                                                  parse_tool_args,
                                                  set_data_root)
from repformer_mmpose.engine.recipes import use_amp, use_channels_last

MMPOSE_TRAIN = load_mmpose_tool('train')


def our_flags() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description='Train a pose model (MMPose\'s tools/train.py with the '
        'RePFormer plugin)', add_help=False, allow_abbrev=False)
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='channels-last convolutions (ChannelsLastHook); the maths is '
        'unchanged')
    parser.add_argument(
        '--data-root',
        help='the data root of the training, validation and test sets '
        '(annotation files and images stay relative to it)')
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return parse_tool_args(MMPOSE_TRAIN, our_flags(), argv, 'train.py')


def build_config(args: argparse.Namespace) -> Config:
    cfg = Config.fromfile(args.config)
    if args.data_root:
        set_data_root(cfg, args.data_root)
    cfg = MMPOSE_TRAIN.merge_args(cfg, args)
    if args.amp:  # MMPose set AmpOptimWrapper, which refuses CPUs
        use_amp(cfg)
    if args.channels_last:
        use_channels_last(cfg)
    if cfg.launcher == 'pytorch' and not torch.cuda.is_available():
        use_cpu_process_group(cfg)
    # a checkpoint to resume/load must exist and fit the model
    add_checkpoint_guard(cfg)
    return cfg


def use_cpu_process_group(cfg: Config) -> None:
    """Distributed training without a GPU (gloo): mmengine's
    ``init_dist`` calls ``torch.cuda.set_device``, so the group is started
    here and the Runner uses it; DDP wraps a CPU module (no
    ``device_ids``)."""
    import torch.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', find_unused_parameters=cfg.get(
            'find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cfg = build_config(args)
    # an unknown `type` names this file (or the --cfg-options) and the key
    with explain_unknown_types(cfg, args.config, args.cfg_options):
        Runner.from_cfg(cfg).train()


if __name__ == '__main__':
    with exit_on_checkpoint_errors(__file__):
        main()
