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
"""
from __future__ import annotations

import argparse
import copy
import ctypes
import gc
import json
import os
import platform
import resource
import statistics
import sys
import time
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[2]

# name -> (label, config, where the config lives)
MODEL_SPECS = {
    'repformer_r18': (
        'RePFormer-R18',
        'configs/repformer/300w/repformer_res18_1xb16-360e_300w-256x256.py',
        'repo'),
    'repformer_r50': (
        'RePFormer-R50',
        'configs/repformer/300w/repformer_res50_1xb16-360e_300w-256x256.py',
        'repo'),
    'tdreg_r50': (
        'td-reg ResNet-50 (MMPose)',
        'face_2d_keypoint/topdown_regression/wflw/'
        'td-reg_res50_8xb64-210e_wflw-256x256.py', 'mmpose'),
    'hrnetv2_w18': (
        'HRNetV2-W18 heatmap (MMPose)',
        'face_2d_keypoint/topdown_heatmap/300w/'
        'td-hm_hrnetv2-w18_8xb64-60e_300w-256x256.py', 'mmpose'),
    'rtmpose_m': (
        'RTMPose-m (MMPose)',
        'face_2d_keypoint/rtmpose/wflw/rtmpose-m_8xb64-60e_wflw-256x256.py',
        'mmpose'),
}
# The reference (paper-as-written) path of RePFormer's neck and head, to
# see what the fast path gains; not in the default set.
REFERENCE_SUFFIX = '_ref'
for _name in ('repformer_r18', 'repformer_r50'):
    _label, _config, _where = MODEL_SPECS[_name]
    MODEL_SPECS[_name + REFERENCE_SUFFIX] = (_label + ', reference head',
                                             _config, _where)
# Ops mmengine's FLOP counter leaves out by design (elementwise, cheap).
CHEAP_OPS = {
    'add', 'sub', 'mul', 'div', 'pow', 'square', 'sqrt', 'rsqrt', 'exp',
    'sin', 'cos', 'sigmoid', 'hardsigmoid', 'silu', 'relu', 'gelu',
    'softmax', 'threshold', 'clamp', 'sum', 'mean', 'linalg_vector_norm',
    'max_pool2d', 'meshgrid', 'unflatten', 'neg', 'abs'
}
DEFAULT_MODELS = ['repformer_r18', 'repformer_r50', 'tdreg_r50',
                  'hrnetv2_w18', 'rtmpose_m']


# ---------------------------------------------------------------- machine
def physical_cores() -> int:
    """Distinct (socket, core) pairs in /proc/cpuinfo; ``os.cpu_count()``
    where that is unavailable."""
    try:
        text = Path('/proc/cpuinfo').read_text()
    except OSError:
        return os.cpu_count() or 1
    cores, socket = set(), '0'
    for line in text.splitlines():
        key, _, value = line.partition(':')
        key, value = key.strip(), value.strip()
        if key == 'physical id':
            socket = value
        elif key == 'core id':
            cores.add((socket, value))
    return len(cores) or os.cpu_count() or 1


def cpu_model() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.partition(':')[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ----------------------------------------------------------------- models
def mmpose_config_root() -> Path:
    import mmpose
    root = Path(mmpose.__file__).parent / '.mim' / 'configs'
    if not root.is_dir():
        raise FileNotFoundError(
            f'MMPose configs not found at {root}: install mmpose with pip '
            '(it ships them under mmpose/.mim/configs)')
    return root


def _replace_sync_bn(node):
    """SyncBN -> BN: one process, so they compute the same; SyncBN's
    CPU path is refused by some torch versions."""
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        for value in node.values():
            _replace_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _replace_sync_bn(value)


def model_config(name: str, input_size: int, num_keypoints: int):
    """The model config of ``name``, random init, at ``input_size`` with
    ``num_keypoints`` landmarks, without test-time flip."""
    from mmengine.config import Config
    _, path, where = MODEL_SPECS[name]
    root = REPO_ROOT if where == 'repo' else mmpose_config_root()
    cfg = Config.fromfile(str(root / path)).model
    cfg.backbone.init_cfg = None
    # RTMPose's CSPNeXt names mmdet's scope, whose module needs compiled
    # mmcv ops; MMPose registers its own CSPNeXt, the same network.
    cfg.backbone.pop('_scope_', None)
    _replace_sync_bn(cfg)
    cfg.test_cfg = dict(flip_test=False)
    size = (input_size, input_size)
    head = cfg.head
    head.decoder.input_size = size
    if 'heatmap_size' in head.decoder:
        head.decoder.heatmap_size = (input_size // 4, input_size // 4)
    head_type = head.type
    if head_type == 'PTHHead':
        head.num_keypoints = num_keypoints
        head.initial_memory_size = (input_size // 32, input_size // 32)
    elif head_type == 'RegressionHead':
        head.num_joints = num_keypoints
    elif head_type == 'HeatmapHead':
        head.out_channels = num_keypoints
    elif head_type == 'RTMCCHead':
        head.out_channels = num_keypoints
        head.input_size = size
        head.in_featuremap_size = (input_size // 32, input_size // 32)
    else:
        raise ValueError(f'{name}: unknown head type {head_type}')
    return cfg


def build_model(name: str, input_size: int, num_keypoints: int):
    from mmengine.registry import init_default_scope

    import repformer_mmpose  # noqa: F401  (registers the plugin)
    from mmpose.registry import MODELS
    from repformer_mmpose.models.utils import set_fast_path
    init_default_scope('mmpose')
    cfg = model_config(name, input_size, num_keypoints)
    model = MODELS.build(cfg)
    set_fast_path(model, not name.endswith(REFERENCE_SUFFIX))
    return model, cfg


def make_data_samples(codec_cfg: dict, batch: int, num_keypoints: int,
                      input_size: int, seed: int = 0) -> list:
    """Training labels from each model's own codec and MMPose's
    ``GenerateTarget`` / ``PackPoseInputs``, for random landmarks."""
    import numpy as np

    from mmpose.datasets.transforms import GenerateTarget, PackPoseInputs
    rng = np.random.default_rng(seed)
    generate, pack = GenerateTarget(encoder=codec_cfg), PackPoseInputs()
    samples = []
    for _ in range(batch):
        results = dict(
            img=np.zeros((input_size, input_size, 3), np.uint8),
            img_shape=(input_size, input_size),
            input_size=(input_size, input_size),
            keypoints=rng.uniform(0.15, 0.85, (1, num_keypoints, 2)) *
            input_size,
            keypoints_visible=np.ones((1, num_keypoints), np.float32))
        samples.append(pack(generate(results))['data_samples'])
    return samples


def allow_bf16_to_numpy() -> None:
    """MMPose 1.3.2's heads compute their training accuracy through
    ``to_numpy``, and numpy has no bf16: under bf16 autocast, upcast there
    (the metric only; the loss and its gradients are untouched)."""
    import torch

    from mmpose.utils import tensor_utils
    original = tensor_utils.to_numpy

    def upcast(x):
        if isinstance(x, torch.Tensor) and x.dtype == torch.bfloat16:
            return x.float()
        return x

    def to_numpy(x, *args, **kwargs):
        if isinstance(x, (list, tuple)):
            x = type(x)(upcast(item) for item in x)
        return original(upcast(x), *args, **kwargs)

    for module in list(sys.modules.values()):
        if getattr(module, 'to_numpy', None) is original:
            module.to_numpy = to_numpy


# ------------------------------------------------------------ measurement
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


class ModelUnderTest:
    """One model: built, counted, on its device, with a training step."""

    def __init__(self, name: str, args) -> None:
        import torch
        torch.manual_seed(0)
        model, self.cfg = build_model(name, args.input_size,
                                      args.num_keypoints)
        self.result = dict(
            name=name,
            label=MODEL_SPECS[name][0],
            params=sum(p.numel() for p in model.parameters()))
        if args.flops:
            self.result['flops'], self.result['uncounted_ops'] = \
                count_flops(model, args.input_size)
        self.model = model.to(args.device, memory_format=args.memory_format)
        self.autocast = args.autocast
        self.optimizer = None

    def forward(self, inputs) -> object:
        return self.model._forward(inputs)

    def backbone(self, inputs) -> object:
        return self.model.backbone(inputs)

    def start_training(self, inputs, args) -> None:
        import torch
        self.model.train()
        self.train_inputs = inputs
        self.samples = [
            sample.to(args.device) for sample in make_data_samples(
                self.cfg.head.decoder, inputs.shape[0], args.num_keypoints,
                args.input_size)
        ]
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-4)

    def train_step(self) -> None:
        """Forward, MMPose's loss, backward, Adam step."""
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            losses = self.model.loss(self.train_inputs, self.samples)
        loss, _ = self.model.parse_losses(losses)
        loss.backward()
        self.optimizer.step()

    def stop_training(self) -> None:
        # free this model's optimizer state, gradients and inputs
        self.optimizer = self.samples = self.train_inputs = None
        self.model.zero_grad(set_to_none=True)
        self.model.eval()


def measure(args) -> list[dict]:
    """Every figure of every model of ``args.models``, in this process;
    timings interleaved across models."""
    import torch
    torch.set_num_threads(args.threads)
    args.memory_format = torch.channels_last if args.channels_last \
        else torch.contiguous_format
    args.autocast = (lambda: torch.autocast(
        args.device.split(':')[0], dtype=torch.bfloat16)) \
        if args.amp == 'bf16' else nullcontext
    models = []
    for name in args.models:
        print(f'building {name} ...', file=sys.stderr, flush=True)
        models.append(ModelUnderTest(name, args))
    if args.amp == 'bf16':
        allow_bf16_to_numpy()
    results = [model.result for model in models]
    timer = Timer(args.device)

    def images(batch: int) -> torch.Tensor:
        return torch.randn(batch, 3, args.input_size, args.input_size,
                           device=args.device).contiguous(
                               memory_format=args.memory_format)

    for model in models:
        model.model.eval()
    with torch.inference_mode(), args.autocast():
        for batch in args.batch_sizes[:-1]:
            print(f'inference, batch {batch} ...', file=sys.stderr,
                  flush=True)
            inputs = images(batch)
            times = interleaved(
                timer, [partial(m.forward, inputs) for m in models],
                args.warmup, args.repeats)
            for result, model_times in zip(results, times):
                result.setdefault('infer', {})[batch] = model_times
        # the largest batch: whole forward and backbone alone, interleaved
        batch = args.batch_sizes[-1]
        print(f'inference and backbone alone, batch {batch} ...',
              file=sys.stderr, flush=True)
        inputs = images(batch)
        tasks = []
        for model in models:
            tasks += [partial(model.forward, inputs),
                      partial(model.backbone, inputs)]
        times = interleaved(timer, tasks, args.warmup, args.repeats)
        for index, result in enumerate(results):
            full, backbone = times[2 * index], times[2 * index + 1]
            result.setdefault('infer', {})[batch] = full
            result['head_share'] = dict(full=full, backbone=backbone)
        for model, result in zip(models, results):
            result['infer_memory_mib'], result['memory_method'] = \
                peak_memory_mib(partial(model.forward, inputs), args.device)

    if args.train_batch_size > 0:
        print(f'training, batch {args.train_batch_size} ...',
              file=sys.stderr, flush=True)
        inputs = images(args.train_batch_size)
        for model in models:
            model.start_training(inputs, args)
        times = interleaved(timer, [m.train_step for m in models],
                            args.warmup, args.repeats)
        for model, result, model_times in zip(models, results, times):
            result['train'] = model_times
            # after the timed steps: Adam's state already exists
            result['train_memory_mib'], _ = peak_memory_mib(
                model.train_step, args.device)
            model.stop_training()
    return results


# ---------------------------------------------------------------- report
def _median_range(values: list[float], scale: float = 1.) -> str:
    values = [v * scale for v in values]
    return (f'{statistics.median(values):.1f} '
            f'[{min(values):.1f}-{max(values):.1f}]')


def _per_second(batch: int, values: list[float]) -> list[float]:
    return [batch / v for v in values]


def head_share(result: dict) -> float:
    share = result['head_share']
    return 100 * (1 - statistics.median(share['backbone']) /
                  statistics.median(share['full']))


def markdown_report(results: list[dict], args, environment: dict) -> str:
    first, last = args.batch_sizes[0], args.batch_sizes[-1]
    train = args.train_batch_size
    lines = ['## Environment', '']
    lines += [f'- {key}: {value}' for key, value in environment.items()]
    header = ['model', 'params (M)', 'GFLOPs (b1)',
              f'latency b{first} (ms)', f'throughput b{last} (img/s)']
    if train:
        header.append(f'train b{train} (img/s)')
    header += [f'peak mem infer b{last} (MiB)']
    if train:
        header.append(f'peak mem train b{train} (MiB)')
    header.append(f'neck+head share of forward b{last} (%)')
    lines += ['', '## Comparison (medians)', '',
              '| ' + ' | '.join(header) + ' |',
              '|' + '|'.join([' --- '] + [' ---: '] *
                             (len(header) - 1)) + '|']
    for result in results:
        infer = result['infer']
        row = [
            result['label'], f"{result['params'] / 1e6:.2f}",
            f"{result['flops'] / 1e9:.2f}" if 'flops' in result else 'n/a',
            f'{1000 * statistics.median(infer[first]):.1f}',
            f'{last / statistics.median(infer[last]):.1f}'
        ]
        if train:
            row.append(f"{train / statistics.median(result['train']):.1f}")
        row.append(f"{result['infer_memory_mib']:.0f}")
        if train:
            row.append(f"{result['train_memory_mib']:.0f}")
        row.append(f'{head_share(result):.0f}')
        lines.append('| ' + ' | '.join(row) + ' |')

    lines += ['', f'## Spread: median [min-max] of {args.repeats} runs '
              f'after {args.warmup} warm-up', '']
    columns = [f'b{b} (ms/batch)' for b in args.batch_sizes]
    columns += [f'b{last} (img/s)', f'backbone only b{last} (ms)']
    if train:
        columns.append(f'train b{train} (img/s)')
    lines += ['| model | ' + ' | '.join(columns) + ' |',
              '| --- |' + ' ---: |' * len(columns)]
    for result in results:
        infer = result['infer']
        row = [_median_range(infer[b], 1000) for b in args.batch_sizes]
        row += [
            _median_range(_per_second(last, infer[last])),
            _median_range(result['head_share']['backbone'], 1000)
        ]
        if train:
            row.append(_median_range(_per_second(train, result['train'])))
        lines.append(f"| {result['label']} | " + ' | '.join(row) + ' |')

    notes = [
        'FLOPs: mmengine\'s counter, one multiply-add = one FLOP; '
        'attention (`scaled_dot_product_attention`) counted by a handle '
        'of this script; elementwise ops, activations, softmax and '
        'pooling are not counted (mmengine\'s convention).',
        f"peak memory: {results[0]['memory_method']}, above what was in "
        'use before the batch (weights and, for training, Adam state)',
        f'neck+head share: 1 - backbone-only time / whole forward time, '
        f'batch {last}, interleaved runs'
    ]
    uncounted = sorted({
        op for r in results for op in r.get('uncounted_ops', [])
        if op.removeprefix('aten::').rstrip('_') not in CHEAP_OPS
    })
    if uncounted:
        notes.append('other ops without a FLOP handle (not counted): ' +
                     ', '.join(uncounted))
    by_name = {r['name']: r for r in results}
    if {'repformer_r18', 'hrnetv2_w18'} <= by_name.keys():
        ours, theirs = (by_name[n]['infer'][last]
                        for n in ('repformer_r18', 'hrnetv2_w18'))
        ratio = statistics.median(theirs) / statistics.median(ours)
        notes.append(
            f'target: RePFormer-R18 throughput at batch {last} is '
            f'{ratio:.2f}x that of HRNetV2-W18 '
            f"({'met' if ratio >= 1 else 'not met'}: target >= 1)")
    if notes:
        lines += ['', '## Notes', ''] + [f'- {note}' for note in notes]
    return '\n'.join(lines) + '\n'


def environment_info(args) -> dict:
    import torch
    info = {
        'command': 'python ' + ' '.join([
            str(Path(sys.argv[0]).resolve().relative_to(REPO_ROOT))
            if Path(sys.argv[0]).resolve().is_relative_to(REPO_ROOT) else
            sys.argv[0]
        ] + sys.argv[1:]),
        'date': time.strftime('%Y-%m-%d %H:%M'),
        'cpu': f'{cpu_model()}, {physical_cores()} physical cores, '
        f'{os.cpu_count()} logical',
        'torch': torch.__version__,
        'device': args.device,
        'threads': args.threads,
        'precision': 'bf16 autocast' if args.amp == 'bf16' else 'float32',
        'memory format': 'channels_last' if args.channels_last else 'NCHW',
        'input': f'{args.input_size}x{args.input_size}, '
        f'{args.num_keypoints} landmarks, random init, no flip test',
        'load average (1/5/15 min)': ' / '.join(
            f'{v:.2f}' for v in os.getloadavg()),
    }
    if args.device.startswith('cuda') and torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(args.device)
    return info


# ---------------------------------------------------------------- driver
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark RePFormer against MMPose face models.')
    parser.add_argument(
        '--models', nargs='+', default=DEFAULT_MODELS,
        choices=sorted(MODEL_SPECS),
        help='models to run (a `_ref` suffix: RePFormer with the '
        'reference neck/head path)')
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


def main(argv=None) -> None:
    args = parse_args(argv)
    environment = environment_info(args)
    results = measure(args)
    environment['load average (1/5/15 min)'] += ' at start, ' + ' / '.join(
        f'{v:.2f}' for v in os.getloadavg()) + ' at end'
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
