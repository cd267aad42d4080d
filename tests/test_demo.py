"""tools/demo: image and video demos, end to end on real fixture photos."""
import importlib.util
import json
import os.path as osp
import runpy
import sys

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from repformer_mmpose.apis import CheckpointMismatchError

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'repformer', 'synthface',
                  'repformer_res18-d128_1xb16-6e_synthface-128x128.py')


def load_demo(name):
    path = osp.join(REPO, 'tools', 'demo', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'_demo_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def annotated_boxes(folder):
    content = json.loads((folder / 'test_300w.json').read_text())
    names = {im['id']: im['file_name'] for im in content['images']}
    return {names[a['image_id']]: a['bbox'] for a in content['annotations']}


def overlap(box, xywh):
    x, y, w, h = xywh
    ix = max(0, min(box[2], x + w) - max(box[0], x))
    iy = max(0, min(box[3], y + h) - max(box[1], y))
    inter = ix * iy
    return inter / ((box[2] - box[0]) * (box[3] - box[1]) + w * h - inter)


def test_image_demo_on_300w_photos_with_the_cascade(tmp_path, tiny_model,
                                                    fixture_dir, capsys):
    folder = fixture_dir('300w')
    out_dir = tmp_path / 'out'
    config, checkpoint = tiny_model
    assert load_demo('image_demo').main(
        [config, checkpoint, str(folder), '--out-dir', str(out_dir),
         '--detector', 'haar']) == 0
    printed = capsys.readouterr().out
    for name, xywh in annotated_boxes(folder).items():
        stem = osp.splitext(name)[0]
        image = cv2.imread(str(folder / name))
        drawn = cv2.imread(str(out_dir / name))
        assert drawn.shape == image.shape
        assert (drawn != image).any(axis=2).sum() > 100  # landmarks + box
        result = json.loads((out_dir / f'{stem}.json').read_text())
        assert result['image'] == str(folder / name)
        assert (result['width'], result['height']) == image.shape[1::-1]
        assert result['boxes_from'] == 'opencv-haar-cascade'  # --detector haar
        assert result['num_faces'] == len(result['faces']) >= 1
        face = result['faces'][0]  # the largest: the annotated face
        assert overlap(face['bbox'], xywh) > 0.5
        keypoints = np.array(face['keypoints'])
        assert keypoints.shape == (68, 2)
        # inside the crop: the box padded by 1.25
        x1, y1, x2, y2 = face['bbox']
        margin = 0.125 * max(x2 - x1, y2 - y1)
        assert (keypoints >= [x1 - margin, y1 - margin]).all()
        assert (keypoints <= [x2 + margin, y2 + margin]).all()
        assert f'{folder / name}: {result["num_faces"]} face(s)' in printed


def test_image_demo_boxes_from_json_and_command_line(tmp_path, tiny_model,
                                                     fixture_dir):
    folder = fixture_dir('300w')
    config, checkpoint = tiny_model
    image = str(folder / 'indoor_029.png')
    demo = load_demo('image_demo')
    demo.main([config, checkpoint, image, '--out-dir',
               str(tmp_path / 'json'), '--bbox-json',
               str(folder / 'test_300w.json')])
    x, y, w, h = annotated_boxes(folder)['indoor_029.png']
    face, = json.loads((tmp_path / 'json' / 'indoor_029.json').read_text()
                       )['faces']
    np.testing.assert_allclose(face['bbox'], [x, y, x + w, y + h],
                               atol=0.01)
    demo.main([config, checkpoint, image, '--out-dir',
               str(tmp_path / 'cli'), '--bbox', '10', '20', '210', '220',
               '--bbox', '300', '300', '500', '520'])
    result = json.loads((tmp_path / 'cli' / 'indoor_029.json').read_text())
    assert [f['bbox'] for f in result['faces']] == [[10, 20, 210, 220],
                                                    [300, 300, 500, 520]]
    assert result['boxes_from'] == 'boxes given on the command line'


def test_image_demo_reports_a_photo_without_face(tmp_path, tiny_model,
                                                 capsys):
    rng = np.random.default_rng(0)
    gradient = np.linspace(0, 255, 320)[None, :, None] * np.ones((240, 1, 3))
    photo = np.clip(gradient + rng.normal(0, 20, gradient.shape), 0, 255)
    path = str(tmp_path / 'wall.jpg')
    cv2.imwrite(path, photo.astype(np.uint8))
    config, checkpoint = tiny_model
    out_dir = tmp_path / 'out'
    assert load_demo('image_demo').main(
        [config, checkpoint, path, '--out-dir', str(out_dir),
         '--detector', 'haar']) == 0
    assert f'{path}: no face found (opencv-haar-cascade)' in \
        capsys.readouterr().out
    result = json.loads((out_dir / 'wall.json').read_text())
    assert result['num_faces'] == 0 and result['faces'] == []
    assert cv2.imread(str(out_dir / 'wall.jpg')).shape == (240, 320, 3)


def test_image_demo_unreadable_input_and_wrong_checkpoint(
        tmp_path, tiny_model, monkeypatch):
    config, checkpoint = tiny_model
    demo = load_demo('image_demo')
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    with pytest.raises(ValueError, match='cannot read image .*broken.png'):
        demo.main([config, checkpoint, str(broken), '--out-dir',
                   str(tmp_path / 'out')])
    with pytest.raises(FileNotFoundError, match='input .*nothing.jpg not'):
        demo.main([config, checkpoint, str(tmp_path / 'nothing.jpg')])

    # as a command: exits with a one-line error (status 1)
    cfg = Config.fromfile(config)
    cfg.model.head.num_keypoints = 98
    cfg.test_dataloader.dataset.type = 'WFLWDataset'
    cfg.dump(str(tmp_path / 'wflw98.py'))
    script = osp.join(REPO, 'tools', 'demo', 'image_demo.py')
    monkeypatch.setattr(sys, 'argv', [
        script, str(tmp_path / 'wflw98.py'), checkpoint, str(broken)])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(script, run_name='__main__')
    message = str(exit_info.value.code)  # sys.exit(str): printed, status 1
    assert message.startswith('image_demo.py: error: checkpoint ')
    assert 'the checkpoint has 68 keypoints, the config 98' in message
    assert issubclass(CheckpointMismatchError, ValueError)


def test_video_demo_writes_a_video_and_per_frame_json(tmp_path, tiny_model,
                                                      fixture_dir):
    # a 4-frame clip of a real face, shifted 8 px per frame
    face = cv2.imread(str(fixture_dir('300w') / 'indoor_020.png'))
    face = cv2.resize(face, (180, 190))
    clip = str(tmp_path / 'clip.avi')
    writer = cv2.VideoWriter(clip, cv2.VideoWriter_fourcc(*'MJPG'), 10,
                             (240, 200))
    for frame_index in range(4):
        frame = np.zeros((200, 240, 3), np.uint8)
        frame[5:195, 8 * frame_index:8 * frame_index + 180] = face
        writer.write(frame)
    writer.release()

    config, checkpoint = tiny_model
    out = tmp_path / 'out' / 'clip.mp4'
    assert load_demo('video_demo').main(
        [config, checkpoint, clip, '--out', str(out), '--max-frames', '3',
         '--bbox', '10', '10', '150', '160']) == 0
    capture = cv2.VideoCapture(str(out))
    frames = []
    ok, frame = capture.read()
    while ok:
        frames.append(frame)
        ok, frame = capture.read()
    capture.release()
    assert len(frames) == 3 and frames[0].shape == (200, 240, 3)
    result = json.loads((tmp_path / 'out' / 'clip.json').read_text())
    assert result['num_frames'] == 3 and result['fps'] == 10
    assert [f['frame'] for f in result['frames']] == [0, 1, 2]
    for record in result['frames']:
        assert record['faces'][0]['bbox'] == [10, 10, 150, 160]
        assert np.array(record['faces'][0]['keypoints']).shape == (68, 2)


def test_video_demo_missing_inputs_are_clear_errors(tmp_path, tiny_model):
    config, checkpoint = tiny_model
    demo = load_demo('video_demo')
    with pytest.raises(FileNotFoundError, match='video file .*none.mp4'):
        demo.main([config, checkpoint, str(tmp_path / 'none.mp4'),
                   '--bbox', '0', '0', '9', '9'])
    text = tmp_path / 'text.mp4'
    text.write_text('not a video')
    with pytest.raises(ValueError, match='video .*text.mp4'):
        demo.main([config, checkpoint, str(text), '--bbox', '0', '0', '9',
                   '9'])
    with pytest.raises(ValueError, match='cannot open camera 97'):
        demo.main([config, checkpoint, '97', '--bbox', '0', '0', '9', '9'])
