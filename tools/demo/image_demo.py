"""Face landmarks on photos: faces -> RePFormer -> drawing + JSON.

Faces come from a face detector (``--detector``: ``blazeface``, the
default, MediaPipe's BlazeFace, offline, frontal and large-pose faces;
``haar``, OpenCV's Haar cascade; ``mmdet`` with
``--det-config``/``--det-checkpoint``), boxes on the command line
(``--bbox``) or in a JSON file (``--bbox-json``). For every
input ``<name>.<ext>`` the demo writes ``<out-dir>/<name>.<ext>`` (boxes
and landmarks drawn by MMPose's visualiser) and ``<out-dir>/<name>.json``
(boxes and keypoints of every face, in image pixels). A photo without a
face is reported and gets a JSON with an empty ``faces`` list.

Every input gets its own outputs: inputs from several folders keep their
folder below the inputs' common folder (``a/x.png b/x.png`` ->
``<out-dir>/a/x.*``, ``<out-dir>/b/x.*``), and inputs of one folder that
share a stem keep their full name (``y.jpg y.png`` -> ``y.jpg.json``,
``y.png.json``). An existing output is an error unless ``--overwrite``.
Errors end the command with one line naming the file and the cause.

Example::

    python tools/demo/image_demo.py \\
        configs/repformer/300w/repformer_res18_1xb16-360e_300w-256x256.py \\
        work_dirs/repformer_res18_300w/epoch_360.pth \\
        photo.jpg more_photos/ --out-dir demo_out
"""
from __future__ import annotations

import repformer_mmpose  # noqa: F401  (first: registers the plugin, quiets mmengine)
import argparse
import json
import os
import os.path as osp
import sys

import cv2
from mmengine.config import DictAction

from repformer_mmpose.apis import (add_box_source_arguments,
                                   box_source_from_args, draw_faces,
                                   faces_to_json, predict_landmarks,
                                   read_image)
from repformer_mmpose.apis.demo_cli import load_demo_model, run_demo
from repformer_mmpose.apis.demo_outputs import check_outputs, image_outputs
from repformer_mmpose.utils import atomic_path, write_text_atomic

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='RePFormer face landmarks on images')
    parser.add_argument('config', help='RePFormer config file')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('inputs', nargs='+',
                        help='image files and/or folders of images')
    parser.add_argument('--out-dir', default='demo_out',
                        help='where drawings and JSON files go')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing outputs (default: refuse)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--radius', type=int,
                        help='landmark radius in pixels (default: from the '
                        'face size)')
    parser.add_argument('--no-bbox', action='store_true',
                        help='do not draw the face boxes')
    parser.add_argument('--kpt-thr', type=float, default=0.5,
                        help='points with a lower confidence get a grey '
                        'ring (models with the uncertainty branch)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, xxx=yyy')
    add_box_source_arguments(parser)
    return parser.parse_args(argv)


def collect_images(inputs: list[str]) -> list[str]:
    """Files as given; folders expanded to their images (sorted). A file
    given twice (also through its folder) is processed once, and said."""
    images = []
    for item in inputs:
        if osp.isdir(item):
            found = sorted(
                osp.join(item, name) for name in os.listdir(item)
                if name.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise FileNotFoundError(
                    f'folder {item} has no image '
                    f'({", ".join(IMAGE_EXTENSIONS)})')
            images += found
        elif osp.isfile(item):
            images.append(item)
        else:
            raise FileNotFoundError(f'input {item} not found')
    unique, seen = [], {}
    for image in images:
        key = osp.realpath(image)
        if key in seen:
            print(f'{image}: given twice (as {seen[key]}); processed once')
            continue
        seen[key] = image
        unique.append(image)
    return unique


def output_paths(images: list[str], out_dir: str,
                 overwrite: bool = False) -> list[tuple[str, str]]:
    """``(drawing, json)`` paths of every input, all distinct (see the
    module's docstring).

    Raises:
        ValueError: if an output would be an input.
        OutputExistsError: if an output exists and not ``overwrite``.
    """
    outputs = image_outputs(images, out_dir, IMAGE_EXTENSIONS)
    check_outputs(
        [(path, f'the {what} of {image}')
         for image, paths in zip(images, outputs)
         for path, what in zip(paths, ('drawing', 'JSON'))],
        images, overwrite)
    return outputs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    images = collect_images(args.inputs)
    outputs = output_paths(images, args.out_dir, args.overwrite)
    box_source = box_source_from_args(args, args.device)
    model = load_demo_model(args.config, args.checkpoint, args.device,
                            args.cfg_options)
    for image_path, (drawing_path, json_path) in zip(images, outputs):
        image = read_image(image_path)
        faces = predict_landmarks(model, image,
                                  box_source(image, image_path))
        os.makedirs(osp.dirname(drawing_path) or '.', exist_ok=True)
        drawing = draw_faces(image, faces, model.dataset_meta, args.radius,
                             draw_bbox=not args.no_bbox,
                             confidence_threshold=args.kpt_thr)
        # a new file in place of the old name: never into an input
        with atomic_path(drawing_path, keep_extension=True) as tmp:
            if not cv2.imwrite(tmp, drawing):
                raise OSError(f'could not write {drawing_path}')
        record = faces_to_json(
            faces,
            image=image_path,
            width=image.shape[1],
            height=image.shape[0],
            boxes_from=box_source.name,
            config=args.config,
            checkpoint=args.checkpoint,
            num_keypoints=model.head.num_keypoints)
        write_text_atomic(json.dumps(record, indent=1), json_path)
        if faces:
            print(f'{image_path}: {len(faces)} face(s) -> {drawing_path}, '
                  f'{json_path}')
        else:
            print(f'{image_path}: no face found ({box_source.name}); wrote '
                  f'{json_path} with an empty face list. Give boxes with '
                  '--bbox or --bbox-json, or another detector with '
                  '--detector.')
    return 0


if __name__ == '__main__':
    sys.exit(run_demo(main, None, __file__))
