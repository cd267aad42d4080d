"""What the benchmark measures of a callable or a model: wall time (several
callables, interleaved), peak memory, and FLOPs."""
from __future__ import annotations

import copy
import ctypes
import gc
import math
import resource
from pathlib import Path
from typing import Callable

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape
from torch.utils import benchmark

ATTENTION_OPS = ('aten::scaled_dot_product_attention',
                 'aten::_scaled_dot_product_flash_attention_for_cpu',
                 'aten::_scaled_dot_product_efficient_attention')


def interleaved(tasks: list[Callable[[], object]], warmup: int,
                repeats: int) -> list[list[float]]:
    """Seconds of every task, ``repeats`` runs each after ``warmup``, on
    ``torch.utils.benchmark.timer`` (``Timer``'s clock: it synchronises
    CUDA; ``Timer.timeit(1)`` would run every task twice more to warm up)."""
    for task in tasks:
        for _ in range(warmup):
            task()
    times: list[list[float]] = [[] for _ in tasks]
    # kept, torch.utils.benchmark has no such order: round-robin, the first
    # task rotating, so load drifting over minutes reaches every task alike
    for shift in range(repeats):
        for step in range(len(tasks)):
            index = (step + shift) % len(tasks)
            start = benchmark.timer()
            tasks[index]()
            times[index].append(benchmark.timer() - start)
    return times


def _rss_kib(field: str) -> int:
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(field + ':'):
            return int(line.split()[1])
    raise KeyError(field)


def peak_memory_mib(fn: Callable[[], object],
                    device: str) -> tuple[float, str]:
    """``(MiB, method)``: the peak memory while ``fn`` runs, above what was
    in use just before. Kept for CPUs: neither torch nor ``resource`` has a
    peak RSS that can be reset (``ru_maxrss`` is the process's)."""
    gc.collect()
    try:  # glibc keeps freed heap pages; give them back, so RSS is live
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return ((torch.cuda.max_memory_allocated() - before) / 2**20,
                'cuda max_memory_allocated')
    try:
        before = _rss_kib('VmRSS')
        Path('/proc/self/clear_refs').write_text('5')  # resets VmHWM
        fn()
        return (_rss_kib('VmHWM') - before) / 1024, 'peak RSS (VmHWM)'
    except (OSError, KeyError):  # an underestimate if a former phase peaked
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fn()
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return (after - before) / 1024, 'ru_maxrss delta (lower bound)'


def count_flops(model: torch.nn.Module,
                input_size: int) -> tuple[int, list[str]]:
    """``(FLOPs, uncounted ops)`` of one forward at batch 1 on CPU, by
    mmengine's ``FlopAnalyzer`` (its ``get_model_complexity_info`` takes no
    op handle: attention would go uncounted)."""

    def attention_flops(inputs: list, outputs: list) -> int:
        # softmax(q k^T) v: L x S x (E + Ev) multiply-adds per batch x head
        q, k, v = (get_shape(value) for value in inputs[:3])
        return math.prod(q[:-1]) * k[-2] * (q[-1] + v[-1])

    class TensorForward(torch.nn.Module):  # traceable: no data_samples
        def __init__(self) -> None:
            super().__init__()
            self.model = copy.deepcopy(model).cpu().float().eval()

        def forward(self, inputs: torch.Tensor) -> object:
            return self.model._forward(inputs)

    inputs = torch.randn(1, 3, input_size, input_size)
    analyzer = FlopAnalyzer(TensorForward(), (inputs, )).set_op_handle(
        **dict.fromkeys(ATTENTION_OPS, attention_flops))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(
        False).tracer_warnings('none')
    with torch.no_grad():
        total = analyzer.total()
    return total, sorted(analyzer.unsupported_ops())
