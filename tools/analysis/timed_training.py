"""Train a config for a wall-time budget, test it, print one Markdown table.

    python tools/analysis/timed_training.py CONFIG --seconds 300 \
        [--amp bf16] [--channels-last] [--workers 8] [--work-dir DIR] \
        [--max-iters N] [--max-epochs N]

Trains for as many whole epochs as fit in ``--seconds`` (at most the
config's ``max_epochs``; :class:`~repformer_mmpose.engine.hooks.
time_budget.TimeBudgetHook` times the first iterations and shortens the
schedule, the cosine decay included), then tests the last weights with
``FaceLandmarkMetric`` (every refinement stage). Prints the epochs, the
training wall time and images per second, NME, FR, AUC and the stages.
``--max-iters N`` trains N iterations only (a dry run). The GPU check
(``tools/analysis/gpu_check.sh``) runs it.
"""
from __future__ import annotations

import repformer_mmpose  # noqa: F401  (first: registers the plugin, quiets mmengine)
import argparse
import os.path as osp
import platform
import sys
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from repformer_mmpose.engine.hooks.time_budget import TimeBudgetHook
from repformer_mmpose.engine.recipes import use_amp, use_channels_last
from repformer_mmpose.evaluation.eval_config import (face_metric_of,
                                                     use_face_metric)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('--seconds', type=float, default=300.,
                        help='training budget (default 300)')
    parser.add_argument('--amp', choices=['none', 'bf16', 'fp16'],
                        default='none',
                        help='mixed precision (CPU: bf16 only)')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last convolutions')
    parser.add_argument('--workers', type=int, default=0,
                        help='data loader workers (default: the config\'s '
                        'when 0)')
    parser.add_argument('--max-iters', type=int, default=0,
                        help='train only this many iterations (dry run)')
    parser.add_argument('--max-epochs', type=int, default=0,
                        help="the most epochs the budget may give (default: "
                        "the config's max_epochs); raise it to train a "
                        'faster model for longer than its config')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--work-dir', default='work_dirs/timed_training')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={})
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> Config:
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir
    cfg.randomness = dict(seed=args.seed, deterministic=False)
    cfg.load_from, cfg.resume = None, False
    if args.amp != 'none':
        use_amp(cfg, 'bfloat16' if args.amp == 'bf16' else 'float16')
    if args.channels_last:
        use_channels_last(cfg)
    if args.workers:
        for loader in ('train_dataloader', 'test_dataloader'):
            cfg[loader].update(num_workers=args.workers,
                               persistent_workers=True, pin_memory=True)
    if args.max_epochs:
        set_epoch_cap(cfg, args.max_epochs)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.train_cfg.val_interval = cfg.train_cfg.max_epochs + 1
    if args.max_iters:
        cfg.train_cfg = dict(by_epoch=False, max_iters=args.max_iters)
        cfg.param_scheduler = []
        cfg.default_hooks.checkpoint.update(by_epoch=False,
                                            interval=args.max_iters)
    else:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='TimeBudgetHook', seconds=args.seconds)]
    return use_face_metric(cfg)


def set_epoch_cap(cfg: Config, epochs: int) -> None:
    """Set ``max_epochs``, with the epoch-based schedulers that ended at
    the old last epoch (the budget hook then shortens them again)."""
    old = cfg.train_cfg.max_epochs
    cfg.train_cfg.max_epochs = epochs
    for scheduler in cfg.get('param_scheduler') or []:
        if not scheduler.get('by_epoch', True):
            continue
        for key in ('end', 'T_max'):
            if scheduler.get(key) == old:
                scheduler[key] = epochs


def run(args: argparse.Namespace) -> str:
    cfg = build_config(args)
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_seconds = time.perf_counter() - start
    metrics = runner.test()
    evaluation = face_metric_of(runner).last_evaluation
    budget = next((h for h in runner.hooks
                   if isinstance(h, TimeBudgetHook)), None)
    iters = runner.iter
    images = iters * cfg.train_dataloader.batch_size
    stages = ' / '.join(f'{100 * v:.2f}' for v in evaluation.stage_nmes)
    device = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
              else platform.processor() or 'CPU')
    rows = [
        ('config', f'`{args.config}`'),
        ('device', f'{device}, AMP {args.amp}, {args.workers or "config"} '
         'loader workers'),
        ('training', f'{runner.epoch} epoch(s), {iters} iterations'
         + (f' (budget {args.seconds:g} s)' if budget else ' (dry run)')),
        ('training wall time', f'{train_seconds:.0f} s'),
        ('training throughput', f'{images / train_seconds:.1f} img/s'),
        ('test faces', f'{evaluation.full.faces}'),
        ('NME (%)', f'{100 * metrics["NME"]:.2f}'),
        ('NME per stage L^0.. (%)', stages or '-'),
        ('FR@0.10 (%) / AUC@0.10', f'{100 * evaluation.full.fr:.2f} / '
         f'{evaluation.full.auc:.4f}'),
    ]
    lines = ['| training check | |', '| --- | --- |']
    lines += [f'| {key} | {value} |' for key, value in rows]
    text = '\n'.join(lines)
    with open(osp.join(args.work_dir, 'timed_training.md'), 'w') as f:
        f.write(text + '\n')
    return text


def main(argv: list[str] | None = None) -> None:
    print(run(parse_args(argv)))


if __name__ == '__main__':
    sys.exit(main())
