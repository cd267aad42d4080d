"""Face landmarks on photos: faces -> RePFormer -> drawing + JSON.

Faces come from OpenCV's Haar cascade (offline, nothing to download), an
MMDetection detector (``--det-config``/``--det-checkpoint``), boxes on the
command line (``--bbox``) or in a JSON file (``--bbox-json``). For every
input ``<name>.<ext>`` the demo writes ``<out-dir>/<name>.<ext>`` (boxes
and landmarks drawn by MMPose's visualiser) and ``<out-dir>/<name>.json``
(boxes and keypoints of every face, in image pixels). A photo without a
face is reported and gets a JSON with an empty ``faces`` list.

Example::

    python tools/demo/image_demo.py \\
        configs/repformer/300w/repformer_res18_1xb16-360e_300w-256x256.py \\
        work_dirs/repformer_res18_300w/epoch_360.pth \\
        photo.jpg more_photos/ --out-dir demo_out
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys

import cv2
from mmengine.config import DictAction

import repformer_mmpose  # noqa: F401  (registers the plugin)
from repformer_mmpose.apis import (add_box_source_arguments,
                                   box_source_from_args, draw_faces,
                                   faces_to_json, init_face_model,
                                   predict_landmarks, read_image)

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
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--radius', type=int,
                        help='landmark radius in pixels (default: from the '
                        'face size)')
    parser.add_argument('--no-bbox', action='store_true',
                        help='do not draw the face boxes')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, xxx=yyy')
    add_box_source_arguments(parser)
    return parser.parse_args(argv)


def collect_images(inputs: list[str]) -> list[str]:
    """Files as given; folders expanded to their images (sorted)."""
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
    return images


def output_paths(image_path: str, out_dir: str) -> tuple[str, str]:
    """``(drawing, json)`` paths for an input; the drawing keeps the input's
    extension where OpenCV can write it, else becomes PNG."""
    name = osp.basename(image_path)
    stem, ext = osp.splitext(name)
    if ext.lower() not in IMAGE_EXTENSIONS:
        ext = '.png'
    drawing = osp.join(out_dir, stem + ext)
    if osp.abspath(drawing) == osp.abspath(image_path):
        raise ValueError(f'--out-dir {out_dir} would overwrite the input '
                         f'{image_path}: choose another folder')
    return drawing, osp.join(out_dir, stem + '.json')


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    images = collect_images(args.inputs)
    box_source = box_source_from_args(args, args.device)
    model = init_face_model(args.config, args.checkpoint, args.device,
                            args.cfg_options)
    os.makedirs(args.out_dir, exist_ok=True)
    for image_path in images:
        image = read_image(image_path)
        faces = predict_landmarks(model, image,
                                  box_source(image, image_path))
        drawing_path, json_path = output_paths(image_path, args.out_dir)
        drawing = draw_faces(image, faces, model.dataset_meta, args.radius,
                             draw_bbox=not args.no_bbox)
        if not cv2.imwrite(drawing_path, drawing):
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
        with open(json_path, 'w') as f:
            json.dump(record, f, indent=1)
        if faces:
            print(f'{image_path}: {len(faces)} face(s) -> {drawing_path}, '
                  f'{json_path}')
        else:
            print(f'{image_path}: no face found ({box_source.name}); wrote '
                  f'{json_path} with an empty face list. Give boxes with '
                  '--bbox or --bbox-json, or another detector with '
                  '--det-config/--det-checkpoint.')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (OSError, ValueError) as error:  # FileNotFoundError is an OSError
        sys.exit(f'{osp.basename(__file__)}: error: {error}')
