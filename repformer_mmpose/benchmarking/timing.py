"""What the benchmark measures of a callable or a model: wall time (one
callable, or several interleaved), peak memory, and FLOPs."""
from __future__ import annotations

import copy
import ctypes
import gc
import resource
import time
from pathlib import Path
from typing import Callable


class Timer:
    """Wall time of a callable, synchronising CUDA around it."""

    def __init__(self, device: str) -> None:
        import torch
        self.sync = torch.cuda.synchronize if device.startswith(
            'cuda') else (lambda: None)

    def __call__(self, fn: Callable[[], object]) -> float:
        self.sync()
        start = time.perf_counter()
        fn()
        self.sync()
        return time.perf_counter() - start


def interleaved(timer: Timer, tasks: list[Callable[[], object]],
                warmup: int, repeats: int) -> list[list[float]]:
    """Times of every task, ``repeats`` each after ``warmup``, run
    round-robin (the starting task rotating), so that every task sees the
    same machine load, which on a shared machine drifts over minutes."""
    for task in tasks:
        for _ in range(warmup):
            timer(task)
    times = [[] for _ in tasks]
    for index in range(repeats):
        shift = index % len(tasks)
        for task_index in list(range(len(tasks)))[shift:] + list(
                range(shift)):
            times[task_index].append(timer(tasks[task_index]))
    return times


def _rss_kib(field: str) -> int:
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(field + ':'):
            return int(line.split()[1])
    raise KeyError(field)


def _release_freed_memory() -> None:
    gc.collect()
    try:  # glibc keeps freed heap pages; give them back, so RSS is live
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_memory_mib(fn: Callable[[], object], device: str) -> tuple:
    """``(MiB, method)``: the peak memory while ``fn`` runs, above what was
    in use just before."""
    import torch
    _release_freed_memory()
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
    except (OSError, KeyError):
        # ru_maxrss is the peak since the process started: an underestimate
        # when an earlier phase peaked higher.
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fn()
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return (after - before) / 1024, 'ru_maxrss delta (lower bound)'


def count_flops(model, input_size: int) -> tuple:
    """``(FLOPs, uncounted ops)`` of one forward at batch 1 on CPU."""
    import torch
    from mmengine.analysis import FlopAnalyzer
    from mmengine.analysis.jit_handles import get_shape

    def attention_flops(inputs, outputs) -> int:
        # softmax(q k^T) v: L x S x (E + Ev) multiply-adds per batch x head
        q, k, v = (get_shape(value) for value in inputs[:3])
        *batch, length, embed = q
        count = 1
        for size in batch:
            count *= size
        return count * length * k[-2] * (embed + v[-1])

    class TensorForward(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, inputs):
            return self.model._forward(inputs)

    model = copy.deepcopy(model).cpu().float().eval()
    inputs = torch.randn(1, 3, input_size, input_size)
    analyzer = FlopAnalyzer(TensorForward(model), (inputs, ))
    for op in ('aten::scaled_dot_product_attention',
               'aten::_scaled_dot_product_flash_attention_for_cpu',
               'aten::_scaled_dot_product_efficient_attention'):
        analyzer.set_op_handle(op, attention_flops)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    with torch.no_grad():
        total = analyzer.total()
    return total, sorted(analyzer.unsupported_ops())
