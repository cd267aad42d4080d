"""Run the paper's ablations (Table 2 components, Table 3 tau) on any data.

Each variant is the data/base CONFIG (a RePFormer config) with the
overrides of :mod:`repformer_mmpose.evaluation.ablation`, trained with the
same ``--schedule`` and ``--seed`` from scratch, then tested once on its
last weights with ``FaceLandmarkMetric`` (NME, FR@0.10, AUC@0.10, subsets,
NME of every refinement stage)::

    python tools/analysis/run_ablation.py CONFIG --schedule iters=300 \
        --taus 1 10 100 1000 10000 --work-dir work_dirs/ablation_synthface

with CONFIG e.g.
``configs/repformer/synthface/repformer_res18-d128_1xb16-6e_synthface-128x128.py``.

``--schedule`` takes ``epochs=N`` or ``iters=N`` and optionally ``lr=``,
``warmup=`` (iterations) and ``batch=``. Written to ``--work-dir``:
``ablation.md`` (the tables, command, seed, hardware, wall times, git
commit), ``ablation.json`` (the same, machine-readable), ``report/``
(CED plot and Table 1-style files) and one folder per variant (log,
final weights, ``predictions.pkl``, ``result.json``). ``--reuse`` keeps
the variants whose ``result.json`` is already there.
"""
from __future__ import annotations

import repformer_mmpose  # noqa: F401  (first: registers the plugin, quiets mmengine)
import argparse
import copy
import gc
import itertools
import json
import os
import os.path as osp
import platform
import shlex
import subprocess
import sys
import time

from mmengine.config import Config, DictAction

from repformer_mmpose.evaluation import report
from repformer_mmpose.evaluation.ablation import (TABLE2_VARIANTS, Variant,
                                                  apply_schedule,
                                                  apply_variant,
                                                  parse_schedule,
                                                  refinement_variant,
                                                  table2_variant,
                                                  tau_variant,
                                                  temperature_label)
from repformer_mmpose.evaluation.eval_config import (dataset_label,
                                                     face_metric_cfg,
                                                     face_metric_of,
                                                     first_stage,
                                                     test_ann_path,
                                                     use_face_metric)
from repformer_mmpose.evaluation.subsets import load_subsets

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
RUN_COUNTER = itertools.count()
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='RePFormer data/base config')
    parser.add_argument(
        '--schedule', nargs='+', required=True, metavar='KEY=VALUE',
        help='epochs=N or iters=N, optionally lr=, warmup=, batch=')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--work-dir', help='default work_dirs/ablation_'
                        '<config name>')
    parser.add_argument(
        '--variants', nargs='*', default=[v.name for v in TABLE2_VARIANTS],
        choices=[v.name for v in TABLE2_VARIANTS],
        help='Table 2 rows to run (default: all four)')
    parser.add_argument(
        '--taus', nargs='*', type=float, default=[],
        help='Table 3: full model with these tau values (the config\'s tau '
        'reuses the "full" row when that runs)')
    parser.add_argument(
        '--refinements', nargs='*', default=[], metavar='OPTION[+OPTION]',
        help='beyond the paper: the full model with these head options '
        '(subcell, identity, sharp-pos, learned-pos, stopgrad, '
        'sigma<cells>; + combines them)')
    parser.add_argument('--data-root', help='data root of every loader')
    parser.add_argument(
        '--num-train', type=int, default=3000,
        help='SynthFace training faces, when it must be generated')
    parser.add_argument('--num-test', type=int, default=500)
    parser.add_argument('--title', help='table title')
    parser.add_argument(
        '--reuse', action='store_true',
        help='keep variants whose result.json exists in the work dir')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace) -> Config:
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    if args.data_root:
        for loader in LOADERS:
            if cfg.get(loader):
                cfg[loader].dataset.data_root = args.data_root
    return cfg


def is_synthetic(cfg: Config) -> bool:
    return 'synthface' in test_ann_path(cfg).lower()


def ensure_data(cfg: Config, args: argparse.Namespace) -> None:
    """Generate SynthFace where a SynthFace config points, if missing;
    otherwise require the annotation files."""
    for loader in ('train_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        path = osp.join(dataset.get('data_root') or '', dataset.ann_file)
        if osp.isfile(path):
            continue
        if 'synthface' in path.lower():
            from repformer_mmpose.datasets.synthface import \
                generate_synthface
            generate_synthface(dataset.data_root, num_train=args.num_train,
                               num_test=args.num_test, seed=0)
        if not osp.isfile(path):
            raise FileNotFoundError(f'{loader}.dataset: annotation file '
                                    f'not found: {path}')


def hardware() -> dict:
    """CPU model, cores and threads of this machine (GPU if one is used)."""
    import torch
    cpu = platform.processor() or 'unknown CPU'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    info = dict(
        cpu=cpu,
        cpu_count=os.cpu_count(),
        usable_cores=len(os.sched_getaffinity(0)) if hasattr(
            os, 'sched_getaffinity') else os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        omp_num_threads=os.environ.get('OMP_NUM_THREADS'),
        torch=torch.__version__,
        python=platform.python_version())
    if torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(0)
    return info


def git_commit() -> str:
    """``HEAD`` of the repository, ``+dirty`` with uncommitted changes."""
    try:
        commit = subprocess.run(
            ['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO, text=True,
            capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(
            ['git', 'status', '--porcelain', '--untracked-files=no'],
            cwd=REPO, text=True, capture_output=True,
            check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'
    return commit + ('+dirty' if dirty else '')


def plan(args: argparse.Namespace, cfg: Config
         ) -> list[tuple[Variant, str | None]]:
    """``(variant, alias)`` to report, in order; ``alias`` names the run
    whose result a row reuses (tau equal to the full model's)."""
    rows: list[tuple[Variant, str | None]] = [
        (table2_variant(name), None) for name in args.variants
    ]
    base_tau = float(cfg.model.head.get('tau', 1000.))
    for tau in args.taus:
        variant = tau_variant(tau)
        alias = 'full' if (tau == base_tau
                           and 'full' in args.variants) else None
        rows.append((variant, alias))
    rows += [(refinement_variant(name), None) for name in args.refinements]
    names = [v.name for v, _ in rows]
    if len(set(names)) != len(names):
        raise ValueError(f'a variant is asked for twice: {names}')
    return rows


def variant_config(cfg: Config, variant: Variant, schedule: dict,
                   seed: int, work_dir: str) -> Config:
    cfg = apply_schedule(apply_variant(cfg, variant), schedule)
    cfg = use_face_metric(
        cfg, dump_file=osp.join(work_dir, 'predictions.pkl'))
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed, deterministic=False)
    # one mmengine visualizer / message hub per run in this process
    run = f'ablation_{variant.name}_{os.getpid()}_{next(RUN_COUNTER)}'
    cfg.visualizer.name = run
    cfg.experiment_name = run
    cfg.load_from = None
    cfg.resume = False
    return cfg


def run_variant(cfg: Config, variant: Variant, schedule: dict, seed: int,
                work_dir: str) -> dict:
    """Train and test one variant; returns its ``result.json`` content."""
    from mmengine.runner import Runner
    run_cfg = variant_config(cfg, variant, schedule, seed, work_dir)
    start = time.perf_counter()
    runner = Runner.from_cfg(run_cfg)
    runner.train()
    trained = time.perf_counter()
    metrics = runner.test()
    tested = time.perf_counter()
    evaluation = face_metric_of(runner).last_evaluation
    del runner
    gc.collect()
    result = dict(
        variant=variant.name,
        label=variant.label,
        use_pyramid=variant.use_pyramid,
        use_dlr=variant.use_dlr,
        tau=temperature_label(run_cfg.model.head),
        first_stage=first_stage(run_cfg),
        metrics={k: float(v) for k, v in metrics.items()},
        faces=evaluation.full.faces,
        normalisation=evaluation.normalisation(),
        train_seconds=round(trained - start, 1),
        test_seconds=round(tested - trained, 1),
        predictions=osp.join(work_dir, 'predictions.pkl'))
    with open(osp.join(work_dir, 'result.json'), 'w') as f:
        json.dump(result, f, indent=1)
    return result


def model_result(cfg: Config, row: dict,
                 dataset: str) -> report.ModelResult:
    """The report entry of a finished variant, from its predictions."""
    metric = face_metric_cfg(cfg)
    subsets = load_subsets(metric.get('subset_files'),
                           metric.get('attribute_file'))
    evaluation = report.evaluate_dump(
        row['predictions'], subsets, metric.get('norm_mode', 'auto'),
        metric.get('keypoint_indices'))
    return report.ModelResult(row['label'], dataset, evaluation,
                              row['first_stage'])


def ablation_table(rows: list[dict], results: list[report.ModelResult]
                   ) -> tuple[list[str], list[list[str]]]:
    """Rows = variants; NME of the full set and subsets, FR, AUC, stages,
    wall time."""
    nme_header, nme_rows = report.nme_table(results)
    stage_header, stage_rows = report.stage_table(results)
    stage_cols = stage_header[2:]
    stages_by_model = {r[0]: r[2:] for r in stage_rows}
    threshold = results[0].evaluation.threshold
    # one data set: its name is in the title, not in every column
    prefix = f'{results[0].dataset} '
    nme_cols = [c[len(prefix):] if c.startswith(prefix) else c
                for c in nme_header[1:]]
    header = (['variant', 'PTH', 'DLR', 'tau'] + [
        f'{c} NME (%)' for c in nme_cols
    ] + [
        f'FR@{threshold:.2f} (%)', f'AUC@{threshold:.2f}'
    ] + [f'{c} NME (%)' for c in stage_cols] +
              ['train (s)', 'test (s)'])
    table = []
    for row, result, nme_row in zip(rows, results, nme_rows):
        full = result.evaluation.full
        table.append([
            row['label'], 'yes' if row['use_pyramid'] else 'no',
            'yes' if row['use_dlr'] else 'no',
            tau_cell(row['tau']) if row['use_dlr'] else '-',
            *nme_row[1:], f'{100 * full.fr:.2f}', f'{full.auc:.4f}',
            *stages_by_model.get(result.model, ['-'] * len(stage_cols)),
            *([f'= {row["alias"]}'] * 2 if row.get('alias') else [
                f'{row["train_seconds"]:.0f}', f'{row["test_seconds"]:.0f}'
            ])
        ])
    return header, table


def tau_cell(tau: float | str) -> str:
    """Older result.json files hold tau as a number."""
    return f'{tau:g}' if isinstance(tau, (int, float)) else tau


def write_outputs(args: argparse.Namespace, cfg: Config, rows: list[dict],
                  results: list[report.ModelResult], info: dict) -> str:
    header, table = ablation_table(rows, results)
    synthetic = is_synthetic(cfg)
    title = args.title or (f'Ablation on {results[0].dataset}' +
                           (' (synthetic data)' if synthetic else ''))
    lines = [f'# {title}', '']
    if synthetic:
        lines += [
            '**Synthetic results** (SynthFace): they compare the variants '
            'on procedural faces, not on real ones.', ''
        ]
    lines += [
        f'Command: `{info["command"]}`', '',
        f'- config: `{args.config}`, test set `{info["test_ann_file"]}` '
        f'({results[0].evaluation.full.faces} faces)',
        f'- schedule: {info["schedule"]}, seed {args.seed} (same for every '
        'variant), from the config\'s initialisation',
        f'- NME normalised by {results[0].evaluation.normalisation()}',
        f'- hardware: {info["hardware"]["cpu"]}, '
        f'{info["hardware"]["usable_cores"]} usable cores, torch threads '
        f'{info["hardware"]["torch_threads"]}'
        + (f', GPU {info["hardware"]["gpu"]}'
           if 'gpu' in info['hardware'] else ''),
        f'- git commit: {info["git_commit"]}; wall time '
        f'{info["variant_seconds"]:.0f} s of training and testing, '
        f'{info["wall_seconds"]:.0f} s for this command ({info["date"]})',
        '- tau only acts with DLR (Eq. 10); FR, AUC and the stages are on '
        'the full test set', '',
        report.markdown_table(header, table), ''
    ]
    aliases = [r for r in rows if r.get('alias')]
    for row in aliases:
        lines.append(f'- "{row["label"]}" is the "{row["alias"]}" run '
                     '(same model and tau), not a separate training.')
    if aliases:
        lines.append('')
    text = '\n'.join(lines)
    with open(osp.join(info['work_dir'], 'ablation.md'), 'w') as f:
        f.write(text)
    with open(osp.join(info['work_dir'], 'ablation.json'), 'w') as f:
        json.dump(dict(info, title=title, rows=rows), f, indent=1)
    unique = [r for r, row in zip(results, rows) if not row.get('alias')]
    report.write_report(unique, osp.join(info['work_dir'], 'report'),
                        title=title)
    return text


def main(argv: list[str] | None = None) -> str:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    schedule = parse_schedule(args.schedule)
    cfg = load_config(args)
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'ablation_' + osp.splitext(osp.basename(
            args.config))[0])
    os.makedirs(work_dir, exist_ok=True)
    ensure_data(cfg, args)
    dataset = dataset_label(cfg)
    start = time.perf_counter()
    rows, done = [], {}
    for variant, alias in plan(args, cfg):
        if alias:
            row = dict(copy.deepcopy(done[alias]), variant=variant.name,
                       label=variant.label, alias=alias)
            rows.append(row)
            continue
        variant_dir = osp.join(work_dir, variant.name)
        os.makedirs(variant_dir, exist_ok=True)
        result_file = osp.join(variant_dir, 'result.json')
        if args.reuse and osp.isfile(result_file):
            with open(result_file) as f:
                row = json.load(f)
        else:
            row = run_variant(cfg, variant, schedule, args.seed,
                              variant_dir)
        done[variant.name] = row
        rows.append(row)
    results = [model_result(cfg, row, dataset) for row in rows]
    info = dict(
        command=shlex.join(['python', 'tools/analysis/run_ablation.py',
                            *argv]),
        config=args.config,
        test_ann_file=test_ann_path(cfg),
        schedule=' '.join(args.schedule),
        seed=args.seed,
        synthetic=is_synthetic(cfg),
        hardware=hardware(),
        git_commit=git_commit(),
        wall_seconds=time.perf_counter() - start,
        variant_seconds=sum(r['train_seconds'] + r['test_seconds']
                            for r in done.values()),
        date=time.strftime('%Y-%m-%d %H:%M'),
        work_dir=work_dir)
    text = write_outputs(args, cfg, rows, results, info)
    print('\n' + text)
    return text


if __name__ == '__main__':
    main()
