"""Train a pose model with an mmengine config (MMPose's tools/train.py, thin).

Example::

    python tools/train.py configs/repformer/300w/\
repformer_res18_1xb16-360e_300w-256x256.py \
        --cfg-options train_dataloader.dataset.data_root=data/300w/
"""
from __future__ import annotations

import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import repformer_mmpose  # noqa: F401  (registers the plugin, mmcv fallback)
from repformer_mmpose.engine import (add_checkpoint_guard,
                                     exit_on_checkpoint_errors,
                                     explain_unknown_types)
from repformer_mmpose.engine.recipes import use_amp, use_channels_last


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a pose model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or, with no value, from the '
        'latest checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision: AmpOptimWrapper on a GPU, bf16 '
        'autocast (no loss scaler) on a CPU')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='channels-last convolutions (ChannelsLastHook); the maths is '
        'unchanged')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate with the total batch size')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, xxx=yyy')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args: argparse.Namespace) -> Config:
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs',
        osp.splitext(osp.basename(args.config))[0])
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.amp:
        use_amp(cfg)
    if args.channels_last:
        use_channels_last(cfg)
    if cfg.launcher == 'pytorch' and not torch.cuda.is_available():
        use_cpu_process_group(cfg)
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
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
