"""Evaluate a checkpoint: MMPose's ``tools/test.py``, every flag of it,
plus face-landmark reports, every refinement stage, bf16 inference and
``--data-root``.

Example::

    python tools/test.py CONFIG CHECKPOINT --work-dir work_dirs/eval

MMPose's flags (``--work-dir``, ``--out`` (metrics), ``--dump``
(predictions, a pickle), ``--show-dir``, ``--show``, ``--interval``,
``--wait-time``, ``--badcase``, ``--cfg-options``, ``--launcher``) are
parsed and merged by MMPose's own script. With ``--report DIR`` the test
uses ``FaceLandmarkMetric`` (NME, FR@0.10, AUC@0.10, every subset found
beside the test annotation file, every refinement stage), dumps the
predictions to ``DIR/predictions.pkl`` and writes ``DIR/report.md``,
``DIR/table1_nme.csv``, ``DIR/results.csv``, ``DIR/ced_<dataset>.png`` and
``DIR/run.json`` (what ``tools/analysis/report.py --run DIR`` reads to put
several models and data sets in one table).
"""
from __future__ import annotations

import repformer_mmpose  # noqa: F401  (first: registers the plugin, quiets mmengine)
import argparse
import json
import os
import os.path as osp

import mmengine
from mmengine.config import Config
from mmengine.runner import Runner

from repformer_mmpose.engine import (CheckpointNotFoundError,
                                     add_checkpoint_guard,
                                     exit_on_checkpoint_errors,
                                     explain_unknown_types)
from repformer_mmpose.engine.optim_wrappers import allow_bf16_to_numpy
from repformer_mmpose.engine.mmpose_tools import (load_mmpose_tool,
                                                  parse_tool_args,
                                                  set_data_root)
from repformer_mmpose.engine.recipes import use_channels_last
from repformer_mmpose.evaluation import report
from repformer_mmpose.evaluation.eval_config import (dataset_label,
                                                     face_metric_of,
                                                     use_face_metric)

MMPOSE_TEST = load_mmpose_tool('test')


def our_flags() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description='Evaluate a pose model (MMPose\'s tools/test.py with '
        'the RePFormer plugin)', add_help=False, allow_abbrev=False)
    parser.add_argument(
        '--output-stages',
        action='store_true',
        help='also predict every refinement stage (pred stage_keypoints)')
    parser.add_argument(
        '--report',
        metavar='DIR',
        help='face-landmark report (Table 1 layout, FR/AUC, CED) into DIR')
    parser.add_argument(
        '--model-name', help='row name in the report (default: config name)')
    parser.add_argument(
        '--dataset-label',
        help='column group in the report (default: from the data root)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed-precision inference (bf16 autocast on a CPU)')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='channels-last convolutions (ChannelsLastHook)')
    parser.add_argument(
        '--data-root', help='the data root of the test set')
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return parse_tool_args(MMPOSE_TEST, our_flags(), argv, 'test.py')


def build_config(args: argparse.Namespace) -> Config:
    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        raise CheckpointNotFoundError(
            f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    if args.data_root:
        set_data_root(cfg, args.data_root)
    if args.output_stages:
        cfg.model.test_cfg.output_stages = True
    cfg = MMPOSE_TEST.merge_args(cfg, args)  # --cfg-options included
    if args.report:  # after the options: the metric reads the data root
        dumps = [evaluator for evaluator in cfg.test_evaluator
                 if evaluator.get('type') == 'DumpResults'] if isinstance(
                     cfg.test_evaluator, list) else []
        cfg = use_face_metric(
            cfg, dump_file=osp.join(args.report, 'predictions.pkl'))
        cfg.test_evaluator += dumps  # --dump
    if args.amp:  # mmengine's TestLoop: bf16 autocast on CPU
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, fp16=True)
        allow_bf16_to_numpy()  # MMPose's decoders read heads via numpy
    if args.channels_last:
        use_channels_last(cfg)
    # the checkpoint must fit the model (mmengine only warns)
    add_checkpoint_guard(cfg)
    return cfg


def write_report(args: argparse.Namespace, cfg: Config, runner: Runner,
                 metrics: dict) -> dict[str, str]:
    """The report of this run, and ``run.json`` describing it."""
    metric = face_metric_of(runner)
    model = args.model_name or osp.splitext(osp.basename(args.config))[0]
    dataset = args.dataset_label or dataset_label(cfg)
    result = report.ModelResult(model, dataset, metric.last_evaluation,
                                metric.first_stage)
    written = report.write_report([result], args.report,
                                  title=f'{model} on {dataset}')
    run = dict(
        model=model,
        dataset=dataset,
        config=args.config,
        checkpoint=args.checkpoint,
        predictions='predictions.pkl',  # beside this file
        metric=cfg.test_evaluator[0],
        first_stage=metric.first_stage,
        metrics={k: float(v) for k, v in metrics.items()})
    written['run'] = osp.join(args.report, 'run.json')
    with open(written['run'], 'w') as f:
        json.dump(run, f, indent=1)
    return written


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    cfg = build_config(args)
    if args.report:
        os.makedirs(args.report, exist_ok=True)
    # an unknown `type` names this file (or the --cfg-options) and the key
    with explain_unknown_types(cfg, args.config, args.cfg_options):
        runner = Runner.from_cfg(cfg)
        metrics = runner.test()
    if args.out:  # as MMPose's test.py: the metrics
        mmengine.dump(metrics, args.out)
    if args.report:
        for path in write_report(args, cfg, runner, metrics).values():
            print(f'report: {path}')
    return metrics


if __name__ == '__main__':
    with exit_on_checkpoint_errors(__file__):
        main()
