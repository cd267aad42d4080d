"""Reliability, round 3: no tool writes over its input, a wrong option or
input is named before any work, and broken inputs give one clear error.

(Exact resume of a shipped config without a seed override is in
``test_kill_resume.py``; the archived report and the all-or-nothing report
in ``test_report.py``; non-checkpoint files and decompression bombs in
``test_mmpose_native.py``.)
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from test_demo_reliability import BOX, load_demo, tiny  # noqa: F401

from repformer_mmpose.apis import ImageReadError, read_image
from repformer_mmpose.apis.face_detectors import load_boxes_json
from repformer_mmpose.datasets.converters.core import ConversionError
from repformer_mmpose.datasets.converters.custom import convert_custom
from repformer_mmpose.datasets.synthface import generate_synthface
from repformer_mmpose.datasets.validation import AnnotationError
from repformer_mmpose.engine import CheckpointMismatchError
from repformer_mmpose.engine.hooks.checkpoint_guard import lock_work_dir
from repformer_mmpose.utils import OutputIsInputError

REPO = Path(__file__).resolve().parents[1]
SYNTHFACE = str(REPO / 'configs/repformer/synthface/'
                'repformer_res18-d128_1xb16-6e_synthface-128x128.py')


# 2. the custom converter and its own input
def test_custom_converter_refuses_to_write_over_its_annotation(tmp_path):
    (tmp_path / 'images').mkdir()
    cv2.imwrite(str(tmp_path / 'images' / 'a.png'),
                np.zeros((40, 40, 3), np.uint8))
    ann = tmp_path / 'annotations' / 'train.json'
    ann.parent.mkdir()
    faces = [dict(image='a.png', keypoints=[[10., 10.], [30., 10.],
                                            [20., 30.]])]
    ann.write_text(json.dumps(faces))
    before = ann.read_bytes()
    with pytest.raises(ConversionError, match='would destroy an input'):
        convert_custom(tmp_path, ['annotations/train.json'],
                       names=['eye_l', 'eye_r', 'mouth'],
                       log=lambda line: None)
    assert ann.read_bytes() == before


# 3. ONNX export and the checkpoint / config in use
@pytest.mark.parametrize('target', ['checkpoint', 'config'])
def test_onnx_export_refuses_to_replace_its_inputs(target, tiny,  # noqa
                                                   load_tool):
    before = Path(tiny[target]).read_bytes()
    with pytest.raises(OutputIsInputError, match=f'is the {target}'):
        load_tool('deployment/export_onnx').main(
            [tiny['config'], tiny['checkpoint'], '--out', tiny[target]])
    assert Path(tiny[target]).read_bytes() == before


# 5. boxes of same-named images
def test_boxes_json_tells_same_named_images_apart(tmp_path):
    coco = dict(
        images=[dict(id=1, file_name='a/x.jpg'),
                dict(id=2, file_name='b/x.jpg')],
        annotations=[dict(image_id=1, bbox=[0, 0, 10, 10]),
                     dict(image_id=2, bbox=[20, 20, 10, 10])])
    path = tmp_path / 'boxes.json'
    path.write_text(json.dumps(coco))
    first = load_boxes_json(path, str(tmp_path / 'a' / 'x.jpg'))
    second = load_boxes_json(path, str(tmp_path / 'b' / 'x.jpg'))
    assert first[0, :4].tolist() == [0, 0, 10, 10]
    assert second[0, :4].tolist() == [20, 20, 30, 30]
    # only base names in the file, two of them: refused, not guessed
    for image in coco['images']:
        image['file_name'] = 'x.jpg'
    path.write_text(json.dumps(coco))
    with pytest.raises(ValueError, match='cannot tell which'):
        load_boxes_json(path, str(tmp_path / 'c' / 'x.jpg'))


# 6. one image reader: a truncated JPEG is refused by the API and demos
def test_truncated_jpeg_is_refused_by_the_api(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3),
                                              dtype=np.uint8)
    whole = tmp_path / 'whole.jpg'
    cv2.imwrite(str(whole), image)
    cut = tmp_path / 'cut.jpg'
    cut.write_bytes(whole.read_bytes()[:len(whole.read_bytes()) // 2])
    assert read_image(whole).shape == (64, 64, 3)
    with pytest.raises(ImageReadError, match='truncated'):
        read_image(cut)


# 7. a typo in a hook option, before the first iteration
@pytest.mark.parametrize('option,hint', [('max_keep_ckpt', 'max_keep_ckpts'),
                                         ('intervel', 'interval')])
def test_checkpoint_hook_typo_fails_before_training(option, hint, load_tool,
                                                    tmp_path):
    from repformer_mmpose.engine.config_errors import UnknownOptionKeyError
    data = tmp_path / 'sf'
    generate_synthface(str(data), num_train=4, num_test=2, seed=1,
                       verbose=False)
    with pytest.raises(UnknownOptionKeyError) as info:
        load_tool('train').main([
            SYNTHFACE, '--work-dir', str(tmp_path / 'w'), '--data-root',
            str(data), '--cfg-options',
            f'default_hooks.checkpoint.{option}=1'])
    message = str(info.value)
    assert f"{option}" in message and f"did you mean '{hint}'" in message
    assert not list((tmp_path / 'w').glob('*.pth'))  # nothing trained


# 8. an output hard-linked to an input
def test_demo_never_writes_into_a_hard_linked_input(tmp_path,
                                                    tiny):  # noqa: F811
    source = tmp_path / 'in' / 'x.png'
    source.parent.mkdir()
    cv2.imwrite(str(source), np.full((64, 64, 3), 90, np.uint8))
    before = source.read_bytes()
    (tmp_path / 'out').mkdir()
    os.link(source, tmp_path / 'out' / 'x.png')
    with pytest.raises(OutputIsInputError, match='is the input'):
        load_demo('image_demo').main(
            [tiny['config'], tiny['checkpoint'], str(source), '--out-dir',
             str(tmp_path / 'out'), '--overwrite', *BOX])
    assert source.read_bytes() == before


# 10. a checkpoint with NaN weights
def test_checkpoint_with_nan_weights_is_named(tiny, tmp_path):  # noqa: F811
    from repformer_mmpose.apis import init_face_model
    state = torch.load(tiny['checkpoint'])['state_dict']
    key = next(k for k in state if k.startswith('head.'))
    state[key] = torch.full_like(state[key], float('nan'))
    broken = tmp_path / 'nan.pth'
    torch.save({'state_dict': state}, broken)
    with pytest.raises(CheckpointMismatchError, match='NaN or inf') as info:
        init_face_model(tiny['config'], str(broken))
    assert key in str(info.value)


# 11. a box wholly outside the image
def test_box_outside_the_image_is_refused(tiny, tmp_path):  # noqa: F811
    photo = tmp_path / 'p.png'
    cv2.imwrite(str(photo), np.full((320, 320, 3), 90, np.uint8))
    with pytest.raises(ValueError, match='wholly outside the 320x320'):
        load_demo('image_demo').main(
            [tiny['config'], tiny['checkpoint'], str(photo), '--out-dir',
             str(tmp_path / 'out'), '--bbox', '5000', '5000', '6000',
             '6000'])


# minor items
def test_two_trainings_cannot_share_a_work_dir(tmp_path):
    import subprocess
    import sys
    held = lock_work_dir(str(tmp_path))
    other = subprocess.run(
        [sys.executable, '-c', 'import sys; from repformer_mmpose.engine.'
         'hooks.checkpoint_guard import lock_work_dir; '
         'lock_work_dir(sys.argv[1])', str(tmp_path)],
        capture_output=True, text=True, timeout=120)
    assert other.returncode != 0
    assert f'in use by a training (pid {os.getpid()})' in other.stderr
    # this process may start a new run (an earlier one may have crashed)
    again = lock_work_dir(str(tmp_path))
    assert held.closed
    again.close()


def test_utf16_annotation_is_named(tmp_path):
    from repformer_mmpose.datasets.validation import load_annotation_file
    path = tmp_path / 'train.json'
    path.write_text(json.dumps(dict(images=[], annotations=[])),
                    encoding='utf-16')
    with pytest.raises(AnnotationError, match='not UTF-8'):
        load_annotation_file(str(path))


def test_latency_refuses_batch_size_zero(load_tool):
    with pytest.raises(SystemExit):
        load_tool('analysis/latency').parse_args(
            [SYNTHFACE, '--batch-sizes', '0'])


def test_synthface_with_no_face_is_refused(tmp_path):
    with pytest.raises(ValueError, match='nothing to generate'):
        generate_synthface(str(tmp_path), num_train=0, num_test=0)
    assert not list(tmp_path.iterdir())


def test_a_config_file_typo_names_the_key(tmp_path, load_tool):
    """The same typo in a config file: refused before training, naming
    the config key and the likely option."""
    cfg = Config.fromfile(SYNTHFACE)
    cfg.default_hooks.checkpoint['intervel'] = 5
    path = tmp_path / 'typo.py'
    cfg.dump(str(path))
    with pytest.raises(TypeError, match=r"\(default_hooks.checkpoint\) got "
                       r"an unexpected keyword argument 'intervel' \(did "
                       r"you mean 'interval'\?\)"):
        load_tool('train').main([str(path), '--work-dir',
                                 str(tmp_path / 'w')])
    assert not list((tmp_path / 'w').glob('*.pth'))
