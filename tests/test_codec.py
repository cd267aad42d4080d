"""The DLRLabel codec: every coordinate conversion of the head."""
import numpy as np
import pytest
import torch

from mmpose.datasets.transforms import RandomFlip
from repformer_mmpose.codecs import DLRLabel


def test_encode_normalises_so_the_image_spans_unit_square():
    codec = DLRLabel(input_size=(256, 128))
    keypoints = np.array([[[-0.5, -0.5], [255.5, 127.5], [127.5, 63.5]]])
    encoded = codec.encode(keypoints)
    assert np.allclose(encoded['keypoint_labels'],
                       [[[0, 0], [1, 1], [0.5, 0.5]]])
    assert encoded['keypoint_labels'].dtype == np.float32
    assert np.array_equal(encoded['keypoint_weights'], [[1, 1, 1]])


def test_decode_inverts_encode():
    codec = DLRLabel(input_size=(256, 256))
    keypoints = np.random.default_rng(0).uniform(0, 255, (2, 68, 2))
    decoded, scores = codec.decode(codec.encode(keypoints)['keypoint_labels'])
    assert np.allclose(decoded, keypoints, atol=1e-4)
    assert np.array_equal(scores, np.ones((2, 68)))


def test_invisible_and_outside_points():
    keypoints = np.array([[[10., 10.], [300., 10.], [20., 20.]]])
    visible = np.array([[1., 1., 0.]])
    kept = DLRLabel((256, 256)).encode(keypoints, visible)
    assert np.array_equal(kept['keypoint_weights'], [[1, 1, 0]])
    dropped = DLRLabel((256, 256), ignore_outside=True).encode(
        keypoints, visible)
    assert np.array_equal(dropped['keypoint_weights'], [[1, 0, 0]])


def test_nan_visible_keypoint_is_an_error_but_invisible_nan_is_ignored():
    codec = DLRLabel((256, 256))
    keypoints = np.array([[[np.nan, 5.], [1., 2.]]])
    with pytest.raises(ValueError, match=r'visible keypoints \[0\]'):
        codec.encode(keypoints, np.array([[1., 1.]]))
    encoded = codec.encode(keypoints, np.array([[0., 1.]]))
    assert np.isfinite(encoded['keypoint_labels']).all()
    assert np.array_equal(encoded['keypoint_weights'], [[0, 1]])


def test_flip_matches_mmpose_image_flip_exactly():
    """Predicting on a flipped image and flipping back is exact."""
    width = 64
    codec = DLRLabel((width, width))
    flip_indices = [1, 0, 2]
    keypoints = np.array([[[10.0, 5.0], [50.0, 6.0], [31.0, 40.0]]],
                         dtype=np.float32)
    results = dict(
        img=np.zeros((width, width, 3), np.uint8),
        img_shape=(width, width),
        keypoints=keypoints.copy(),
        keypoints_visible=np.ones((1, 3), np.float32),
        flip_indices=flip_indices)
    flipped = RandomFlip(prob=1., direction='horizontal')(results)
    # What a perfect model would predict on the flipped image...
    prediction = torch.from_numpy(
        codec.encode(flipped['keypoints'])['keypoint_labels'])
    # ...mapped back by the codec equals the original labels.
    restored = codec.flip(prediction, flip_indices)
    assert torch.allclose(
        restored,
        torch.from_numpy(codec.encode(keypoints)['keypoint_labels']),
        atol=1e-6)


def test_tensor_and_array_conversions_agree():
    codec = DLRLabel((192, 256))
    array = np.random.default_rng(1).uniform(0, 1, (3, 5, 2))
    assert np.allclose(
        codec.denormalize(torch.from_numpy(array)).numpy(),
        codec.denormalize(array))
    assert np.allclose(codec.normalize(codec.denormalize(array)), array)
