"""Face landmarks on a video file or a webcam, frame by frame.

Faces come from the same sources as ``image_demo.py`` (``--detector``:
BlazeFace by default, ``haar``, ``mmdet``; or ``--bbox``/``--bbox-json``).
Writes the video with boxes and landmarks drawn (``--out``; MP4
``mp4v`` or AVI ``MJPG`` by extension) and a JSON with, for every frame,
the boxes and keypoints of its faces (``--out-json``, default: ``--out``
with ``.json``). ``INPUT`` is a file or a camera index (``0``); ``--show``
opens a window (``q`` or Esc stops). An existing output (or an output that
is the input, or ``--out-json`` equal to ``--out``) is an error unless
``--overwrite``; errors end the command with one line naming the file and
the cause.

Example::

    python tools/demo/video_demo.py CONFIG CHECKPOINT clip.mp4 \\
        --out demo_out/clip.mp4
    python tools/demo/video_demo.py CONFIG CHECKPOINT 0 --show \\
        --out demo_out/webcam.mp4 --max-frames 300
"""
from __future__ import annotations

import repformer_mmpose  # noqa: F401  (first: registers the plugin, quiets mmengine)
import argparse
import json
import os
import os.path as osp
import sys
import time

import cv2
from mmengine.config import DictAction

from repformer_mmpose.apis import (add_box_source_arguments,
                                   box_source_from_args, draw_faces,
                                   faces_to_json, predict_landmarks)
from repformer_mmpose.apis.demo_cli import load_demo_model, run_demo
from repformer_mmpose.apis.demo_outputs import check_outputs
from repformer_mmpose.utils import atomic_path, write_text_atomic

FOURCC = {'.mp4': 'mp4v', '.avi': 'MJPG'}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='RePFormer face landmarks on a video or webcam')
    parser.add_argument('config', help='RePFormer config file')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('input', help='video file, or camera index (0)')
    parser.add_argument('--out', default='demo_out/video.mp4',
                        help='output video (.mp4 or .avi)')
    parser.add_argument('--out-json',
                        help='per-frame results (default: --out as .json)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing outputs (default: refuse)')
    parser.add_argument('--max-frames', type=int,
                        help='stop after this many frames')
    parser.add_argument('--fps', type=float,
                        help='output frame rate (default: the input\'s, '
                        'or 30 for a camera)')
    parser.add_argument('--show', action='store_true',
                        help='show the frames in a window')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--radius', type=int,
                        help='landmark radius in pixels')
    parser.add_argument('--no-bbox', action='store_true',
                        help='do not draw the face boxes')
    parser.add_argument('--kpt-thr', type=float, default=0.5,
                        help='points with a lower confidence get a grey '
                        'ring (models with the uncertainty branch)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, xxx=yyy')
    add_box_source_arguments(parser)
    return parser.parse_args(argv)


def open_capture(source: str) -> tuple[cv2.VideoCapture, str]:
    """A capture of a camera index (digits) or a video file, and its
    description.

    Raises:
        FileNotFoundError: if the video file does not exist.
        ValueError: if OpenCV cannot open the camera or decode the file.
    """
    if source.isdigit():
        capture, what = cv2.VideoCapture(int(source)), f'camera {source}'
    elif not osp.isfile(source):
        raise FileNotFoundError(f'video file {source} not found')
    else:
        capture, what = cv2.VideoCapture(source), f'video {source}'
    if not capture.isOpened():
        raise ValueError(f'cannot open {what}: OpenCV could not open it '
                         '(no such camera, or not a video it can decode)')
    return capture, what


def output_paths(args: argparse.Namespace) -> tuple[str, str]:
    """``(video, json)`` outputs, checked before anything runs.

    Raises:
        FileNotFoundError: if the input video does not exist.
        ValueError: for an extension OpenCV cannot write, ``--out-json``
            equal to ``--out``, or an output that is the input video.
        OutputExistsError: if an output exists and not ``--overwrite``.
    """
    if not args.input.isdigit() and not osp.isfile(args.input):
        raise FileNotFoundError(f'video file {args.input} not found')
    if osp.splitext(args.out)[1].lower() not in FOURCC:
        raise ValueError(f'--out {args.out}: use .mp4 or .avi')
    json_path = args.out_json or osp.splitext(args.out)[0] + '.json'
    if osp.realpath(json_path) == osp.realpath(args.out):
        raise ValueError(f'--out-json {json_path} is the --out video: give '
                         'it another name')
    inputs = [] if args.input.isdigit() else [args.input]
    check_outputs([(args.out, 'the drawn video'),
                   (json_path, 'the per-frame JSON')], inputs,
                  args.overwrite)
    return args.out, json_path


def open_writer(path: str, fps: float, size: tuple[int, int]
                ) -> cv2.VideoWriter:
    ext = osp.splitext(path)[1].lower()
    if ext not in FOURCC:
        raise ValueError(f'--out {path}: use .mp4 or .avi')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*FOURCC[ext]),
                             fps, size)
    if not writer.isOpened():
        raise OSError(f'cannot write video {path}')
    return writer


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out_path, json_path = output_paths(args)
    box_source = box_source_from_args(args, args.device)
    model = load_demo_model(args.config, args.checkpoint, args.device,
                            args.cfg_options)
    capture, what = open_capture(args.input)
    ok, frame = capture.read()
    if not ok:
        capture.release()
        raise ValueError(f'cannot read a frame from {what}: empty or '
                         'unreadable')
    fps = args.fps or capture.get(cv2.CAP_PROP_FPS) or 30.
    height, width = frame.shape[:2]
    # a new file, renamed over the output when complete: never into an
    # input, and a failed run leaves no half video under the name
    with atomic_path(out_path, keep_extension=True) as video_path:
        writer = open_writer(video_path, fps, (width, height))
        records, start = [], time.perf_counter()
        try:
            while ok:
                faces = predict_landmarks(model, frame, box_source(frame))
                drawn = draw_faces(frame, faces, model.dataset_meta,
                                   args.radius, draw_bbox=not args.no_bbox,
                                   confidence_threshold=args.kpt_thr)
                writer.write(drawn)
                records.append(faces_to_json(faces, frame=len(records)))
                if args.show:
                    cv2.imshow('RePFormer', drawn)
                    if cv2.waitKey(1) & 0xFF in (ord('q'), 27):
                        break
                if args.max_frames and len(records) >= args.max_frames:
                    break
                ok, frame = capture.read()
        except KeyboardInterrupt:  # a webcam runs until stopped
            print('stopped')
        finally:
            capture.release()
            writer.release()
            if args.show:
                cv2.destroyAllWindows()
    write_text_atomic(json.dumps(
        dict(input=args.input, width=width, height=height, fps=fps,
             boxes_from=box_source.name, config=args.config,
             checkpoint=args.checkpoint,
             num_keypoints=model.head.num_keypoints,
             num_frames=len(records), frames=records)), json_path)
    empty = sum(record['num_faces'] == 0 for record in records)
    seconds = time.perf_counter() - start
    print(f'{what}: {len(records)} frame(s) in {seconds:.1f} s '
          f'({len(records) / seconds:.1f} frames/s) -> {args.out}, '
          f'{json_path}')
    if empty:
        print(f'no face found in {empty} of {len(records)} frame(s) '
              f'({box_source.name})')
    return 0


if __name__ == '__main__':
    sys.exit(run_demo(main, None, __file__))
