"""The inference API: boxes, checkpoints, landmarks in image space,
drawing."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from repformer_mmpose.apis import (CascadeFaceDetector,
                                   CheckpointMismatchError,
                                   FaceLandmarkDetector, ImageReadError,
                                   MMDetFaceDetector, draw_faces,
                                   init_face_model, load_boxes_json,
                                   predict_landmarks)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'repformer', 'synthface',
                  'repformer_res18-d128_1xb16-6e_synthface-128x128.py')
SIZE = 64


def write_tiny_config(tmp_path, num_keypoints=68):
    """The SynthFace config at 64x64 input with d_model 32 (fast); the
    98-point variant reads WFLW's metainfo."""
    cfg = Config.fromfile(CONFIG)
    cfg.model.neck.update(embed_dims=32, num_heads=2, ffn_dims=64)
    cfg.model.head.update(
        num_keypoints=num_keypoints, embed_dims=32, num_heads=2,
        ffn_dims=64, predictor_dims=32, initial_memory_size=(2, 2),
        decoder=dict(type='DLRLabel', input_size=(SIZE, SIZE)))
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        if num_keypoints == 98:
            loader.dataset.type = 'WFLWDataset'
        for transform in loader.dataset.pipeline:
            if transform['type'] == 'TopdownAffine':
                transform['input_size'] = (SIZE, SIZE)
    path = str(tmp_path / f'tiny_{num_keypoints}.py')
    cfg.dump(path)
    return path


def save_checkpoint(model, path, state_dict=None):
    torch.save({'state_dict': state_dict or model.state_dict(),
                'meta': {'dataset_meta': model.dataset_meta}}, path)
    return str(path)


def logit(p):
    return float(np.log(p / (1 - p)))


def constant_landmark_checkpoint(tmp_path, x=0.25, y=0.75):
    """A checkpoint whose every landmark is at normalised ``(x, y)`` of the
    crop: ``L^0 = sigmoid(bias)`` with zero weights, zero residuals."""
    torch.manual_seed(0)
    config = write_tiny_config(tmp_path)
    model = init_face_model(config)
    state = model.state_dict()
    state['head.initial_predictor.fc.weight'].zero_()
    state['head.initial_predictor.fc.bias'].copy_(
        torch.tensor([logit(x), logit(y)]).repeat(68))
    for stage in range(3):
        for name in ('weight', 'bias'):
            state[f'head.coordinate_predictors.{stage}.layers.2.{name}'] \
                .zero_()
    return config, save_checkpoint(model, tmp_path / 'const.pth', state)


def iou(a, b):
    ix = max(0., min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0., min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area - inter)


def fixture_boxes(folder):
    """``{file name: [x1, y1, x2, y2]}`` of a fixture's annotations."""
    content = json.loads((folder / f'test_{folder.name}.json').read_text())
    names = {im['id']: im['file_name'] for im in content['images']}
    return {
        names[ann['image_id']]: [ann['bbox'][0], ann['bbox'][1],
                                 ann['bbox'][0] + ann['bbox'][2],
                                 ann['bbox'][1] + ann['bbox'][3]]
        for ann in content['annotations']
    }


# ----------------------------------------------------------------------
# boxes
# ----------------------------------------------------------------------
def test_boxes_json_from_the_fixture_annotation(fixture_dir):
    folder = fixture_dir('300w')
    expected = fixture_boxes(folder)
    for name, box in expected.items():
        boxes = load_boxes_json(folder / 'test_300w.json',
                                f'/elsewhere/{name}')  # matched by name
        np.testing.assert_allclose(boxes, [[*box, 1.]], rtol=1e-6)
    with pytest.raises(ValueError, match=r'no images\[\]\.file_name is '
                       r"'other\.png'"):
        load_boxes_json(folder / 'test_300w.json', 'other.png')
    with pytest.raises(ValueError, match='describes 2 images'):
        load_boxes_json(folder / 'test_300w.json')


def test_boxes_json_list_and_demo_result_layouts(tmp_path):
    plain = tmp_path / 'plain.json'
    plain.write_text('[[10, 20, 110, 140], [0, 0, 5, 6, 0.5]]')
    np.testing.assert_array_equal(
        load_boxes_json(plain),
        [[10, 20, 110, 140, 1], [0, 0, 5, 6, 0.5]])
    result = tmp_path / 'result.json'
    result.write_text(json.dumps(
        {'faces': [{'bbox': [1, 2, 3, 4], 'bbox_score': 0.25,
                    'keypoints': []}]}))
    np.testing.assert_array_equal(load_boxes_json(result),
                                  [[1, 2, 3, 4, 0.25]])


def test_bad_boxes_are_refused_naming_file_and_field(tmp_path):
    bad_coco = tmp_path / 'coco.json'
    bad_coco.write_text(json.dumps({
        'images': [{'id': 1, 'file_name': 'a.jpg'}],
        'annotations': [{'image_id': 1, 'bbox': [0, 0, 10, 10]},
                        {'image_id': 1, 'bbox': [5, 5, -3, 10]}]}))
    with pytest.raises(ValueError,
                       match=r'coco\.json: annotations\[1\]\.bbox'):
        load_boxes_json(bad_coco, 'a.jpg')
    empty = tmp_path / 'empty_box.json'
    empty.write_text('[[0, 0, 10, 10], [50, 10, 40, 30]]')
    with pytest.raises(ValueError, match=r'empty_box\.json\[1\].*is empty'):
        load_boxes_json(empty)
    other = tmp_path / 'other.json'
    other.write_text('{"boxes": []}')
    with pytest.raises(ValueError, match='other.json: unrecognised'):
        load_boxes_json(other)
    with pytest.raises(FileNotFoundError, match='missing.json'):
        load_boxes_json(tmp_path / 'missing.json')


def test_cascade_finds_the_annotated_300w_faces_and_none_in_noise(
        fixture_dir):
    folder = fixture_dir('300w')
    detector = CascadeFaceDetector()
    for name, box in fixture_boxes(folder).items():
        found = detector.detect(cv2.imread(str(folder / name)))
        assert found.shape[1] == 5 and len(found) >= 1, name
        # the largest detection is the annotated face
        assert iou(found[0], box) > 0.5, (name, found[0], box)
    rng = np.random.default_rng(0)
    gradient = np.linspace(0, 255, 320)[None, :, None] * np.ones((240, 1, 3))
    noise = np.clip(gradient + rng.normal(0, 20, gradient.shape), 0, 255)
    assert len(detector.detect(noise.astype(np.uint8))) == 0


def test_mmdet_detector_boxes(tmp_path):
    """A tiny random DETR (no NMS, so it runs on mmcv-lite): the wrapper
    gives image-space xyxy boxes, best first, filtered by class/score."""
    import mmdet
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim',
                                   'configs', 'detr',
                                   'detr_r18_8xb2-500e_coco.py'))
    cfg.model.backbone.init_cfg = None
    cfg.model.num_queries = cfg.model.test_cfg.max_per_img = 5
    cfg.model.encoder.num_layers = cfg.model.decoder.num_layers = 1
    cfg.model.bbox_head.num_classes = 1
    cfg.test_pipeline[1]['scale'] = (96, 96)
    cfg.test_dataloader.dataset.pipeline = cfg.test_pipeline
    cfg.dump(str(tmp_path / 'detr.py'))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        detr = MODELS.build(cfg.model)
    torch.save({'state_dict': detr.state_dict()}, tmp_path / 'detr.pth')

    image = np.random.default_rng(0).integers(0, 255, (120, 160, 3),
                                              dtype=np.uint8)
    detector = MMDetFaceDetector(str(tmp_path / 'detr.py'),
                                 str(tmp_path / 'detr.pth'), score_thr=0.)
    boxes = detector.detect(image)
    assert boxes.shape == (5, 5)
    assert (np.diff(boxes[:, 4]) <= 0).all()  # best first
    assert (boxes[:, 0] < boxes[:, 2]).all() and (
        boxes[:, 1] < boxes[:, 3]).all()
    assert (boxes[:, :4] >= -1).all() and (boxes[:, [0, 2]] <= 161).all() \
        and (boxes[:, [1, 3]] <= 121).all()
    detector.score_thr = float(boxes[2, 4])
    assert len(detector.detect(image)) == 3
    detector.class_id = 1  # no such class
    assert len(detector.detect(image)) == 0


# ----------------------------------------------------------------------
# model and checkpoint
# ----------------------------------------------------------------------
def test_checkpoint_loads_exactly(tmp_path):
    torch.manual_seed(0)
    config = write_tiny_config(tmp_path)
    source = init_face_model(config)
    # a DDP checkpoint ('module.' prefix) loads too
    state = {f'module.{k}': v for k, v in source.state_dict().items()}
    checkpoint = save_checkpoint(source, tmp_path / 'ddp.pth', state)
    torch.manual_seed(1)
    loaded = init_face_model(config, checkpoint)
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert loaded.dataset_meta['num_keypoints'] == 68
    assert not loaded.training


def test_keypoint_count_mismatch_is_a_clear_error(tmp_path):
    torch.manual_seed(0)
    model68 = init_face_model(write_tiny_config(tmp_path, 68))
    checkpoint = save_checkpoint(model68, tmp_path / 'points68.pth')
    config98 = write_tiny_config(tmp_path, 98)
    with pytest.raises(CheckpointMismatchError) as error:
        init_face_model(config98, checkpoint)
    message = str(error.value)
    assert 'points68.pth' in message
    assert 'the checkpoint has 68 keypoints, the config 98' in message
    assert 'head.landmark_embed.weight' in message


def test_missing_parameters_are_an_error(tmp_path):
    torch.manual_seed(0)
    config = write_tiny_config(tmp_path)
    model = init_face_model(config)
    state = model.state_dict()
    del state['head.stages.2.feed_forward.norm.weight']
    checkpoint = save_checkpoint(model, tmp_path / 'partial.pth', state)
    with pytest.raises(CheckpointMismatchError,
                       match=r'1 missing parameter\(s\), e\.g\. '
                       r'head\.stages\.2\.feed_forward\.norm\.weight'):
        init_face_model(config, checkpoint)
    with pytest.raises(FileNotFoundError, match='nothing.pth'):
        init_face_model(config, tmp_path / 'nothing.pth')


# ----------------------------------------------------------------------
# landmarks
# ----------------------------------------------------------------------
def test_landmarks_are_mapped_from_the_crop_to_the_image(tmp_path):
    """Every landmark at (0.25, 0.75) of the crop. Box (100, 50)-(300, 250):
    MMPose pads it by 1.25 to a 250 px square centred at (200, 150); input
    pixel u * 64 - 0.5 maps to u' / 64 * 250 + centre - 125."""
    config, checkpoint = constant_landmark_checkpoint(tmp_path)
    model = init_face_model(config, checkpoint)
    image = np.full((400, 500, 3), 128, np.uint8)
    faces = predict_landmarks(model, image,
                              [[100, 50, 300, 250], [20, 300, 60, 340, .5]])
    assert len(faces) == 2
    first, second = faces
    x_in, y_in = 0.25 * SIZE - 0.5, 0.75 * SIZE - 0.5
    np.testing.assert_allclose(
        first.keypoints,
        np.tile([x_in / SIZE * 250 + 75, y_in / SIZE * 250 + 25], (68, 1)),
        atol=1e-3)
    # second box: 40 px, padded to 50, centred at (40, 320)
    np.testing.assert_allclose(
        second.keypoints[0],
        [x_in / SIZE * 50 + 15, y_in / SIZE * 50 + 295], atol=1e-3)
    np.testing.assert_array_equal(first.bbox, [100, 50, 300, 250])
    assert (first.bbox_score, second.bbox_score) == (1., .5)
    # the CPU configs' confidence branch: P(error <= 0.05 d), d = the
    # predicted eye-corner distance, here 0 (every point at one place)
    np.testing.assert_array_equal(first.keypoint_scores, np.zeros(68))
    assert first.keypoint_scales.shape == (68, )
    record = second.to_dict()
    assert record['bbox'] == [20, 300, 60, 340]
    assert len(record['keypoints']) == 68

    assert predict_landmarks(model, image, np.zeros((0, 4))) == []
    with pytest.raises(ValueError, match=r'bboxes\[0\].*is empty'):
        predict_landmarks(model, image, [[10, 10, 10, 30]])


def test_unreadable_image_is_a_clear_error(tmp_path):
    config, checkpoint = constant_landmark_checkpoint(tmp_path)
    detector = FaceLandmarkDetector(config, checkpoint)
    fake = tmp_path / 'notes.jpg'
    fake.write_text('not an image')
    with pytest.raises(ImageReadError, match='cannot read image .*notes.jpg'):
        detector(str(fake))
    with pytest.raises(FileNotFoundError, match='absent.png not found'):
        detector(str(tmp_path / 'absent.png'))


def test_detector_draws_landmarks_where_they_are(tmp_path, fixture_dir):
    config, checkpoint = constant_landmark_checkpoint(tmp_path)
    detector = FaceLandmarkDetector(config, checkpoint)
    path = str(fixture_dir('300w') / 'indoor_020.png')
    faces = detector(path)  # Haar cascade
    assert len(faces) >= 1
    image = cv2.imread(path)
    drawn = detector.draw(path, faces, radius=3)
    assert drawn.shape == image.shape
    x, y = np.round(faces[0].keypoints[0]).astype(int)
    # 300W's keypoint colour is red (RGB 255, 0, 0), BGR in the output
    np.testing.assert_array_equal(drawn[y, x], [0, 0, 255])
    # the box is drawn (edge pixels changed), far pixels are not
    x1, y1, x2, y2 = faces[0].bbox.astype(int)
    assert (drawn[y1, x1:x2] != image[y1, x1:x2]).any()
    assert (drawn[:5, :5] == image[:5, :5]).all()
    # without faces the image comes back unchanged (a copy)
    unchanged = draw_faces(image, [], detector.dataset_meta)
    assert unchanged is not image and (unchanged == image).all()
