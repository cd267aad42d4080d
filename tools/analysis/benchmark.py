"""Speed of RePFormer against MMPose's face models, on one machine, in one run.

For every model (random init, built from its own config; 256x256 input and
68 landmarks unless told otherwise) it measures:

- parameters, and FLOPs of one forward at batch 1 (mmengine's counter,
  fvcore convention: one multiply-add is one FLOP; attention kernels are
  counted by a handle added here);
- inference time per batch at every ``--batch-sizes`` (the first is the
  latency, the last the throughput), under ``torch.inference_mode``;
- training throughput: forward, MMPose's loss, backward and an Adam step
  at ``--train-batch-size`` (no data loading);
- peak memory of one inference batch and one training step, above what
  was resident before it (CPU: the process's peak RSS, reset before the
  step through /proc/self/clear_refs; CUDA: ``max_memory_allocated``);
- the share of the forward time spent after the backbone (neck + head),
  from timing the backbone alone and the whole network on the same batch.

Every figure is the median of ``--repeats`` runs after ``--warmup`` runs;
a second table gives median [min-max]. All models live in one process and
their runs are interleaved (round-robin), so that all see the same machine
load; on a shared machine load drifts over minutes, and models timed one
after the other are not comparable. Memory is measured one model at a
time, after freed memory has been returned to the OS (``malloc_trim``).

Example (CPU, all models, Markdown to stdout and to a file)::

    python tools/analysis/benchmark.py --output work_dirs/benchmark.md
    # GPU
    python tools/analysis/benchmark.py --device cuda --amp bf16 \\
        --channels-last

``--models`` takes the names of
:data:`repformer_mmpose.benchmarking.models.MODEL_SPECS`: by default the
five of the comparison (RePFormer-R18 and -R50, td-reg ResNet-50,
HRNetV2-W18, RTMPose-m); also ``repformer_r18_d128`` (the CPU config,
d_model 128: compare at ``--input-size 128``) and variants, named by a
suffix: ``_ref`` (RePFormer's reference neck/head path) and ``_nodrop``
(dropout 0 in RePFormer's neck and head: ``repformer_r18_d128_nodrop``).
The measuring lives in :mod:`repformer_mmpose.benchmarking`; this file is
its command line.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from repformer_mmpose.benchmarking.machine import (environment_info,
                                                   load_average,
                                                   physical_cores)
from repformer_mmpose.benchmarking.models import (DEFAULT_MODELS,
                                                  MODEL_SPECS)
from repformer_mmpose.benchmarking.report import markdown_report
from repformer_mmpose.benchmarking.runner import measure


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark RePFormer against MMPose face models.')
    parser.add_argument(
        '--models', nargs='+', default=DEFAULT_MODELS,
        choices=sorted(MODEL_SPECS),
        help='models to run (a `_ref` suffix: RePFormer with the '
        'reference neck/head path; `_nodrop`: dropout 0 in its neck and '
        'head)')
    parser.add_argument('--input-size', type=int, default=256)
    parser.add_argument('--num-keypoints', type=int, default=68)
    parser.add_argument(
        '--batch-sizes', type=int, nargs='+', default=[1, 32],
        help='inference batch sizes; the first is reported as latency, '
        'the last as throughput')
    parser.add_argument(
        '--train-batch-size', type=int, default=16,
        help='training batch (the paper trains with 16); 0 skips training')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument(
        '--threads', type=int, default=None,
        help='torch intra-op threads (default: physical cores)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--amp', choices=['none', 'bf16'], default='none')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--no-flops', dest='flops', action='store_false',
                        help='skip FLOP counting (it traces the model)')
    parser.add_argument('--output', type=Path,
                        help='also write the Markdown report here')
    parser.add_argument('--json', type=Path, help='raw timings as JSON')
    args = parser.parse_args(argv)
    if args.threads is None:
        args.threads = physical_cores()
    if args.repeats < 1 or args.warmup < 0:
        parser.error('--repeats must be >= 1 and --warmup >= 0')
    if args.input_size % 32:
        parser.error('--input-size must be a multiple of 32 (backbone '
                     'stride)')
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    environment = environment_info(args)
    results = measure(args)
    environment['load average (1/5/15 min)'] += \
        f' at start, {load_average()} at end'
    report = markdown_report(results, args, environment)
    print(report)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == '__main__':
    main()
