"""The fast CPU recipe against the paper's fp32 recipe, in one run.

For every model (RePFormer-R18-d128, HRNetV2-W18, RTMPose-m; random init)
at every input size, two recipes:

- ``fp32``: the paper's (float32, contiguous tensors; RePFormer with dropout
  0.1 on its attention weights, as the paper's configs);
- ``fast``: bf16 autocast (``--amp`` on a CPU; RePFormer's landmark path
  stays float32), channels-last convolutions, and for RePFormer no dropout
  on the attention weights (its FFN and residual dropouts stay 0.1), so
  PyTorch's fused CPU attention runs in training.

It times a training step (forward, MMPose's loss, backward, Adam; batch
``--train-batch``) and inference (batch ``--infer-batch``), every
configuration once per round, round-robin, the first round a warm-up
(:func:`repformer_mmpose.benchmarking.timing.interleaved`, one run per
measurement); the figures are medians over the rounds, so all
configurations see the same machine load. Prints a Markdown table and
writes it with ``--output``::

    OMP_NUM_THREADS=1 python tools/analysis/recipe_benchmark.py \\
        --sizes 128 256 --rounds 4 --output work_dirs/recipes.md
"""
from __future__ import annotations

import repformer_mmpose  # noqa: F401  (first: registers the plugin, quiets mmengine)
import argparse
import statistics
import sys
from pathlib import Path

import torch

from repformer_mmpose.benchmarking.machine import (cpu_model, load_average,
                                                   physical_cores)
from repformer_mmpose.benchmarking.recipes import MODELS, RECIPES, Case
from repformer_mmpose.benchmarking.timing import interleaved
from repformer_mmpose.engine.optim_wrappers import allow_bf16_to_numpy


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[128, 256])
    parser.add_argument('--models', nargs='+', choices=list(MODELS),
                        default=list(MODELS))
    parser.add_argument('--rounds', type=int, default=4,
                        help='rounds; the first is a warm-up (default 4)')
    parser.add_argument('--train-batch', type=int, default=16)
    parser.add_argument('--infer-batch', type=int, default=32)
    parser.add_argument('--output', type=Path)
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error('--rounds must be >= 2 (the first is a warm-up)')
    return args


def table(cases: list[Case], args) -> str:
    lines = [
        '| model | input | recipe | train step (s, batch '
        f'{args.train_batch}) | train speed-up | inference (img/s, batch '
        f'{args.infer_batch}) | inference speed-up |',
        '| --- | --- | --- | --- | --- | --- | --- |']
    base = {(c.model_name, c.size): c for c in cases if c.recipe == 'fp32'}
    for case in cases:
        train = statistics.median(case.train_times)
        infer = args.infer_batch / statistics.median(case.infer_times)
        ref = base[case.model_name, case.size]
        train_ref = statistics.median(ref.train_times)
        infer_ref = args.infer_batch / statistics.median(ref.infer_times)
        lines.append(
            f'| {case.model_name} | {case.size} | {case.recipe} | '
            f'{train:.2f} [{min(case.train_times):.2f}-'
            f'{max(case.train_times):.2f}] | {train_ref / train:.2f}x | '
            f'{infer:.1f} | {infer / infer_ref:.2f}x |')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> str:
    args = parse_args(argv)
    allow_bf16_to_numpy()
    cases = [Case(model, size, recipe) for size in args.sizes
             for model in args.models for recipe in RECIPES]
    for case in cases:
        print(f'building {case.model_name} {case.size} {case.recipe}',
              file=sys.stderr, flush=True)
        case.build(args)
    start_load = load_average()
    times = interleaved([fn for case in cases
                         for fn in (case.train_step, case.infer)],
                        warmup=1, repeats=args.rounds - 1)
    for index, case in enumerate(cases):
        case.train_times, case.infer_times = times[2 * index:2 * index + 2]
    text = '\n'.join([
        f'CPU: {cpu_model()} ({physical_cores()} cores), '
        f'{torch.get_num_threads()} torch thread(s), torch '
        f'{torch.__version__}; load average {start_load} at start, '
        f'{load_average()} at end; medians of {args.rounds - 1} rounds '
        '[min-max]', '', table(cases, args)])
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + '\n')
    return text


if __name__ == '__main__':
    main()
