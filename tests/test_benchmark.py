"""tools/analysis/benchmark.py (the command line) and
repformer_mmpose.benchmarking (what it measures and reports): runs end to
end and reports what it says.

No timing is asserted: timings depend on the machine and its load.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import mmengine
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from repformer_mmpose.benchmarking import models, timing
from repformer_mmpose.benchmarking.machine import cpu_model, physical_cores
from repformer_mmpose.benchmarking.report import markdown_report

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / 'tools' / 'analysis' / 'benchmark.py'
TINY = ['--input-size', '64', '--repeats', '1', '--warmup', '0',
        '--batch-sizes', '1', '2', '--train-batch-size', '2',
        '--threads', '1']


@pytest.fixture(scope='module')
def benchmark(load_tool):
    """The command line (``parse_args``, ``main``)."""
    return load_tool('analysis/benchmark')


def table_rows(report, title):
    """Rows (lists of cells) of the Markdown table under ``## title``."""
    section = report.split(f'## {title}', 1)[1].split('\n## ', 1)[0]
    rows = [line for line in section.splitlines() if line.startswith('|')]
    return [[cell.strip() for cell in row.strip('|').split('|')]
            for row in rows]


def test_one_command_prints_the_comparison_table(tmp_path):
    output, raw = tmp_path / 'bench.md', tmp_path / 'bench.json'
    process = subprocess.run(
        [sys.executable, str(SCRIPT), '--models', 'repformer_r18', *TINY,
         '--output', str(output), '--json', str(raw)],
        cwd=REPO_ROOT, capture_output=True, text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'), timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    report = process.stdout
    assert output.read_text() in report  # the file holds what was printed

    header, rule, row = table_rows(report, 'Comparison (medians)')
    assert header == [
        'model', 'params (M)', 'GFLOPs (b1)', 'latency b1 (ms)',
        'throughput b2 (img/s)', 'train b2 (img/s)',
        'peak mem infer b2 (MiB)', 'peak mem train b2 (MiB)',
        'neck+head share of forward b2 (%)'
    ]
    assert row[0] == 'RePFormer-R18'
    model, _ = models.build_model('repformer_r18', 64, 68)
    params = sum(p.numel() for p in model.parameters())
    assert row[1] == f'{params / 1e6:.2f}'
    values = [float(cell) for cell in row[2:]]
    assert all(v > 0 for v in values[:4])  # FLOPs, latency, throughputs

    results = json.loads(raw.read_text())
    assert [r['name'] for r in results] == ['repformer_r18']
    timings = results[0]
    assert sorted(timings['infer']) == ['1', '2']
    assert all(len(v) == 1 for v in timings['infer'].values())
    assert len(timings['train']) == 1
    # the table's throughput is batch / median time
    assert float(row[4]) == pytest.approx(2 / timings['infer']['2'][0],
                                          abs=0.06)

    spread_header, _, spread_row = table_rows(report, 'Spread')
    assert spread_header[0] == 'model' and 'b1 (ms/batch)' in spread_header
    assert re.fullmatch(r'[\d.]+ \[[\d.]+-[\d.]+\]', spread_row[1])
    # the run's settings, the CPU, and mmengine's collect_env() versions
    for line in ('threads: 1', f'PyTorch: {torch.__version__}',
                 f'MMEngine: {mmengine.__version__}',
                 f'cpu: {cpu_model()}, {physical_cores()} physical cores, '
                 f'{os.cpu_count()} logical'):
        assert f'\n- {line}' in report, line
    assert 'compiling details' not in report  # the build flags are left out


def test_configs_follow_input_size_and_keypoints():
    expected_head = {
        'repformer_r18': dict(num_keypoints=19, initial_memory_size=(4, 4)),
        'repformer_r50': dict(num_keypoints=19, initial_memory_size=(4, 4)),
        'repformer_r18_d128': dict(num_keypoints=19,
                                   initial_memory_size=(4, 4)),
        # reads ResNet stages 1-3: its top memory is input / 16
        'repformer_r18_d128_s4': dict(num_keypoints=19,
                                      initial_memory_size=(8, 8)),
        'tdreg_r50': dict(num_joints=19),
        'hrnetv2_w18': dict(out_channels=19),
        'rtmpose_m': dict(out_channels=19, input_size=(128, 128),
                          in_featuremap_size=(4, 4)),
    }
    for name, head in expected_head.items():
        cfg = models.model_config(name, 128, 19)
        for key, value in head.items():
            assert tuple(cfg.head[key]) == value if isinstance(
                value, tuple) else cfg.head[key] == value, (name, key)
        assert tuple(cfg.head.decoder.input_size) == (128, 128)
        assert cfg.backbone.init_cfg is None and '_scope_' not in cfg.backbone
        assert cfg.test_cfg == dict(flip_test=False)
        assert 'SyncBN' not in str(cfg.to_dict())
    hrnet = models.model_config('hrnetv2_w18', 128, 19)
    assert tuple(hrnet.head.decoder.heatmap_size) == (32, 32)


@pytest.mark.parametrize('name', ['repformer_r18', 'repformer_r18_d128',
                                  'tdreg_r50', 'hrnetv2_w18', 'rtmpose_m'])
def test_every_model_predicts_the_landmarks_and_trains(name):
    torch.manual_seed(0)
    model, cfg = models.build_model(name, 64, 7)
    inputs = torch.randn(2, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        outputs = model._forward(inputs)
    first = outputs[-1] if name.startswith('repformer') else (
        outputs[0] if isinstance(outputs, tuple) else outputs)
    assert first.shape[:2] == (2, 7)  # 7 landmarks for every model
    model.train()
    samples = models.make_data_samples(cfg.head.decoder, 2, 7, 64)
    losses = model.loss(inputs, samples)
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.backbone.parameters())


def dropout_probabilities(model: nn.Module) -> list[float]:
    """Every dropout probability of ``model``: ``nn.Dropout``'s ``p`` and
    the float ``dropout``/``attn_drop``/``dropout_p`` attributes the
    attentions read (``nn.MultiheadAttention.dropout``, which the fast
    path passes to ``scaled_dot_product_attention``)."""
    found = []
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            found.append(module.p)
        for name in ('dropout', 'attn_drop', 'dropout_p'):
            value = getattr(module, name, None)
            if isinstance(value, float):
                found.append(value)
    return found


def test_cpu_config_specs_build_at_128_and_nodrop_has_no_dropout():
    outputs = {}
    for name in ('repformer_r18_d128', 'repformer_r18_d128_nodrop'):
        torch.manual_seed(0)
        model, cfg = models.build_model(name, 128, 68)
        # the CPU config as shipped, sized for 128x128
        assert cfg.neck.embed_dims == cfg.head.embed_dims == 128
        assert tuple(cfg.head.initial_memory_size) == (4, 4)
        assert cfg.head.subcell_offset is True
        assert tuple(cfg.head.uncertainty.norm_indices) == (36, 45)
        assert model.head.uncertainty is not None
        probabilities = dropout_probabilities(model)
        assert probabilities  # the walk finds the attentions and FFNs
        if name.endswith('_nodrop'):
            assert all(p == 0 for p in probabilities), probabilities
        else:
            assert any(p > 0 for p in probabilities)
        inputs = torch.randn(1, 3, 128, 128)
        model.eval()
        with torch.no_grad():
            landmarks = model._forward(inputs)[-1]
        assert landmarks.shape == (1, 68, 2)
        # in training mode, dropout makes two forwards differ
        model.train()
        with torch.no_grad():
            first, second = (model._forward(inputs)[-1] for _ in range(2))
        outputs[name] = torch.equal(first, second)
    assert outputs == {'repformer_r18_d128': False,
                       'repformer_r18_d128_nodrop': True}
    assert models.MODEL_SPECS['repformer_r18_d128_nodrop'].label == \
        'RePFormer-R18-d128, dropout 0'
    # norm_indices are 300W's 68-point eye corners: dropped for other counts
    assert 'norm_indices' not in models.model_config(
        'repformer_r18_d128', 128, 19).head.uncertainty


def test_attention_flops_are_counted():
    class Toy(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(1))

        def _forward(self, x):  # x: (1, 3, 8, 8)
            q, k, v = x[:, :2, :3, :4], x[:, :2, :5, :4], x[:, :2, :5, :6]
            return F.scaled_dot_product_attention(q, k, v)

    flops, uncounted = timing.count_flops(Toy(), 8)
    # batch 1 x 2 heads x L 3 x S 5 x (E 4 + Ev 6) multiply-adds
    assert flops == 1 * 2 * 3 * 5 * (4 + 6)
    assert not any('scaled_dot_product' in op for op in uncounted)


def test_interleaved_runs_round_robin_on_torch_benchmark_clock(monkeypatch):
    """Every task is warmed up, then timed once per round, the first task
    rotating; each time is what torch.utils.benchmark's clock read."""
    clock, calls = [0.], []

    def task(index):
        def run():
            calls.append(index)
            clock[0] += index + 1  # task i takes i + 1 seconds

        return run

    monkeypatch.setattr(timing.benchmark, 'timer', lambda: clock[0])
    times = timing.interleaved([task(i) for i in range(3)], warmup=2,
                               repeats=4)
    assert calls == [0, 0, 1, 1, 2, 2,  # warm-up
                     0, 1, 2, 1, 2, 0, 2, 0, 1, 0, 1, 2]
    assert times == [[1.] * 4, [2.] * 4, [3.] * 4]


def test_peak_memory_sees_a_temporary_allocation():
    mib, method = timing.peak_memory_mib(
        lambda: torch.ones(32 * 2**20).sum(), 'cpu')  # 128 MiB, freed
    if not method.startswith('peak RSS'):
        pytest.skip(f'no /proc/self/clear_refs here ({method})')
    assert 120 < mib < 400


def test_report_from_hand_made_timings(benchmark):
    args = benchmark.parse_args(['--models', 'repformer_r18', 'hrnetv2_w18',
                                 '--batch-sizes', '1', '4', '--repeats', '3',
                                 '--train-batch-size', '2'])

    def result(name, seconds_b4, backbone, train):
        return dict(name=name, label=models.MODEL_SPECS[name].label,
                    params=2_500_000, flops=3e9,
                    infer={1: [0.01, 0.02, 0.03], 4: seconds_b4},
                    head_share=dict(full=seconds_b4, backbone=backbone),
                    train=train, infer_memory_mib=10.4,
                    train_memory_mib=99.6, memory_method='peak RSS (VmHWM)')

    text = markdown_report([
        result('repformer_r18', [0.5, 1.0, 2.0], [0.25, 0.2, 0.3],
               [1.0, 0.5, 2.0]),
        result('hrnetv2_w18', [2.0, 3.0, 4.0], [2.7, 2.7, 2.7],
               [1.0, 1.0, 1.0]),
    ], args, dict(threads=2))
    _, _, ours, theirs = table_rows(text, 'Comparison (medians)')
    # latency: median 20 ms; throughput 4 / 1.0 s; train 2 / 1.0 s;
    # share 1 - 0.25 / 1.0
    assert ours == ['RePFormer-R18', '2.50', '3.00', '20.0', '4.0', '2.0',
                    '10', '100', '75']
    assert theirs[4] == f'{4 / 3:.1f}' and theirs[-1] == '10'
    _, _, spread, _ = table_rows(text, 'Spread')
    assert spread[2] == '1000.0 [500.0-2000.0]'
    assert spread[3] == '4.0 [2.0-8.0]'
    assert 'throughput at batch 4 is 3.00x that of HRNetV2-W18 (met' in text


@pytest.mark.parametrize('argv,message', [
    (['--input-size', '100'], 'multiple of 32'),
    (['--models', 'resnet'], 'invalid choice'),
    (['--repeats', '0'], '--repeats must be >= 1'),
])
def test_bad_arguments_are_refused(benchmark, capsys, argv, message):
    with pytest.raises(SystemExit):
        benchmark.parse_args(argv)
    assert message in capsys.readouterr().err


def test_default_threads_are_the_physical_cores(benchmark):
    cores = physical_cores()
    assert 1 <= cores <= os.cpu_count()
    assert benchmark.parse_args([]).threads == cores
    try:  # lscpu's count: distinct (core, socket) pairs
        lscpu = subprocess.run(['lscpu', '-p=core,socket'],
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip('no lscpu here')
    pairs = {line for line in lscpu.stdout.splitlines()
             if not line.startswith('#')}
    assert cores == len(pairs)


def test_physical_cores_count_sockets_and_cores_not_hyperthreads(
        monkeypatch):
    from repformer_mmpose.benchmarking import machine
    cpuinfo = '\n\n'.join(
        f'processor\t: {n}\nmodel name\t: Test CPU\nphysical id\t: '
        f'{n // 4}\ncore id\t\t: {n % 2}'  # 2 sockets x 2 cores x 2 HT
        for n in range(8))
    monkeypatch.setattr(machine, '_cpuinfo', lambda: cpuinfo + '\n\n')
    assert machine.physical_cores() == 4
    assert machine.cpu_model() == 'Test CPU'
    monkeypatch.setattr(machine, '_cpuinfo', lambda: '')  # no /proc
    assert machine.physical_cores() == os.cpu_count()


def test_recipe_benchmark_times_both_recipes_interleaved(load_tool,
                                                         tmp_path):
    """One row per model, size and recipe; the fp32 row is the reference
    of its model and size; the fast recipe really runs in bf16 with
    channels-last weights and no attention-weight dropout."""
    tool = load_tool('analysis/recipe_benchmark')
    text = tool.main(['--sizes', '64', '--models', 'RePFormer-R18-d128',
                      '--rounds', '2', '--train-batch', '2',
                      '--infer-batch', '2', '--output',
                      str(tmp_path / 'r.md')])
    rows = [line for line in text.splitlines()
            if line.startswith('| RePFormer')]
    assert [row.split(' | ')[2] for row in rows] == ['fp32', 'fast']
    assert rows[0].split(' | ')[4] == '1.00x'
    assert (tmp_path / 'r.md').read_text().strip() == text.strip()

    from repformer_mmpose.benchmarking.recipes import Case

    class Args:
        train_batch, infer_batch = 2, 2

    case = Case('RePFormer-R18-d128', 64, 'fast')
    case.build(Args)
    assert {m.dropout for m in case.model.modules()
            if isinstance(m, torch.nn.MultiheadAttention)} == {0.}
    assert case.model.backbone.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    with case.autocast():
        assert torch.get_autocast_dtype('cpu') == torch.bfloat16
        assert torch.is_autocast_enabled('cpu')
