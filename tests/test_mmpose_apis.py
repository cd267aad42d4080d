"""MMPose's own inference APIs run RePFormer, as a new user would call them.

A script that starts with ``from mmpose.apis import MMPoseInferencer``
(no ``import repformer_mmpose``; the config's ``custom_imports`` brings the
plugin in when the config is read) runs in a fresh interpreter of this
environment, on a real 300W face, with a checkpoint of the randomly
initialised 68-point model. Random weights give meaningless landmarks, so
the checks are on what the APIs must get right: our head ran, 68 finite
points per face, inside (or near) the face's crop.

MMPose 1.3.2's ``MMPoseInferencer`` ignores ``bboxes=`` for 2D models
(``Pose2DInferencer.preprocess_single`` resets them) and, without a
detector, takes the whole image as the box; so it is given the face's
crop, and ``inference_topdown`` the whole photo with the face's box.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from repformer_mmpose.apis import init_face_model

REPO = Path(__file__).resolve().parents[1]
CONFIG = (REPO / 'configs' / 'repformer' / '300w' /
          'repformer_res18-d128_1xb16-15e_300w-subset-128x128.py')

SCRIPT = """
import json
import sys

from mmpose.apis import MMPoseInferencer, inference_topdown

plugin_first = 'repformer_mmpose' in sys.modules
import cv2  # noqa: E402
import numpy as np  # noqa: E402

config, checkpoint, image_path, box = sys.argv[1:5]
x1, y1, x2, y2 = json.loads(box)
inferencer = MMPoseInferencer(pose2d=config, pose2d_weights=checkpoint,
                              device='cpu')
model = inferencer.inferencer.model
crop = cv2.imread(image_path)[y1:y2, x1:x2]
result = next(inferencer(crop, return_vis=True))
face = result['predictions'][0][0]
samples = inference_topdown(model, image_path,
                            bboxes=np.array([[x1, y1, x2, y2]], float),
                            bbox_format='xyxy')
print(json.dumps(dict(
    plugin_first=plugin_first,
    head=f'{type(model.head).__module__}.{type(model.head).__name__}',
    num_keypoints=model.dataset_meta['num_keypoints'],
    inferencer_keypoints=face['keypoints'],
    inferencer_bbox=face['bbox'],
    visualization=list(np.asarray(result['visualization'][0]).shape),
    topdown_faces=len(samples),
    topdown_keypoints=samples[0].pred_instances.keypoints.tolist(),
    topdown_bbox=samples[0].pred_instances.bboxes.tolist())))
"""


@pytest.fixture(scope='module')
def random_checkpoint(tmp_path_factory) -> Path:
    """The 68-point model at its random initialisation, saved as a Runner
    checkpoint (``state_dict`` + ``meta``)."""
    torch.manual_seed(0)
    model = init_face_model(CONFIG)
    path = tmp_path_factory.mktemp('checkpoint') / 'random_init.pth'
    torch.save(
        dict(state_dict=model.state_dict(),
             meta=dict(dataset_meta=model.dataset_meta)), path)
    return path


def _face(face300w_fixture: Path) -> tuple[Path, list[int]]:
    """The fixture's first photo and its face box ``x1, y1, x2, y2``."""
    annotations = json.loads(
        (face300w_fixture / 'test_300w.json').read_text())
    image = annotations['images'][0]
    x, y, w, h = next(a['bbox'] for a in annotations['annotations']
                      if a['image_id'] == image['id'])
    box = [int(x), int(y), int(np.ceil(x + w)), int(np.ceil(y + h))]
    return face300w_fixture / image['file_name'], box


def _inside(points: np.ndarray, box: list[float], margin: float) -> bool:
    """All points in ``box`` grown by ``margin`` times its size."""
    x1, y1, x2, y2 = box
    dx, dy = margin * (x2 - x1), margin * (y2 - y1)
    return bool(((points[:, 0] >= x1 - dx) & (points[:, 0] <= x2 + dx)
                 & (points[:, 1] >= y1 - dy)
                 & (points[:, 1] <= y2 + dy)).all())


def test_mmpose_inferencer_and_inference_topdown_run_our_model(
        tmp_path, face300w_fixture, random_checkpoint):
    image, box = _face(face300w_fixture)
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('PYTHONPATH', None)
    result = subprocess.run(
        [sys.executable, '-c', textwrap.dedent(SCRIPT), str(CONFIG),
         str(random_checkpoint), str(image), json.dumps(box)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (
        'if this says "No module named \'mmcv._ext\'", the start-up hook '
        'is missing: reinstall the plugin (pip install -e .)\n'
        + result.stderr[-3000:])
    out = json.loads(result.stdout.strip().splitlines()[-1])

    assert out['plugin_first'] is False  # MMPose's import came first
    assert out['head'] == 'repformer_mmpose.models.heads.pth_head.PTHHead'
    assert out['num_keypoints'] == 68

    # the inferencer, on the face's crop (its whole image is the box)
    width, height = box[2] - box[0], box[3] - box[1]
    points = np.asarray(out['inferencer_keypoints'])
    assert points.shape == (68, 2) and np.isfinite(points).all()
    assert out['inferencer_bbox'] == [[0, 0, width, height]]
    # MMPose pads the box by 1.25 into the model's square input
    assert _inside(points, [0, 0, width, height], margin=0.3)
    assert out['visualization'] == [height, width, 3]

    # inference_topdown, on the whole photo with the face's box
    assert out['topdown_faces'] == 1
    points = np.asarray(out['topdown_keypoints'])
    assert points.shape == (1, 68, 2) and np.isfinite(points).all()
    np.testing.assert_allclose(out['topdown_bbox'], [box])
    assert _inside(points[0], box, margin=0.3)
