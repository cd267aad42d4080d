"""``pip install .`` into an environment that already has MMPose leaves a
working plugin, without ``tools/setup_env.sh``.

A new virtual environment sees the pinned stack of this one (a path file
pointing at its site-packages; the ``.pth`` files there, ours included, are
not run) and gets the plugin from a wheel built from a copy of the
checkout. In it, a script whose first import is MMPose's
``MMPoseInferencer`` runs a plugin config and checkpoint on a real 300W
photo with our offline face detector (the README's one line), and MMPose
draws the 68 points at its default thresholds.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r'''
import json, sys
from mmpose.apis import MMPoseInferencer  # the first import
import cv2
import numpy as np
import repformer_mmpose
from repformer_mmpose.apis import use_face_detector

config, checkpoint, photo, vis_dir = sys.argv[1:5]
inferencer = use_face_detector(
    MMPoseInferencer(pose2d=config, pose2d_weights=checkpoint,
                     device='cpu'))
result = next(inferencer(photo, vis_out_dir=vis_dir))
faces = result['predictions'][0]
image = cv2.imread(photo)
drawn = cv2.imread(f'{vis_dir}/{photo.rsplit("/", 1)[-1]}')
changed = np.abs(drawn.astype(int) - image).sum(-1) > 30


def is_drawn(x, y, r=4):  # a changed pixel within r px of the point
    x, y = int(round(x)), int(round(y))
    return bool(changed[max(y - r, 0):y + r + 1, max(x - r, 0):x + r + 1]
                .any())


print(json.dumps(dict(
    plugin=repformer_mmpose.__file__,
    faces=[dict(bbox=face['bbox'][0], keypoints=face['keypoints'],
                scores=face['keypoint_scores'],
                drawn=sum(is_drawn(*point) for point in face['keypoints']))
           for face in faces],
    image_shape=list(image.shape))))
'''


def _copy_checkout(target: Path) -> Path:
    """The tracked and new files of the checkout (what a clone holds), so
    that building the wheel writes nothing into the repository."""
    files = subprocess.run(
        ['git', 'ls-files', '--cached', '--others', '--exclude-standard'],
        cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    return target


@pytest.fixture(scope='module')
def fresh_env(tmp_path_factory) -> Path:
    """A new venv with the plugin pip-installed from a wheel; the stack
    (pip and setuptools included) comes from this environment's
    site-packages. pip runs in the new venv, so the plugin installed in
    this one is outside its environment and left alone."""
    root = tmp_path_factory.mktemp('pip_install')
    env = root / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip',
                    str(env)], check=True)
    python = env / 'bin' / 'python'
    site = subprocess.run(
        [str(python), '-c',
         'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
        capture_output=True, text=True, check=True).stdout.strip()
    Path(site, 'pinned_stack.pth').write_text(
        sysconfig.get_paths()['purelib'] + '\n')
    source = _copy_checkout(root / 'checkout')
    ours = _installed_files()
    subprocess.run(
        [str(python), '-m', 'pip', 'install', '--no-deps',
         '--no-build-isolation', '--disable-pip-version-check', '-q',
         str(source)],
        check=True, capture_output=True, text=True, timeout=600,
        env={**os.environ, 'PYTHONPATH': ''})
    assert _installed_files() == ours  # this environment is untouched
    return env


def _installed_files() -> set[str]:
    """This environment's own files of the plugin's distribution."""
    from importlib.metadata import distribution
    return {str(f) for f in distribution('repformer-mmpose').files or []}


def test_the_wheel_installs_the_start_up_hook(fresh_env):
    site = next(fresh_env.glob('lib/python*/site-packages'))
    names = {path.name for path in site.iterdir()}
    assert {'repformer_mmpose', '_repformer_mmcv_ext.py',
            'repformer_mmcv_ext.pth'} <= names


def test_mmpose_inferencer_finds_the_face_and_draws_68_points(
        fresh_env, tiny_model_without_confidence, face300w_fixture,
        tmp_path):
    config, checkpoint = tiny_model_without_confidence
    record = json.loads(
        (face300w_fixture / 'test_300w.json').read_text())['annotations'][0]
    image = next(i for i in json.loads(
        (face300w_fixture / 'test_300w.json').read_text())['images']
        if i['id'] == record['image_id'])
    photo = str(face300w_fixture / image['file_name'])
    out = subprocess.run(
        [str(fresh_env / 'bin' / 'python'), '-c', SCRIPT, config,
         checkpoint, photo, str(tmp_path / 'vis')],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, 'PYTHONPATH': ''})
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result['plugin'].startswith(str(fresh_env))  # not the checkout
    assert len(result['faces']) == 1
    face = result['faces'][0]
    height, width = result['image_shape'][:2]
    x1, y1, x2, y2 = face['bbox']
    # BlazeFace's box, not the whole image, around the annotated face
    fx, fy, fw, fh = record['bbox']
    assert (x2 - x1) * (y2 - y1) < 0.8 * width * height
    assert x1 < fx + fw / 2 < x2 and y1 < fy + fh / 2 < y2
    assert len(face['keypoints']) == 68
    # MMPoseInferencer's default kpt_thr is 0.3: every point is drawn
    assert min(face['scores']) >= 0.3
    assert face['drawn'] == 68
