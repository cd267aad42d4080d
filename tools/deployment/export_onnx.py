"""Export a RePFormer checkpoint to ONNX and check it against PyTorch.

The graph maps face crops ``images`` ``(N, 3, H, W)`` float32 (BGR,
0-255: what MMPose's ``TopdownAffine`` gives; the normalisation is in the
graph) to ``landmarks`` ``(N, K, 2)`` float32, the last stage's landmarks
in input pixels. ``N`` is dynamic. To map them to the image, invert the
crop (see ``repformer_mmpose.models.heads.pth_head.input_to_image_space``).
The model's facts are stored in the file's metadata (``input_size``,
``num_keypoints``, ``channel_order``, ...).

After writing, onnxruntime runs the file on random crops of batch 1 and 3
and the largest difference from PyTorch is printed; above ``--atol``
(default 1e-4 px) the export fails.

Example::

    python tools/deployment/export_onnx.py \\
        configs/repformer/300w/repformer_res18_1xb16-360e_300w-256x256.py \\
        work_dirs/repformer_res18_300w/epoch_360.pth \\
        --out work_dirs/repformer_res18_300w.onnx
"""
from __future__ import annotations

import repformer_mmpose  # noqa: F401  (first: registers the plugin, quiets mmengine)
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

from repformer_mmpose.apis import init_face_model
from repformer_mmpose.engine import exit_on_checkpoint_errors
from repformer_mmpose.utils import atomic_path, refuse_input_as_output
from repformer_mmpose.deployment import (LandmarkModel, check_onnx_parity,
                                         export_onnx)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export RePFormer (backbone + neck + head) to ONNX')
    parser.add_argument('config', help='RePFormer config file')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('--out', default='work_dirs/repformer.onnx',
                        help='the ONNX file to write')
    parser.add_argument('--opset', type=int,
                        help='ONNX opset (>= 17; >= 18 with --dynamo); '
                        'default: the smallest allowed')
    parser.add_argument('--dynamo', action='store_true',
                        help='use torch\'s dynamo exporter instead of the '
                        'TorchScript one')
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest accepted |onnxruntime - PyTorch| '
                        '(input pixels)')
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the onnxruntime check')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, xxx=yyy')
    args = parser.parse_args(argv)
    if args.opset is None:
        args.opset = 18 if args.dynamo else 17
    return args


def add_metadata(onnx_file: str, model: LandmarkModel,
                 dataset_meta: dict) -> None:
    """Store what a user of the file needs in its ``metadata_props``."""
    import onnx
    proto = onnx.load(onnx_file)
    width, height = model.input_size
    facts = dict(
        model='RePFormer',
        input_size=f'{width}x{height}',
        input_layout='NCHW float32, 0-255',
        channel_order='BGR' if model.swap_channels else 'as the pipeline '
        'loads them',
        normalization='in the graph' if model.normalize else 'none',
        output='landmarks (N, K, 2) in input pixels, pixel centres at '
        'integers',
        num_keypoints=str(model.num_keypoints),
        dataset=str(dataset_meta.get('dataset_name', 'unknown')))
    for key, value in facts.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, onnx_file)


def main(argv: list[str] | None = None) -> float | None:
    args = parse_args(argv)
    refuse_input_as_output(args.out, {'config': args.config,
                                      'checkpoint': args.checkpoint})
    estimator = init_face_model(args.config, args.checkpoint, 'cpu',
                                args.cfg_options)
    model = LandmarkModel(estimator).eval()
    # the finished file only: written beside, renamed when complete
    with atomic_path(args.out, keep_extension=True) as tmp:
        export_onnx(model, tmp, args.opset, dynamo=args.dynamo)
        add_metadata(tmp, model, estimator.dataset_meta or {})
    width, height = model.input_size
    print(f'wrote {args.out} (opset {args.opset}, '
          f'{"dynamo" if args.dynamo else "TorchScript"} exporter): '
          f'images (N, 3, {height}, {width}) BGR 0-255 -> landmarks '
          f'(N, {model.num_keypoints}, 2) input pixels')
    if args.no_verify:
        return None
    error = check_onnx_parity(model, args.out, atol=args.atol)
    print(f'onnxruntime vs PyTorch, batch 1 and 3: max |diff| = '
          f'{error:.2e} px (<= {args.atol:g})')
    return error


if __name__ == '__main__':
    # unreadable, unsafe or mismatched checkpoints: one line, as tools/test.py
    with exit_on_checkpoint_errors(__file__):
        try:
            main()
        except (OSError, ValueError, AssertionError) as error:
            sys.exit(f'{osp.basename(__file__)}: error: {error}')
