"""Does every refinement stage refine? Per-stage diagnostic of a RePFormer.

    python tools/analysis/refinement.py CONFIG CHECKPOINT \
        [--data ANN_FILE] [--data-root DIR] [--max-faces N] [--eyes 36 45] \
        [--output table.md]

For every DLR stage ``L^{i-1} -> L^i`` on the config's test set (or
``--data``): NME of the stage's input and output, the share of faces it
improves, the effective number of memory cells in the Eq. 10 weights, the
share of landmarks whose top cell is shared with another landmark, and the
gradient of the stage's loss w.r.t. ``L^{i-1}`` through the query versus
through Eq. 8's residual sum, and the share of live (ever active) units
in the stage's residual predictor (see
:mod:`repformer_mmpose.evaluation.refinement`). Prints a Markdown table.
"""
from __future__ import annotations

import repformer_mmpose  # noqa: F401  (first: registers the plugin, quiets mmengine)
import argparse
import sys

import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.runner import Runner

from repformer_mmpose.apis import init_face_model, load_config
from repformer_mmpose.engine import exit_on_checkpoint_errors
from repformer_mmpose.evaluation.face_alignment import INTEROCULAR_INDICES
from repformer_mmpose.evaluation.refinement import (StageStatistics,
                                                    accumulate_batch,
                                                    markdown_table)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--data', help='annotation file to use instead of '
                        "the config's test set (relative to --data-root)")
    parser.add_argument('--data-root', help='data root of the test set')
    parser.add_argument('--max-faces', type=int, default=0,
                        help='stop after this many faces (0: all)')
    parser.add_argument('--eyes', type=int, nargs=2, metavar=('I', 'J'),
                        help='normalising points (default: the data '
                        "set's outer eye corners, as MMPose's NME)")
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--output', help='also write the table here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={})
    return parser.parse_args(argv)


def input_space_labels(data_sample,
                       codec) -> tuple[torch.Tensor, torch.Tensor]:
    """Ground truth of a test sample in the codec's normalised frame
    ``(1, N, 2)`` and its visibility ``(1, N)``: the crop (MMPose's
    ``TopdownAffine``, no rotation at test time) applied to the image-space
    keypoints, then the codec's normalisation."""
    meta = data_sample.metainfo
    gt = data_sample.gt_instances
    center = np.asarray(meta['input_center'], np.float32)
    scale = np.asarray(meta['input_scale'], np.float32)
    size = np.asarray(meta['input_size'], np.float32)
    input_pixels = (np.asarray(gt.keypoints, np.float32) - center +
                    0.5 * scale) / scale * size
    labels = torch.as_tensor(codec.normalize(input_pixels),
                             dtype=torch.float32)
    visible = torch.as_tensor(gt.keypoints_visible, dtype=torch.float32)
    return labels, visible.reshape(1, -1)


def run(args: argparse.Namespace) -> str:
    cfg = load_config(args.config, args.cfg_options)
    loader_cfg = cfg.test_dataloader
    if args.data_root:
        loader_cfg.dataset.data_root = args.data_root
    if args.data:
        loader_cfg.dataset.ann_file = args.data
    loader_cfg.batch_size = args.batch_size
    loader_cfg.num_workers = 0
    loader_cfg.persistent_workers = False
    model = init_face_model(cfg, args.checkpoint)
    head = model.head
    if not getattr(head, 'use_dlr', False):
        raise SystemExit(f'{args.config}: the diagnostic needs a PTHHead '
                         'with DLR (use_dlr=True)')
    loader = Runner.build_dataloader(loader_cfg)
    name = loader.dataset.metainfo.get('dataset_name')
    eyes = args.eyes or INTEROCULAR_INDICES.get(name)
    if eyes is None:
        raise SystemExit(f'no inter-ocular points known for data set '
                         f'{name!r}: give --eyes I J')
    stats = [StageStatistics(index + 1) for index in range(head.num_stages)]
    faces = 0
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        labels, visible = zip(*(input_space_labels(sample, head.decoder)
                                for sample in data['data_samples']))
        with torch.no_grad():
            memories = model.extract_feat(data['inputs'])
        accumulate_batch(head, memories, torch.cat(labels),
                         torch.cat(visible), eyes, stats)
        faces += len(labels)
        if args.max_faces and faces >= args.max_faces:
            break
    table = markdown_table([s.summary() for s in stats])
    text = (f'Refinement diagnostic: `{args.config}`, checkpoint '
            f'`{args.checkpoint}`, {faces} faces of '
            f'`{loader_cfg.dataset.ann_file}`, NME normalised by points '
            f'{eyes[0]}/{eyes[1]} in the input crop.\n\n{table}\n')
    if args.output:
        with open(args.output, 'w') as f:
            f.write(text)
    return text


def main(argv: list[str] | None = None) -> None:
    print(run(parse_args(argv)))


if __name__ == '__main__':
    with exit_on_checkpoint_errors(__file__):
        sys.exit(main())
