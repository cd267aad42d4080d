"""Ablation variants (Table 2, Table 3), schedules and the runner."""
import json
import re

import pytest
from mmengine.config import Config

from repformer_mmpose.evaluation import report
from repformer_mmpose.evaluation.ablation import (TABLE2_VARIANTS,
                                                  apply_schedule,
                                                  apply_variant,
                                                  parse_schedule,
                                                  table2_variant,
                                                  tau_variant)

CONFIGS = 'configs/repformer'
R18_300W = f'{CONFIGS}/300w/repformer_res18_1xb16-360e_300w-256x256.py'
SYNTHFACE = (f'{CONFIGS}/synthface/'
             'repformer_res18-d128_1xb16-6e_synthface-128x128.py')


def load(repo_root, path):
    return Config.fromfile(str(repo_root / path))


def variant_of(path):
    """The variant a 300W ablation config file stands for."""
    match = re.match(r'table(\d)_(\w+?)_res18', path.name)
    table, name = match.groups()
    if table == '2':
        return table2_variant(name)
    return tau_variant(float(name[len('tau'):]))


def test_300w_ablation_configs_are_the_runner_variants(repo_root):
    base = load(repo_root, R18_300W)
    files = sorted((repo_root / CONFIGS / '300w' / 'ablation').glob('*.py'))
    assert len(files) == 6
    for path in files:
        expected = Config.fromfile(str(path)).model
        assert apply_variant(base, variant_of(path)).model == expected, \
            path.name
    # the full model and tau = 1000 are the R18 config itself
    assert apply_variant(base, table2_variant('full')).model == base.model
    assert apply_variant(base, tau_variant(1000)).model == base.model


def test_variants_switch_neck_and_head(repo_root):
    base = load(repo_root, SYNTHFACE)
    expected = {
        'baseline': ((3, ), False, False),
        'pth': ((1, 2, 3), True, False),
        'dlr': ((3, ), False, True),
        'full': ((1, 2, 3), True, True),
    }
    for variant in TABLE2_VARIANTS:
        model = apply_variant(base, variant).model
        assert (tuple(model.neck.in_indices), model.head.use_pyramid,
                model.head.use_dlr) == expected[variant.name]
    # from a single-memory config the pyramid is rebuilt
    baseline = apply_variant(base, table2_variant('baseline'))
    full = apply_variant(baseline, tau_variant(10))
    assert tuple(full.model.neck.in_indices) == (1, 2, 3)
    assert full.model.head.tau == 10.
    with pytest.raises(KeyError, match='unknown Table 2 variant'):
        table2_variant('pyramid')
    with pytest.raises(ValueError, match='tau must be positive'):
        tau_variant(0)


def test_parse_schedule_rejects_bad_items():
    assert parse_schedule(['iters=300', 'lr=1e-3']) == dict(iters=300,
                                                            lr=1e-3)
    for items, message in ((['lr=1e-3'], 'exactly one of'),
                           (['epochs=2', 'iters=3'], 'exactly one of'),
                           (['epochs=1.5'], 'whole number'),
                           (['steps=3'], 'KEY=VALUE'),
                           (['epochs=x'], 'not a number')):
        with pytest.raises(ValueError, match=message):
            parse_schedule(items)


def test_schedules_keep_the_config_shape(repo_root):
    cpu = load(repo_root, SYNTHFACE)  # warm-up 100 iters + cosine 6 epochs
    by_epoch = apply_schedule(cpu, parse_schedule(['epochs=3', 'lr=2e-3']))
    warmup, cosine = by_epoch.param_scheduler
    assert (warmup['end'], warmup['by_epoch']) == (100, False)
    assert (cosine['end'], cosine['T_max'], cosine['by_epoch']) == (3, 3,
                                                                    True)
    assert by_epoch.train_cfg.max_epochs == 3
    assert by_epoch.optim_wrapper.optimizer.lr == 2e-3
    assert by_epoch.val_dataloader is None and by_epoch.val_cfg is None
    assert by_epoch.default_hooks.checkpoint.save_best is None

    by_iter = apply_schedule(cpu, parse_schedule(['iters=40', 'batch=4']))
    warmup, cosine = by_iter.param_scheduler
    assert warmup['end'] == 40  # capped at the run's length
    assert (cosine['end'], cosine['T_max'], cosine['by_epoch']) == (40, 40,
                                                                    False)
    assert (by_iter.train_cfg.by_epoch, by_iter.train_cfg.max_iters) == (
        False, 40)
    assert by_iter.train_dataloader.batch_size == 4
    assert by_iter.log_processor.by_epoch is False

    paper = load(repo_root, R18_300W)  # x0.1 at epoch 200 of 360
    (step, ) = apply_schedule(paper, dict(epochs=36)).param_scheduler
    assert (step['milestones'], step['end']) == ([20], 36)


def test_runner_end_to_end_on_tiny_synthface(tmp_path, load_tool):
    tool = load_tool('analysis/run_ablation')
    work_dir = tmp_path / 'work'
    text = tool.main([
        SYNTHFACE, '--schedule', 'iters=2', 'batch=4', '--seed', '7',
        '--variants', 'baseline', 'full', '--taus', '1000',
        '--data-root', f'{tmp_path}/synthface/', '--num-train', '8',
        '--num-test', '6', '--work-dir', str(work_dir), '--cfg-options',
        'test_dataloader.batch_size=6'
    ])
    assert '**Synthetic results**' in text
    summary = json.loads((work_dir / 'ablation.json').read_text())
    assert summary['seed'] == 7 and summary['synthetic']
    assert summary['command'].startswith(
        'python tools/analysis/run_ablation.py ')
    assert summary['hardware']['cpu'] and summary['git_commit']
    rows = {row['variant']: row for row in summary['rows']}
    assert list(rows) == ['baseline', 'full', 'tau1000']
    assert rows['tau1000']['alias'] == 'full'
    assert rows['tau1000']['metrics'] == rows['full']['metrics']
    # stages: L^1..L^3 without DLR, L^0..L^3 with it
    assert set(rows['baseline']['metrics']) >= {'NME/stage1', 'NME/stage3'}
    assert 'NME/stage0' not in rows['baseline']['metrics']
    assert 'NME/stage0' in rows['full']['metrics']
    for name in ('baseline', 'full'):
        row = rows[name]
        assert (work_dir / name / 'iter_2.pth').is_file()
        # the table's figures are the predictions' figures
        evaluation = report.evaluate_dump(row['predictions'])
        assert evaluation.full.nme == pytest.approx(row['metrics']['NME'],
                                                    abs=1e-9)
        assert f'| {100 * evaluation.full.nme:.2f} |' in text
    table = [line for line in text.splitlines() if line.startswith('| ')]
    assert table[0].startswith('| variant | PTH | DLR | tau |')
    assert table[2].startswith('| baseline | no | no | - |')
    assert table[4].startswith('| tau = 1000 | yes | yes | 1000 |')
    assert table[4].endswith('| = full | = full |')
    assert (work_dir / 'report' / 'ced_synthface.png').is_file()
