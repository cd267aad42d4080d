"""The main job: train and evaluate RePFormer, print the NME table, draw.

By default it runs on SynthFace, the built-in synthetic face set (generated
on first use), with a CPU-sized schedule::

    python tools/main_job.py

With a real MMPose-format data set, name its config and root, e.g.::

    python tools/main_job.py --data-root data/300w/ --config \
        configs/repformer/300w/repformer_res18_1xb16-360e_300w-256x256.py

Outputs in ``--work-dir``: mmengine's logs and checkpoints,
``nme_table.md`` (full test set and every attribute subset found next to
the test file, RePFormer against the mean-shape baseline) and
``predictions.png`` (ground truth green, prediction red).
"""
from __future__ import annotations

import argparse
import copy
import json
import os.path as osp
import pickle

import cv2
import numpy as np
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from repformer_mmpose.evaluation import mean_shape_errors

DEFAULT_CONFIG = ('configs/repformer/synthface/'
                  'repformer_res18-d128_1xb16-6e_synthface-128x128.py')
SUBSETS = ('largepose', 'expression', 'illumination', 'makeup', 'occlusion',
           'blur')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument(
        '--data-root', help='data root (default: the config\'s)')
    parser.add_argument('--work-dir', default='work_dirs/main_job')
    parser.add_argument(
        '--checkpoint',
        help='evaluate this checkpoint instead of training one')
    parser.add_argument('--num-train', type=int, default=3000)
    parser.add_argument('--num-test', type=int, default=500)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-vis', type=int, default=16)
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace) -> Config:
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    if args.data_root:
        for loader in LOADERS:
            cfg[loader].dataset.data_root = args.data_root
    cfg.work_dir = args.work_dir
    cfg.randomness = dict(seed=args.seed)
    return cfg


def ensure_synthface(cfg: Config, args: argparse.Namespace) -> None:
    """Generate SynthFace where a SynthFace config points, if missing."""
    if 'synthface' not in cfg.train_dataloader.dataset.ann_file:
        return
    from repformer_mmpose.datasets.synthface import generate_synthface
    generate_synthface(
        cfg.train_dataloader.dataset.data_root,
        num_train=args.num_train,
        num_test=args.num_test,
        seed=args.seed)


def test_ann_files(cfg: Config) -> dict[str, str]:
    """``{name: ann_file}``: the test file and the attribute subsets found
    beside it (``<test>_<subset>.json``, MMPose's WFLW naming)."""
    dataset = cfg.test_dataloader.dataset
    files = {'full': dataset.ann_file}
    stem, ext = osp.splitext(dataset.ann_file)
    for subset in SUBSETS:
        candidate = f'{stem}_{subset}{ext}'
        if osp.isfile(osp.join(dataset.data_root, candidate)):
            files[subset] = candidate
    return files


def evaluate(cfg: Config, checkpoint: str, ann_file: str,
             dump_file: str | None = None) -> float:
    """MMPose's NME of ``checkpoint`` on ``ann_file``."""
    cfg = copy.deepcopy(cfg)
    cfg.load_from = checkpoint
    cfg.test_dataloader.dataset.ann_file = ann_file
    cfg.work_dir = osp.join(cfg.work_dir, 'test')
    # mmengine keeps one visualizer per name in the process: one per test.
    stem = osp.splitext(osp.basename(ann_file))[0]
    cfg.visualizer.name = f'{cfg.visualizer.get("name", "vis")}_{stem}'
    if dump_file:
        evaluators = cfg.test_evaluator if isinstance(
            cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = [
            *evaluators,
            dict(type='DumpResults', out_file_path=dump_file)
        ]
    metrics = Runner.from_cfg(cfg).test()
    return float(metrics['NME'])


def eye_indices(cfg: Config) -> tuple[int, int] | None:
    """The outer eye corners MMPose's NME normalises by, for this data set
    (None where it normalises otherwise, e.g. AFLW's box size)."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.evaluation.metrics import NME
    from mmpose.registry import DATASETS
    dataset_class = DATASETS.get(cfg.test_dataloader.dataset.type)
    name = parse_pose_metainfo(dataset_class.METAINFO)['dataset_name']
    indices = NME.DEFAULT_KEYPOINT_INDICES.get(name)
    return tuple(indices) if indices else None


def face_count(path: str) -> int:
    with open(path) as f:
        return len(json.load(f)['annotations'])


def nme_table(cfg: Config, checkpoint: str, dump_file: str) -> str:
    dataset = cfg.test_dataloader.dataset
    eyes = eye_indices(cfg)
    train_file = osp.join(cfg.train_dataloader.dataset.data_root,
                          cfg.train_dataloader.dataset.ann_file)
    rows = [
        '| test split | faces | RePFormer NME (%) | mean-shape NME (%) | '
        'ratio |', '| --- | ---: | ---: | ---: | ---: |'
    ]
    for name, ann_file in test_ann_files(cfg).items():
        path = osp.join(dataset.data_root, ann_file)
        model_nme = 100 * evaluate(cfg, checkpoint, ann_file,
                                   dump_file if name == 'full' else None)
        if eyes is None:  # not normalised inter-ocularly: no baseline
            rows.append(f'| {name} | {face_count(path)} | {model_nme:.2f} '
                        '| n/a | n/a |')
            continue
        baseline = 100 * float(
            mean_shape_errors(train_file, path, eyes).mean())
        rows.append(f'| {name} | {face_count(path)} | {model_nme:.2f} | '
                    f'{baseline:.2f} | {baseline / model_nme:.1f}x |')
    return '\n'.join(rows)


def draw_predictions(dump_file: str, out_file: str, num: int,
                     tile: int = 256) -> None:
    """A grid of test faces: ground truth green, prediction red."""
    with open(dump_file, 'rb') as f:
        samples = pickle.load(f)[:num]
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
    report = (f'RePFormer NME on {cfg.test_dataloader.dataset.data_root} '
              f'(checkpoint {checkpoint}):\n\n{table}\n\n'
              f'Predictions drawn: {png}\n')
    with open(osp.join(cfg.work_dir, 'nme_table.md'), 'w') as f:
        f.write(report)
    print('\n' + report)
    return report


if __name__ == '__main__':
    main()
