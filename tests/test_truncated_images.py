"""A truncated JPEG / PNG is an error, not a grey-filled training image.

OpenCV decodes a JPEG whose second half is lost without a word (the lost
rows come out flat grey). The images here are made in ``tmp_path``: a
random image encoded with ``cv2.imencode`` and cut in half. The data set's
``check_images='decode'``, ``LoadFaceImage`` and the converters' image
check must each refuse it with a one-line error naming the image (and the
record); complete images, also with harmless bytes after their end, pass.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmpose.datasets.datasets.face import Face300WDataset
from PIL import ImageFile

import repformer_mmpose.datasets.validation as validation
from repformer_mmpose.datasets import AnnotationError, RePFormer300WDataset
from repformer_mmpose.datasets.converters import ConversionError
from repformer_mmpose.datasets.converters.core import ImageSizeCache
from repformer_mmpose.datasets.image_integrity import (decode_problem,
                                                       truncation_problem)
from repformer_mmpose.datasets.transforms import (ImageLoadError,
                                                  LoadFaceImage)

META_300W = str(
    Path(__import__('mmpose').__file__).parent / '.mim' / 'configs' /
    '_base_' / 'datasets' / '300w.py')
HEIGHT, WIDTH = 96, 128
PILLOW_JPEG = r'Pillow: image file is truncated \(\d+ bytes not processed\)'


def _encoded(ext: str, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(ext, image)
    assert ok
    return buf.tobytes()


def _half(ext: str) -> bytes:
    data = _encoded(ext)
    return data[:len(data) // 2]


def test_opencv_decodes_half_a_jpeg_silently():
    """Pins why the checks exist: OpenCV returns a full-size image for
    half a JPEG, without an error."""
    image = cv2.imdecode(np.frombuffer(_half('.jpg'), np.uint8),
                         cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (HEIGHT, WIDTH, 3)


@pytest.mark.parametrize('ext, missing', [
    ('.jpg', r'JPEG without its end-of-image marker \(FF D9\)'),
    ('.png', 'PNG without its IEND chunk at the end'),
])
def test_truncated_image_is_reported(ext, missing):
    half = _half(ext)
    for problem in (truncation_problem(half), decode_problem(half)):
        assert re.fullmatch(
            rf'truncated: {missing} \({len(half)} bytes; Pillow: .+\)',
            problem), problem
    # complete, or complete with bytes after the image: sound
    whole = _encoded(ext)
    for data in (whole, whole + b'\0' * 7 + b'trailing'):
        assert truncation_problem(data) is None
        assert decode_problem(data) is None


def test_decode_check_ignores_a_global_allowing_truncation():
    """Code elsewhere may set Pillow's LOAD_TRUNCATED_IMAGES; the check
    refuses truncated data all the same and restores the setting."""
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        assert decode_problem(_half('.jpg')) is not None
        assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False


def test_other_formats_left_to_the_decoders():
    """The cheap check only knows JPEG / PNG end markers; the thorough one
    decodes a BMP fully and finds it truncated."""
    half_bmp = _half('.bmp')
    assert truncation_problem(half_bmp) is None
    assert re.fullmatch(r'truncated or corrupt \(\d+ bytes; Pillow: image '
                        r'file is truncated \(\d+ bytes not processed\)\)',
                        decode_problem(half_bmp))


# ----------------------------------------------------------------------
# the data set's decode check
# ----------------------------------------------------------------------
def _face_set(root: Path, image_bytes: bytes, name: str) -> Path:
    """A 300W-style file: one face (68 points) in one image."""
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(image_bytes)
    rng = np.random.default_rng(3)
    points = rng.uniform([30, 20], [90, 70], (68, 2))
    keypoints = np.concatenate([points, np.ones((68, 1))], 1)
    coco = dict(
        images=[dict(id=1, file_name=name, width=WIDTH, height=HEIGHT)],
        annotations=[dict(
            id=1, image_id=1, category_id=1, iscrowd=0, num_keypoints=68,
            keypoints=keypoints.reshape(-1).tolist(), center=[60.0, 45.0],
            scale=0.35, bbox=[30.0, 20.0, 60.0, 50.0], area=3000.0)],
        categories=[dict(id=1, name='face')])
    path = root / 'faces.json'
    path.write_text(json.dumps(coco))
    return path


def _dataset(root: Path, cls=RePFormer300WDataset, **kwargs):
    return cls(data_root=str(root), ann_file='faces.json',
               data_prefix=dict(img=''), serialize_data=False,
               metainfo=dict(from_file=META_300W), **kwargs)


@pytest.mark.parametrize('ext', ['.jpg', '.png'])
def test_decode_check_refuses_truncated_image(tmp_path, ext):
    name = f'face{ext}'
    ann_file = _face_set(tmp_path, _half(ext), name)
    # 'exists' does not read the image
    assert len(_dataset(tmp_path)) == 1
    with pytest.raises(AnnotationError) as info:
        _dataset(tmp_path, check_images='decode')
    error = info.value
    assert (error.ann_file, error.record, error.field, error.reason) == (
        str(ann_file), f'annotation id 1 (image {name})', 'file_name',
        validation.IMAGE_FILE)
    path = re.escape(str(tmp_path / name))
    if ext == '.jpg':  # OpenCV decodes it: Pillow finds it truncated
        expected = (rf'image file {path}: truncated: JPEG without its '
                    rf'end-of-image marker \(FF D9\) \(\d+ bytes; '
                    rf'{PILLOW_JPEG}\)')
    else:  # OpenCV fails: Pillow says why
        expected = (rf'image file cannot be decoded: {path} \(truncated: '
                    r'PNG without its IEND chunk at the end \(\d+ bytes; '
                    r'Pillow: .+\)\)')
    assert re.fullmatch(
        rf'{re.escape(str(ann_file))}: annotation id 1 \(image {name}\): '
        rf"field 'file_name': {expected}", str(error)), str(error)
    assert '\n' not in str(error)


def test_decode_check_skip_counts_truncated_image(tmp_path):
    _face_set(tmp_path, _half('.jpg'), 'face.jpg')
    # a second, sound image in the same file
    coco = json.loads((tmp_path / 'faces.json').read_text())
    (tmp_path / 'good.jpg').write_bytes(_encoded('.jpg', seed=1))
    coco['images'].append(dict(coco['images'][0], id=2,
                               file_name='good.jpg'))
    coco['annotations'].append(dict(coco['annotations'][0], id=2,
                                    image_id=2))
    (tmp_path / 'faces.json').write_text(json.dumps(coco))
    dataset = _dataset(tmp_path, check_images='decode', skip_invalid=True)
    assert [dataset.get_data_info(i)['id'] for i in range(len(dataset))
            ] == [2]
    assert dataset.invalid_records.counts() == {validation.IMAGE_FILE: 1}


def test_decode_check_passes_sound_images(tmp_path):
    _face_set(tmp_path, _encoded('.jpg') + b'trailing bytes', 'face.jpg')
    assert len(_dataset(tmp_path, check_images='decode')) == 1


# ----------------------------------------------------------------------
# LoadFaceImage
# ----------------------------------------------------------------------
@pytest.mark.parametrize('ext, missing', [
    ('.jpg', r'JPEG without its end-of-image marker \(FF D9\)'),
    ('.png', 'PNG without its IEND chunk at the end'),
])
def test_load_face_image_refuses_truncated_image(tmp_path, ext, missing):
    path = tmp_path / f'face{ext}'
    half = _half(ext)
    path.write_bytes(half)
    sample = dict(img_path=str(path), id=7, img_id=3)
    with pytest.raises(ImageLoadError) as info:
        LoadFaceImage()(dict(sample))
    assert info.value.path == str(path)
    assert info.value.record == 'annotation id 7, image id 3'
    assert re.fullmatch(
        rf'image {re.escape(str(path))} \(annotation id 7, image id 3\): '
        rf'truncated: {missing} \({len(half)} bytes; Pillow: .+\)',
        str(info.value)), str(info.value)
    # the complete image (and one with bytes after its end) loads
    for data in (_encoded(ext), _encoded(ext) + b'\0\0junk'):
        path.write_bytes(data)
        results = LoadFaceImage()(dict(sample))
        assert results['img'].shape == (HEIGHT, WIDTH, 3)


def test_mmpose_dataset_and_loader_accept_half_a_jpeg(tmp_path):
    """Pins the fault: MMPose's own dataset and LoadImage take it."""
    from mmpose.datasets.transforms import LoadImage
    _face_set(tmp_path, _half('.jpg'), 'face.jpg')
    assert len(_dataset(tmp_path, cls=Face300WDataset)) == 1
    img = LoadImage()(dict(img_path=str(tmp_path / 'face.jpg')))['img']
    assert img.shape == (HEIGHT, WIDTH, 3)


# ----------------------------------------------------------------------
# converters
# ----------------------------------------------------------------------
def test_converter_image_check_refuses_truncated_image(tmp_path):
    (tmp_path / 'face.jpg').write_bytes(_half('.jpg'))
    (tmp_path / 'good.jpg').write_bytes(_encoded('.jpg'))
    images = ImageSizeCache(tmp_path)
    assert images.size('good.jpg', source='list.txt',
                       location='line 1') == (HEIGHT, WIDTH)
    with pytest.raises(ConversionError) as info:
        images.size('face.jpg', source='list.txt', location='line 2')
    assert re.fullmatch(
        r"list\.txt, line 2: field 'image': image "
        rf'{re.escape(str(tmp_path / "face.jpg"))}: truncated: JPEG '
        r'without its end-of-image marker \(FF D9\) \(\d+ bytes; '
        rf'{PILLOW_JPEG}\)', str(info.value)), str(info.value)
