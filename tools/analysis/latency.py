"""Latency and throughput of RePFormer on this CPU: PyTorch eager,
``torch.compile`` and onnxruntime, at several batch sizes.

Times the model itself (backbone + neck + head + normalisation + decoding
to input pixels: :class:`repformer_mmpose.deployment.LandmarkModel`) on
random face crops of the config's input size, not image loading, face
detection or cropping. Each (backend, batch) first runs ``--warmup``
times untimed (the "first run" column times the very first call: it
includes ``torch.compile``'s compilation); then the ``--repeats`` timed
runs go round-robin over all of them, so a change in the load of a shared
machine affects every backend alike. The table gives the median, the
fastest and the slowest run, per batch and per image, and images per
second. Without a checkpoint the model keeps its random initialisation
(the speed does not depend on the weights).

Threads: torch and onnxruntime get ``--threads`` intra-op threads
(default: the physical cores this process may use); set
``OMP_NUM_THREADS`` to the same for a fair comparison. A backend that
fails (``torch.compile`` needs a C++ compiler on CPU) is reported as
``n/a (reason)``.

Example::

    python tools/analysis/latency.py \\
        configs/repformer/300w/repformer_res18_1xb16-360e_300w-256x256.py \\
        --batch-sizes 1 16 --repeats 20
"""
from __future__ import annotations

import repformer_mmpose  # noqa: F401  (first: registers the plugin, quiets mmengine)
import argparse
import os
import platform
import statistics
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Callable

import torch
from mmengine.config import DictAction

from repformer_mmpose.apis import init_face_model
from repformer_mmpose.deployment import (LandmarkModel, export_onnx,
                                         onnxruntime_session)
from repformer_mmpose.engine import exit_on_checkpoint_errors

BACKENDS = ('eager', 'compile', 'onnxruntime')


def physical_cores() -> int:
    """Physical cores among the CPUs this process may run on (logical
    CPUs where ``/proc/cpuinfo`` does not tell)."""
    allowed = os.sched_getaffinity(0) if hasattr(
        os, 'sched_getaffinity') else set(range(os.cpu_count() or 1))
    cores, processor, physical = set(), None, '0'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                key, value = key.strip(), value.strip()
                if key == 'processor':
                    processor = int(value)
                elif key == 'physical id':
                    physical = value
                elif key == 'core id' and processor in allowed:
                    cores.add((physical, value))
    except OSError:
        pass
    return len(cores) or len(allowed)


def cpu_name() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.partition(':')[2].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return 'not installed'


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='RePFormer latency/throughput on CPU')
    parser.add_argument('config', help='RePFormer config file')
    parser.add_argument('checkpoint', nargs='?',
                        help='its checkpoint (default: random init)')
    parser.add_argument('--batch-sizes', type=positive_int, nargs='+',
                        default=[1, 16])
    parser.add_argument('--backends', nargs='+', choices=BACKENDS,
                        default=list(BACKENDS))
    parser.add_argument('--threads', type=int, default=physical_cores(),
                        help='intra-op threads (default: physical cores, '
                        '%(default)s here)')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed runs first (at least 1: '
                        'torch.compile compiles in the first)')
    parser.add_argument('--repeats', type=int, default=20,
                        help='timed runs')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, xxx=yyy')
    args = parser.parse_args(argv)
    if min(args.threads, args.repeats, args.warmup) < 1:
        parser.error('--threads, --repeats and --warmup must be >= 1')
    return args


def timed(run: Callable[[], object]) -> float:
    """Seconds one call of ``run`` takes."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def make_runner(backend: str, model: LandmarkModel, images: torch.Tensor,
                state: dict) -> Callable[[], object]:
    """A no-argument function running ``backend`` on ``images``."""
    if backend == 'eager':
        return lambda: _no_grad(model, images)
    if backend == 'compile':
        if 'compiled' not in state:  # one static graph per batch size
            state['compiled'] = torch.compile(model, dynamic=False)
        return lambda: _no_grad(state['compiled'], images)
    if 'session' not in state:
        state['onnx_file'] = os.path.join(state['tmp_dir'], 'model.onnx')
        export_onnx(model, state['onnx_file'])
        state['session'] = onnxruntime_session(state['onnx_file'],
                                               state['threads'])
    feed = {'images': images.numpy()}
    return lambda: state['session'].run(None, feed)


def _no_grad(model, images):
    with torch.no_grad():
        return model(images)


def measure(args: argparse.Namespace) -> list[dict]:
    """One row per (backend, batch size).

    Every runner is built and warmed up first; then the timed runs go
    round-robin over the runners, so that a change in the machine's load
    (a shared machine) affects every backend alike.
    """
    torch.set_num_threads(args.threads)
    estimator = init_face_model(args.config, args.checkpoint, 'cpu',
                                args.cfg_options)
    model = LandmarkModel(estimator).eval()
    width, height = model.input_size
    rows, runners = [], []
    with tempfile.TemporaryDirectory() as tmp_dir:
        for backend in args.backends:
            state = dict(tmp_dir=tmp_dir, threads=args.threads)
            for batch in args.batch_sizes:
                images = torch.rand(
                    batch, 3, height, width,
                    generator=torch.Generator().manual_seed(batch)) * 255
                row = dict(backend=backend, batch=batch, times=[])
                rows.append(row)
                try:
                    run = make_runner(backend, model, images, state)
                    row['first'] = timed(run)
                    for _ in range(args.warmup - 1):
                        run()
                except Exception as error:  # report, go on with the rest
                    reason = str(error).strip().splitlines()
                    row['error'] = (f'{type(error).__name__}: '
                                    f'{reason[0] if reason else ""}')[:120]
                    continue
                runners.append((row, run))
        for _ in range(args.repeats):
            for row, run in runners:
                row['times'].append(timed(run))
    for row, _ in runners:
        times = row.pop('times')
        row.update(median=statistics.median(times), fastest=min(times),
                   slowest=max(times))
    return rows


def markdown_table(rows: list[dict]) -> str:
    lines = [
        '| backend | batch | median ms/batch | fastest-slowest ms | '
        'ms/image | images/s | first run ms |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: |'
    ]
    for row in rows:
        if 'error' in row:
            lines.append(f'| {row["backend"]} | {row["batch"]} | n/a '
                         f'({row["error"]}) | | | | |')
            continue
        ms = {key: 1000 * row[key] for key in ('median', 'fastest',
                                                'slowest', 'first')}
        lines.append(
            f'| {row["backend"]} | {row["batch"]} | {ms["median"]:.1f} | '
            f'{ms["fastest"]:.1f}-{ms["slowest"]:.1f} | '
            f'{ms["median"] / row["batch"]:.1f} | '
            f'{row["batch"] / row["median"]:.1f} | {ms["first"]:.0f} |')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> str:
    args = parse_args(argv)
    rows = measure(args)
    weights = args.checkpoint or 'random init'
    header = (f'{os.path.basename(args.config)} ({weights}); {cpu_name()}, '
              f'{args.threads} thread(s); torch {torch.__version__}, '
              f'onnxruntime {package_version("onnxruntime")}; '
              f'{args.warmup} warm-up + {args.repeats} timed runs, '
              'round-robin')
    table = markdown_table(rows)
    print(header + '\n\n' + table)
    return table


if __name__ == '__main__':
    with exit_on_checkpoint_errors(__file__):
        main()
