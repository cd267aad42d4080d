"""The main job: train and evaluate RePFormer, print the NME table, draw.

By default it runs on SynthFace, the built-in synthetic face set (generated
on first use), with a CPU-sized schedule::

    python tools/main_job.py

With a real MMPose-format data set, name its config and root, e.g.::

    python tools/main_job.py --data-root data/300w/ --config \
        configs/repformer/300w/repformer_res18_1xb16-360e_300w-256x256.py

Outputs in ``--work-dir``: mmengine's logs and checkpoints,
``nme_table.md`` (full test set and every subset found next to the test
file, RePFormer against the mean-shape baseline, with FR@0.10, AUC@0.10
and the NME of every refinement stage, from ``FaceLandmarkMetric``) and
``predictions.png`` (ground truth green, prediction red).
"""
from __future__ import annotations

import repformer_mmpose  # noqa: F401  (first: registers the plugin, quiets mmengine)
import argparse
import copy
import os.path as osp

import cv2
import numpy as np
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from repformer_mmpose.engine import (add_checkpoint_guard,
                                     exit_on_checkpoint_errors)
from repformer_mmpose.engine.mmpose_tools import set_data_root
from repformer_mmpose.evaluation import FaceEvaluation, mean_shape_errors
from repformer_mmpose.evaluation.eval_config import (face_metric_of,
                                                     test_ann_path,
                                                     use_face_metric)
from repformer_mmpose.evaluation.face_alignment import INTEROCULAR_INDICES
from repformer_mmpose.evaluation import report
from repformer_mmpose.evaluation.report import load_dump

DEFAULT_CONFIG = ('configs/repformer/synthface/'
                  'repformer_res18-d128_1xb16-6e_synthface-128x128.py')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument(
        '--data-root', help='data root (default: the config\'s)')
    parser.add_argument('--work-dir', default='work_dirs/main_job')
    parser.add_argument(
        '--checkpoint',
        help='evaluate this checkpoint instead of training one')
    parser.add_argument(
        '--num-train', type=int,
        help='faces of the generated SynthFace training set (default 3000; '
        'SynthFace configs only)')
    parser.add_argument(
        '--num-test', type=int,
        help='faces of the generated SynthFace test set (default 500; '
        'SynthFace configs only)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-vis', type=int, default=16)
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace) -> Config:
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    if args.data_root:
        set_data_root(cfg, args.data_root)
    cfg.work_dir = args.work_dir
    cfg.randomness = dict(seed=args.seed)
    # --checkpoint must exist and fit the model (mmengine only warns)
    add_checkpoint_guard(cfg)
    return cfg


def ensure_synthface(cfg: Config, args: argparse.Namespace) -> None:
    """Generate SynthFace where a SynthFace config points, if missing.
    ``--num-train``/``--num-test`` size that set: with another data set
    they are refused (they would change nothing)."""
    ann_file = cfg.train_dataloader.dataset.ann_file
    if 'synthface' not in ann_file:
        given = [flag for flag, value in (('--num-train', args.num_train),
                                          ('--num-test', args.num_test))
                 if value is not None]
        if given:
            raise SystemExit(
                f'main_job.py: error: {" and ".join(given)} size the '
                f'generated SynthFace set; {args.config} reads {ann_file}, '
                'whose size is fixed')
        return
    from repformer_mmpose.datasets.synthface import generate_synthface
    generate_synthface(
        cfg.train_dataloader.dataset.data_root,
        num_train=3000 if args.num_train is None else args.num_train,
        num_test=500 if args.num_test is None else args.num_test,
        seed=args.seed)


def evaluate(cfg: Config, checkpoint: str,
             dump_file: str) -> tuple[FaceEvaluation, dict, int]:
    """Test ``checkpoint`` once with ``FaceLandmarkMetric`` (full test set,
    the subsets found beside it, every refinement stage).

    Returns:
        The evaluation, the metric's config (with its subset files) and
        the index of the first stage.
    """
    cfg = use_face_metric(cfg, dump_file=dump_file)
    cfg.load_from = checkpoint
    cfg.work_dir = osp.join(cfg.work_dir, 'test')
    # mmengine keeps one visualizer per name in the process
    cfg.visualizer.name = f'{cfg.visualizer.get("name", "vis")}_test'
    runner = Runner.from_cfg(cfg)
    runner.test()
    metric = face_metric_of(runner)
    return metric.last_evaluation, cfg.test_evaluator[0], metric.first_stage


def eye_indices(cfg: Config) -> tuple[int, int] | None:
    """The outer eye corners MMPose's NME normalises by, for this data set
    (None where it normalises otherwise, e.g. AFLW's box size)."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.registry import DATASETS
    dataset_class = DATASETS.get(cfg.test_dataloader.dataset.type)
    name = parse_pose_metainfo(dataset_class.METAINFO)['dataset_name']
    return INTEROCULAR_INDICES.get(name)


def model_name(cfg: Config) -> str:
    """What the tables call the model: RePFormer, or the head of another
    config (e.g. MMPose's regression baseline)."""
    head = cfg.model.get('head', {}).get('type', 'model')
    return 'RePFormer' if head == 'PTHHead' else head


def nme_table(cfg: Config, checkpoint: str, dump_file: str) -> str:
    """The model against the mean-shape floor on the full test set and
    every subset found beside it; NME of every refinement stage."""
    evaluation, metric, first = evaluate(cfg, checkpoint, dump_file)
    eyes = eye_indices(cfg)
    train_file = osp.join(cfg.train_dataloader.dataset.data_root,
                          cfg.train_dataloader.dataset.ann_file)
    files = {'full': test_ann_path(cfg), **metric.get('subset_files', {})}
    sets = {'full': evaluation.full, **evaluation.subsets}
    fr, auc = (f'FR@{evaluation.threshold:.2f}',
               f'AUC@{evaluation.threshold:.2f}')
    rows = [
        f'| test split | faces | {model_name(cfg)} NME (%) | '
        'mean-shape NME (%) | '
        f'ratio | {fr} (%) | {auc} |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: |'
    ]
    for name, result in sets.items():
        if not result.faces:
            continue
        model_nme = 100 * result.nme
        scores = f'{100 * result.fr:.2f} | {result.auc:.4f}'
        if eyes is None or name not in files:
            # not normalised inter-ocularly, or no file: no baseline
            rows.append(f'| {name} | {result.faces} | {model_nme:.2f} '
                        f'| n/a | n/a | {scores} |')
            continue
        baseline = 100 * float(
            mean_shape_errors(train_file, files[name], eyes).mean())
        rows.append(f'| {name} | {result.faces} | {model_nme:.2f} | '
                    f'{baseline:.2f} | {baseline / model_nme:.1f}x | '
                    f'{scores} |')
    table = '\n'.join(rows)
    if evaluation.stage_nmes:
        stages = ', '.join(
            f'L^{first + i} {100 * nme:.2f}'
            for i, nme in enumerate(evaluation.stage_nmes))
        table += f'\n\nNME (%) per refinement stage, full set: {stages}'
    header, rows = report.confidence_table(
        [report.ModelResult(model_name(cfg), 'test', evaluation, first)])
    if rows:
        table += ('\n\nPer-point confidence (keypoint_scores):\n\n' +
                  report.markdown_table(header[2:], [r[2:] for r in rows]))
    return table


def draw_predictions(dump_file: str, out_file: str, num: int,
                     tile: int = 256) -> None:
    """A grid of test faces: ground truth green, prediction red."""
    samples = load_dump(dump_file)[:num]  # refuses code in the pickle
    tiles = []
    for sample in samples:
        image = cv2.imread(sample['img_path'])
        gt = np.asarray(sample['gt_instances']['keypoints'])[0]
        pred = np.asarray(sample['pred_instances']['keypoints'])[0]
        x0, y0 = np.minimum(gt.min(0), pred.min(0)) - 20
        x1, y1 = np.maximum(gt.max(0), pred.max(0)) + 20
        side = max(x1 - x0, y1 - y0)
        scale = tile / side
        affine = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]])
        canvas = cv2.warpAffine(image, affine, (tile, tile))
        for points, colour in ((gt, (0, 200, 0)), (pred, (0, 0, 255))):
            for x, y in points * scale - np.array([x0, y0]) * scale:
                cv2.circle(canvas, (int(round(x)), int(round(y))), 2, colour,
                           -1, cv2.LINE_AA)
        tiles.append(canvas)
    columns = int(np.ceil(np.sqrt(len(tiles))))
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    grid = np.vstack([
        np.hstack(tiles[row:row + columns])
        for row in range(0, len(tiles), columns)
    ])
    cv2.imwrite(out_file, grid)


def main(argv: list[str] | None = None) -> str:
    args = parse_args(argv)
    cfg = load_config(args)
    ensure_synthface(cfg, args)
    checkpoint = args.checkpoint
    if checkpoint is None:
        runner = Runner.from_cfg(copy.deepcopy(cfg))
        runner.train()
        # the last epoch's weights: the test split also serves as val
        # split, so picking the "best" epoch on it would leak
        checkpoint = runner.message_hub.get_info('last_ckpt')
    dump_file = osp.join(cfg.work_dir, 'test_predictions.pkl')
    table = nme_table(cfg, checkpoint, dump_file)
    png = osp.join(cfg.work_dir, 'predictions.png')
    draw_predictions(dump_file, png, args.num_vis)
    data_root = cfg.test_dataloader.dataset.data_root
    report = (f'{model_name(cfg)} NME on {data_root} '
              f'(checkpoint {checkpoint}):\n\n{table}\n\n'
              f'Predictions drawn: {png}\n')
    with open(osp.join(cfg.work_dir, 'nme_table.md'), 'w') as f:
        f.write(report)
    print('\n' + report)
    return report


if __name__ == '__main__':
    with exit_on_checkpoint_errors(__file__):
        main()
