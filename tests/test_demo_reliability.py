"""Demos: one output per input, nothing replaced unasked, one-line errors
(issue 13, items 3 and 8).

Before, ``image_demo.py a/x.png b/x.png`` and ``y.jpg y.png`` wrote one
``x.*`` / ``y.json`` (the first result lost), a second run replaced the
first silently, and an unsafe or unreadable checkpoint or a bad config
ended in a traceback.
"""
from __future__ import annotations

import importlib.util
import json
import os
import pickle
import runpy
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from repformer_mmpose.apis import init_face_model
from repformer_mmpose.apis.demo_cli import run_demo
from repformer_mmpose.apis.demo_outputs import (OutputExistsError,
                                                image_outputs)

REPO = Path(__file__).resolve().parents[1]
BASE = (REPO / 'configs' / 'repformer' / 'synthface' /
        'repformer_res18-d128_1xb16-6e_synthface-128x128.py')
EXTENSIONS = ('.jpg', '.png')
BOX = ['--bbox', '4', '4', '60', '60']


def load_demo(name: str):
    path = REPO / 'tools' / 'demo' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'_rel_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tiny(tmp_path_factory) -> dict[str, str]:
    """A quarter-width RePFormer at 64x64 (config, checkpoint) and broken
    variants of both."""
    root = tmp_path_factory.mktemp('demo_rel')
    cfg = Config.fromfile(str(BASE))
    cfg.model.backbone.update(stem_channels=16, base_channels=16)
    cfg.model.neck.update(in_channels=[16, 32, 64, 128], embed_dims=32,
                          num_heads=2, ffn_dims=64)
    cfg.model.head.update(
        embed_dims=32, num_heads=2, ffn_dims=64, predictor_dims=32,
        initial_memory_size=(2, 2),
        decoder=dict(type='DLRLabel', input_size=(64, 64)))
    for transform in cfg.test_dataloader.dataset.pipeline:
        if 'input_size' in transform:
            transform['input_size'] = (64, 64)
    paths = dict(config=str(root / 'tiny.py'),
                 checkpoint=str(root / 'tiny.pth'), root=str(root))
    cfg.dump(paths['config'])
    torch.manual_seed(0)
    model = init_face_model(paths['config'])
    torch.save({'state_dict': model.state_dict()}, paths['checkpoint'])
    return paths


def _photo(path: Path, value: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((64, 64, 3), value, np.uint8))
    return str(path)


def test_output_names_are_unique_per_input(tmp_path):
    out = str(tmp_path / 'out')
    images = [str(tmp_path / 'a' / 'x.png'), str(tmp_path / 'b' / 'x.png'),
              str(tmp_path / 'a' / 'y.jpg'), str(tmp_path / 'a' / 'y.png'),
              str(tmp_path / 'a' / 'z.gif')]
    assert image_outputs(images, out, EXTENSIONS) == [
        (f'{out}/a/x.png', f'{out}/a/x.json'),
        (f'{out}/b/x.png', f'{out}/b/x.json'),
        (f'{out}/a/y.jpg', f'{out}/a/y.jpg.json'),
        (f'{out}/a/y.png', f'{out}/a/y.png.json'),
        (f'{out}/a/z.png', f'{out}/a/z.json')]
    # one folder: the plain layout of before
    assert image_outputs(images[2:3], out, EXTENSIONS) == [
        (f'{out}/y.jpg', f'{out}/y.json')]
    # z.gif is drawn as z.png: it meets z.png's drawing, so both keep
    # their full names
    assert image_outputs([f'{tmp_path}/z.gif', f'{tmp_path}/z.png'], out,
                         EXTENSIONS) == [
        (f'{out}/z.gif.png', f'{out}/z.gif.json'),
        (f'{out}/z.png', f'{out}/z.png.json')]
    with pytest.raises(ValueError) as info:
        image_outputs([f'{tmp_path}/y.gif', f'{tmp_path}/y.gif.png',
                       f'{tmp_path}/y.png'], out, EXTENSIONS)
    assert str(info.value) == (
        f'inputs {tmp_path}/y.gif and {tmp_path}/y.gif.png would both write '
        f'{out}/y.gif.png: rename one of them')


def test_image_demo_keeps_every_result_and_replaces_nothing(tmp_path, tiny,
                                                            capsys):
    demo = load_demo('image_demo')
    inputs = [_photo(tmp_path / 'a' / 'x.png', 40),
              _photo(tmp_path / 'b' / 'x.png', 200),
              _photo(tmp_path / 'a' / 'y.jpg', 90),
              _photo(tmp_path / 'a' / 'y.png', 120)]
    out = tmp_path / 'out'
    argv = [tiny['config'], tiny['checkpoint'], *inputs, inputs[0],
            '--out-dir', str(out), *BOX]
    assert demo.main(argv) == 0
    assert f'{inputs[0]}: given twice (as {inputs[0]}); processed once' in \
        capsys.readouterr().out
    written = sorted(str(p.relative_to(out)) for p in out.rglob('*.*'))
    assert written == ['a/x.json', 'a/x.png', 'a/y.jpg', 'a/y.jpg.json',
                       'a/y.png', 'a/y.png.json', 'b/x.json', 'b/x.png']
    for name, image in (('a/x', inputs[0]), ('b/x', inputs[1]),
                        ('a/y.jpg', inputs[2]), ('a/y.png', inputs[3])):
        assert json.loads((out / f'{name}.json').read_text())['image'] == \
            image
    # the drawings are of their own inputs (grey levels 40 and 200)
    assert cv2.imread(str(out / 'a' / 'x.png'))[0, 0, 0] == 40
    assert cv2.imread(str(out / 'b' / 'x.png'))[0, 0, 0] == 200

    # a second run refuses to replace them, before any work
    before = (out / 'a' / 'x.json').stat().st_mtime_ns
    with pytest.raises(OutputExistsError) as info:
        demo.main(argv)
    assert str(info.value) == (
        f'{out}/a/x.png exists (the drawing of {inputs[0]} would replace '
        'it): pass --overwrite to replace it, or choose another output')
    assert (out / 'a' / 'x.json').stat().st_mtime_ns == before
    # ... unless asked
    os.utime(out / 'a' / 'x.json', ns=(0, 0))
    assert demo.main(argv[:-5] + ['--overwrite', *BOX]) == 0
    assert (out / 'a' / 'x.json').stat().st_mtime_ns > 0


def test_image_demo_refuses_to_write_over_its_input(tmp_path, tiny):
    photo = _photo(tmp_path / 'x.png', 10)
    with pytest.raises(ValueError) as info:
        load_demo('image_demo').main(
            [tiny['config'], tiny['checkpoint'], photo, '--out-dir',
             str(tmp_path), '--overwrite', *BOX])
    assert str(info.value) == (
        f'the drawing of {photo} {photo} is the input {photo}: writing it '
        'would destroy an input; choose another output')


def test_video_demo_outputs_are_checked_first(tmp_path, tiny):
    demo = load_demo('video_demo')
    clip = tmp_path / 'clip.avi'
    clip.write_bytes(b'not decoded: the outputs are checked first')
    out = tmp_path / 'clip.mp4'
    out.write_bytes(b'an earlier result')
    base = [tiny['config'], tiny['checkpoint'], str(clip), *BOX]
    with pytest.raises(OutputExistsError) as info:
        demo.main(base + ['--out', str(out)])
    assert str(info.value) == (
        f'{out} exists (the drawn video would replace it): pass '
        '--overwrite to replace it, or choose another output')
    with pytest.raises(ValueError, match=r'--out-json .*clip.mp4 is the '
                       r'--out video: give it another name'):
        demo.main(base + ['--out', str(out), '--out-json', str(out)])
    with pytest.raises(ValueError, match=r'^the per-frame JSON .*clip.avi '
                       r'is the input .*clip.avi: writing it would destroy'):
        demo.main(base + ['--out', str(tmp_path / 'new.mp4'), '--out-json',
                          str(clip), '--overwrite'])
    assert out.read_bytes() == b'an earlier result'


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def _error_line(demo: str, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as info:
        run_demo(load_demo(demo).main, argv, f'{demo}.py')
    message = info.value.code
    assert isinstance(message, str) and '\n' not in message, message
    return message


def test_demo_errors_are_one_line(tmp_path, tiny):
    root = Path(tiny['root'])
    photo = _photo(tmp_path / 'face.png', 100)
    config, checkpoint = tiny['config'], tiny['checkpoint']

    def image(cfg, ckpt):
        return _error_line('image_demo', [
            cfg, ckpt, photo, '--out-dir', str(tmp_path / 'out'), *BOX])

    marker = tmp_path / 'marker'
    unsafe = tmp_path / 'unsafe.pth'
    with open(unsafe, 'wb') as f:
        pickle.dump({'state_dict': {}, 'meta': _Payload(marker)}, f,
                    protocol=2)
    assert image(config, str(unsafe)) == (
        f'image_demo.py: error: {unsafe} cannot be loaded with '
        'weights_only=True: Trying to load unsupported GLOBAL posix.system '
        'whose module posix is blocked. If you trust this file, set '
        'REPFORMER_UNSAFE_LOAD=1 to load it with weights_only=False (which '
        'can run code stored in it).')
    assert not marker.exists()
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(Path(checkpoint).read_bytes()[:1000])
    assert image(config, str(truncated)).startswith(
        f'image_demo.py: error: checkpoint {truncated} (1000 bytes) cannot '
        'be read: PytorchStreamReader failed reading zip archive')
    assert image(config, str(tmp_path / 'none.pth')) == (
        f'image_demo.py: error: checkpoint file {tmp_path}/none.pth not '
        'found')

    syntax = root / 'syntax.py'
    syntax.write_text('model = dict(\n')
    assert image(str(syntax), checkpoint).startswith(
        f'image_demo.py: error: config {syntax} cannot be read: ')
    unknown = root / 'unknown.py'
    unknown.write_text(f"_base_ = ['{config}']\n"
                       "model = dict(head=dict(type='PTHHeed'))\n")
    assert image(str(unknown), checkpoint).startswith(
        f"image_demo.py: error: {unknown}: model.head.type = 'PTHHeed' is "
        'not in the mmpose::model registry')
    keyword = root / 'keyword.py'
    keyword.write_text(f"_base_ = ['{config}']\n"
                       'model = dict(head=dict(embed_dim=3))\n')
    assert image(str(keyword), checkpoint) == (
        f'image_demo.py: error: config {keyword}: the model cannot be '
        "built: PTHHead.__init__() got an unexpected keyword argument "
        "'embed_dim'")
    dims = root / 'dims.py'
    dims.write_text(f"_base_ = ['{config}']\n"
                    'model = dict(neck=dict(embed_dims=16))\n')
    assert image(str(dims), checkpoint) == (
        'image_demo.py: error: model.neck.embed_dims = 16 but '
        "model.head.embed_dims = 32: the head reads the neck's memories, "
        'so both must be the same d_model')

    # the video demo shares the handling; as a script it exits with it
    video = str(tmp_path / 'clip.avi')
    Path(video).write_bytes(b'x')
    assert _error_line('video_demo', [
        config, str(unsafe), video, '--out', str(tmp_path / 'v.mp4'), *BOX
    ]).startswith(f'video_demo.py: error: {unsafe} cannot be loaded with')
    script = str(REPO / 'tools' / 'demo' / 'video_demo.py')
    sys_argv = [script, config, str(truncated), video, '--out',
                str(tmp_path / 'v.mp4'), *BOX]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, 'argv', sys_argv)
        with pytest.raises(SystemExit) as info:
            runpy.run_path(script, run_name='__main__')
    assert str(info.value.code).startswith(
        f'video_demo.py: error: checkpoint {truncated} (1000 bytes)')
