"""The benchmark's Markdown report: environment, a table of medians, a
table of spreads, and notes."""
from __future__ import annotations

import statistics

# Ops mmengine's FLOP counter leaves out by design (elementwise, cheap).
CHEAP_OPS = {
    'add', 'sub', 'mul', 'div', 'pow', 'square', 'sqrt', 'rsqrt', 'exp',
    'sin', 'cos', 'sigmoid', 'hardsigmoid', 'silu', 'relu', 'gelu',
    'softmax', 'threshold', 'clamp', 'sum', 'mean', 'linalg_vector_norm',
    'max_pool2d', 'meshgrid', 'unflatten', 'neg', 'abs'
}


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


def _comparison(results: list[dict], args) -> list[str]:
    first, last = args.batch_sizes[0], args.batch_sizes[-1]
    train = args.train_batch_size
    header = ['model', 'params (M)', 'GFLOPs (b1)',
              f'latency b{first} (ms)', f'throughput b{last} (img/s)']
    if train:
        header.append(f'train b{train} (img/s)')
    header += [f'peak mem infer b{last} (MiB)']
    if train:
        header.append(f'peak mem train b{train} (MiB)')
    header.append(f'neck+head share of forward b{last} (%)')
    lines = ['', '## Comparison (medians)', '',
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
    return lines


def _spread(results: list[dict], args) -> list[str]:
    last, train = args.batch_sizes[-1], args.train_batch_size
    lines = ['', f'## Spread: median [min-max] of {args.repeats} runs '
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
    return lines


def _notes(results: list[dict], args) -> list[str]:
    last = args.batch_sizes[-1]
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
    return ['', '## Notes', ''] + [f'- {note}' for note in notes]


def markdown_report(results: list[dict], args, environment: dict) -> str:
    """The report of ``results`` (:func:`~.runner.measure`'s) for the
    benchmark's parsed ``args``, under ``environment``
    (:func:`~.machine.environment_info`)."""
    lines = ['## Environment', '']
    lines += [f'- {key}: {value}' for key, value in environment.items()]
    lines += _comparison(results, args)
    lines += _spread(results, args)
    lines += _notes(results, args)
    return '\n'.join(lines) + '\n'
