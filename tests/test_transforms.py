"""Tests of the PIPNet-style augmentation transforms."""
import math

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmcv.transforms.utils import cache_random_params
from mmengine.registry import DefaultScope
from mmpose.datasets.transforms import TopdownAffine
from mmpose.registry import TRANSFORMS

import repformer_mmpose  # noqa: F401
from repformer_mmpose.datasets.transforms import (
    RandomGaussianBlur,
    RandomLumaGrayscale,
    RandomOcclusion,
    RandomShiftRotate,
)

CROP = 256
N_DRAWS = 2000
FREQ_TOL = 0.05


def _rng_image(h: int = CROP, w: int = CROP, seed: int = 0) -> np.ndarray:
    """A uint8 BGR image of independent uniform noise."""
    return np.random.default_rng(seed).integers(
        0, 256, size=(h, w, 3), dtype=np.uint8)


def _bbox_results(center=(100., 120.), scale=(200., 200.)) -> dict:
    return {
        'bbox_center': np.array([center], dtype=np.float32),
        'bbox_scale': np.array([scale], dtype=np.float32)}


def _fixed_uniform(fractions):
    """A stand-in for ``np.random.uniform`` returning fixed quantiles.

    Each value is ``low + (high - low) * f`` with ``f`` taken from
    ``fractions`` (repeated to the requested size), so it does not matter
    whether the code under test draws in ``[-1, 1]`` and scales afterwards
    or draws in ``[-max, max]`` directly.
    """

    def uniform(low=0.0, high=1.0, size=None):
        shape = () if size is None else size
        frac = np.resize(np.asarray(fractions, dtype=np.float64), shape)
        return low + (high - low) * frac

    return uniform


def _rotation(deg: float) -> np.ndarray:
    t = math.radians(deg)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


# --------------------------------------------------------------------------
# RandomShiftRotate
# --------------------------------------------------------------------------


def test_shift_moves_center_by_crop_pixels(monkeypatch):
    # u = 0.5 on x and -0.5 on y -> +15 / -15 pixels of the 256 crop.
    monkeypatch.setattr(np.random, 'uniform', _fixed_uniform([0.75, 0.25]))
    t = RandomShiftRotate(shift_prob=1., rotate_prob=0.)
    out = t(_bbox_results(center=(100., 120.), scale=(200., 200.)))
    px = 200. / 256.  # image pixels per crop pixel
    np.testing.assert_allclose(
        out['bbox_center'], [[100. + 15. * px, 120. - 15. * px]], atol=1e-4)
    np.testing.assert_array_equal(out['bbox_rotation'], [0.])
    np.testing.assert_array_equal(out['bbox_scale'], [[200., 200.]])


def test_shift_uses_aspect_fixed_scale(monkeypatch):
    # A 100x200 box is cropped as 200x200 by TopdownAffine for a square
    # input, so one crop pixel is 200/256 image pixels on both axes.
    monkeypatch.setattr(np.random, 'uniform', _fixed_uniform([1.0, 1.0]))
    t = RandomShiftRotate(shift_prob=1., rotate_prob=0.)
    out = t(_bbox_results(center=(100., 120.), scale=(100., 200.)))
    shift = 30. * 200. / 256.
    np.testing.assert_allclose(
        out['bbox_center'], [[100. + shift, 120. + shift]], atol=1e-4)

    # Checked through the crop: the old centre now lands 30 px off centre.
    out['img'] = np.zeros((300, 300, 3), np.uint8)
    out['keypoints'] = np.array([[[100., 120.]]], np.float32)
    out = TopdownAffine(input_size=(CROP, CROP))(out)
    np.testing.assert_allclose(
        out['transformed_keypoints'][0, 0], [128. - 30., 128. - 30.],
        atol=1e-3)


def test_shift_non_square_input_size(monkeypatch):
    # input (w, h) = (192, 256): a 150x200 box has the input's aspect ratio.
    monkeypatch.setattr(np.random, 'uniform', _fixed_uniform([1.0, 0.0]))
    t = RandomShiftRotate(input_size=(192, 256), max_shift_px=24.,
                          shift_prob=1., rotate_prob=0.)
    out = t(_bbox_results(center=(0., 0.), scale=(150., 200.)))
    np.testing.assert_allclose(
        out['bbox_center'], [[24. * 150. / 192., -24. * 200. / 256.]],
        atol=1e-4)


def test_shift_and_rotation_bounds_and_uniformity():
    np.random.seed(1)
    t = RandomShiftRotate(shift_prob=1., rotate_prob=1.)
    scale = np.array([[180., 180.]], np.float32)
    shifts, angles = [], []
    for _ in range(N_DRAWS):
        out = t(_bbox_results(center=(0., 0.), scale=(180., 180.)))
        shifts.append(out['bbox_center'][0] * CROP / scale[0])
        angles.append(out['bbox_rotation'][0])
    shifts = np.array(shifts)
    angles = np.array(angles)
    assert np.abs(shifts).max() <= 30. + 1e-3
    assert np.abs(angles).max() <= 30. + 1e-3
    # The whole range is used ...
    assert np.abs(shifts).max() > 29.
    assert np.abs(angles).max() > 29.
    # ... uniformly (a truncated normal puts ~0.22 in the outer quarters).
    for values, bound in ((shifts[:, 0], 30.), (shifts[:, 1], 30.),
                          (angles, 30.)):
        hist, _ = np.histogram(values, bins=4, range=(-bound, bound))
        np.testing.assert_allclose(hist / len(values), 0.25, atol=0.03)


def test_rotation_through_topdown_affine_rotates_about_crop_centre(
        monkeypatch):
    monkeypatch.setattr(np.random, 'uniform', _fixed_uniform([0.75]))
    t = RandomShiftRotate(shift_prob=0., rotate_prob=1.)
    center = np.array([150., 140.])
    point = np.array([190., 110.])
    img = np.zeros((300, 320, 3), np.uint8)
    cv2.circle(img, (190, 110), 3, (255, 255, 255), -1)
    results = _bbox_results(center=tuple(center), scale=(200., 200.))
    results.update(img=img, keypoints=np.array([[point, center]], np.float32))

    results = t(results)
    np.testing.assert_allclose(results['bbox_rotation'], [15.], atol=1e-5)
    results = TopdownAffine(input_size=(CROP, CROP))(results)

    # MMPose's crop maps an image point p to C + k * R(-theta) (p - c):
    # a rotation about the crop centre C = (128, 128), k = 256 / 200.
    k = CROP / 200.
    expected = np.array([128., 128.]) + k * _rotation(-15.) @ (point - center)
    kpts = results['transformed_keypoints'][0]
    np.testing.assert_allclose(kpts[0], expected, atol=1e-3)
    np.testing.assert_allclose(kpts[1], [128., 128.], atol=1e-3)
    # The distance to the crop centre is that of the unrotated crop.
    assert np.linalg.norm(kpts[0] - 128.) == pytest.approx(
        k * np.linalg.norm(point - center), abs=1e-3)
    # The pixels moved with the keypoint.
    gray = results['img'][..., 0].astype(np.float64)
    ys, xs = np.nonzero(gray > 128)
    np.testing.assert_allclose([xs.mean(), ys.mean()], expected, atol=1.0)


def test_shift_rotate_prob_zero_is_identity():
    np.random.seed(0)
    t = RandomShiftRotate(shift_prob=0., rotate_prob=0.)
    img = _rng_image(300, 300)
    kpts = np.array([[[60., 80.], [200., 210.]]], np.float32)

    def crop(results):
        results = dict(results, img=img.copy(), keypoints=kpts.copy())
        return TopdownAffine(input_size=(CROP, CROP))(results)

    for _ in range(50):
        out = t(_bbox_results())
        np.testing.assert_array_equal(out['bbox_center'], [[100., 120.]])
        np.testing.assert_array_equal(out['bbox_rotation'], [0.])
    plain = crop(_bbox_results())
    augmented = crop(t(_bbox_results()))
    np.testing.assert_array_equal(plain['img'], augmented['img'])
    np.testing.assert_allclose(plain['transformed_keypoints'],
                               augmented['transformed_keypoints'])


def test_shift_rotate_multi_instance_and_existing_rotation():
    np.random.seed(3)
    t = RandomShiftRotate(shift_prob=1., rotate_prob=1.)
    centers = np.array([[10., 20.], [100., 50.], [300., 200.]], np.float32)
    results = {
        'bbox_center': centers.copy(),
        'bbox_scale': np.full((3, 2), 256., np.float32),
        'bbox_rotation': np.array([5., 0., -5.], np.float32)}
    out = t(results)
    assert out['bbox_center'].shape == (3, 2)
    assert out['bbox_center'].dtype == np.float32
    assert out['bbox_rotation'].shape == (3, )
    offsets = out['bbox_center'] - centers
    assert np.all(np.abs(offsets) <= 30. + 1e-4)
    # Independent draws per instance.
    assert len(np.unique(offsets[:, 0])) == 3
    added = out['bbox_rotation'] - np.array([5., 0., -5.])
    assert np.all(np.abs(added) <= 30. + 1e-4)
    assert len(np.unique(added)) == 3


def test_shift_rotate_rejects_bad_center_shape():
    t = RandomShiftRotate()
    with pytest.raises(ValueError, match='bbox_center'):
        t({'bbox_center': np.zeros(2), 'bbox_scale': np.ones((1, 2))})


def test_shift_rotate_frequencies():
    np.random.seed(5)
    t = RandomShiftRotate(shift_prob=0.5, rotate_prob=0.3)
    shifted = rotated = 0
    for _ in range(N_DRAWS):
        out = t(_bbox_results())
        shifted += bool(np.any(out['bbox_center'] != [[100., 120.]]))
        rotated += bool(out['bbox_rotation'][0] != 0.)
    assert shifted / N_DRAWS == pytest.approx(0.5, abs=FREQ_TOL)
    assert rotated / N_DRAWS == pytest.approx(0.3, abs=FREQ_TOL)


# --------------------------------------------------------------------------
# RandomOcclusion
# --------------------------------------------------------------------------


@pytest.mark.parametrize('shape', [(256, 256), (192, 256)])
def test_occlusion_paints_one_bounded_rectangle(shape):
    h, w = shape
    np.random.seed(7)
    t = RandomOcclusion(prob=1.)
    kpts = np.array([[[30., 40.], [100., 120.]]], np.float32)
    colours = []
    for i in range(200):
        img = _rng_image(h, w, seed=i)
        results = {'img': img.copy(), 'keypoints': kpts.copy(),
                   'transformed_keypoints': kpts.copy()}
        out = t(results)
        x1, y1, x2, y2 = out['occlusion_box']
        assert 0 <= x1 <= x2 <= w and 0 <= y1 <= y2 <= h
        assert x2 - x1 <= 0.4 * w and y2 - y1 <= 0.4 * h
        inside = np.zeros((h, w), bool)
        inside[y1:y2, x1:x2] = True
        changed = np.any(out['img'] != img, axis=-1)
        assert not changed[~inside].any()
        patch = out['img'][inside]
        if len(patch):
            # One colour everywhere in the box.
            assert (patch == patch[0]).all()
            colours.append(patch[0])
        # Landmarks stay supervised: untouched.
        np.testing.assert_array_equal(out['keypoints'], kpts)
        np.testing.assert_array_equal(out['transformed_keypoints'], kpts)
        assert out['img'].dtype == np.uint8 and out['img'].shape == img.shape
    colours = np.array(colours)
    # Channels are drawn independently over the full 0-255 range.
    assert colours.min() < 15 and colours.max() > 240
    assert np.mean(colours[:, 0] != colours[:, 1]) > 0.9


def test_occlusion_sizes_cover_range():
    np.random.seed(8)
    t = RandomOcclusion(prob=1.)
    sizes = []
    img = np.zeros((256, 256, 3), np.uint8)
    for _ in range(500):
        x1, y1, x2, y2 = t({'img': img.copy()})['occlusion_box']
        sizes.append((x2 - x1, y2 - y1))
    sizes = np.array(sizes)
    assert sizes.max() <= int(0.4 * 256)
    assert sizes.max() >= 95
    # Uniform in [0, 0.4 * 256]: mean about 51.
    assert sizes.mean() == pytest.approx(0.2 * 256, abs=4.)


def test_occlusion_prob_zero_is_identity():
    np.random.seed(0)
    t = RandomOcclusion(prob=0.)
    img = _rng_image()
    for _ in range(20):
        out = t({'img': img.copy()})
        np.testing.assert_array_equal(out['img'], img)
        assert 'occlusion_box' not in out


def test_occlusion_frequency_and_record_flag():
    np.random.seed(9)
    t = RandomOcclusion(prob=0.5)
    img = np.zeros((64, 64, 3), np.uint8)
    hits = sum('occlusion_box' in t({'img': img.copy()})
               for _ in range(N_DRAWS))
    assert hits / N_DRAWS == pytest.approx(0.5, abs=FREQ_TOL)
    quiet = RandomOcclusion(prob=1., record_box=False)
    assert 'occlusion_box' not in quiet({'img': _rng_image(64, 64)})


# --------------------------------------------------------------------------
# RandomGaussianBlur
# --------------------------------------------------------------------------


def test_blur_with_largest_sigma(monkeypatch):
    monkeypatch.setattr(np.random, 'uniform', _fixed_uniform([1.0]))
    img = _rng_image()
    kpts = np.array([[[10., 20.]]], np.float32)
    out = RandomGaussianBlur(prob=1., max_sigma=5.)(
        {'img': img.copy(), 'keypoints': kpts.copy()})
    assert out['img'].dtype == np.uint8 and out['img'].shape == img.shape
    # White noise of variance v blurred by a 2D Gaussian of std 5 keeps
    # about v / (4 pi 25) of its variance.
    assert out['img'].var() < 0.01 * img.var()
    reference = cv2.GaussianBlur(img, (0, 0), sigmaX=5.)
    assert np.abs(out['img'].astype(int) - reference).max() <= 1
    np.testing.assert_array_equal(out['keypoints'], kpts)


def test_blur_reduces_variance_for_random_sigma():
    np.random.seed(2)
    img = _rng_image()
    t = RandomGaussianBlur(prob=1., max_sigma=5.)
    ratios = [t({'img': img.copy()})['img'].var() / img.var()
              for _ in range(30)]
    assert max(ratios) <= 1.0 + 1e-6
    assert np.median(ratios) < 0.05


def test_blur_prob_zero_and_tiny_sigma_are_identity():
    np.random.seed(0)
    img = _rng_image()
    for t in (RandomGaussianBlur(prob=0.),
              RandomGaussianBlur(prob=1., max_sigma=0.)):
        for _ in range(10):
            np.testing.assert_array_equal(t({'img': img.copy()})['img'], img)


def test_blur_frequency_and_sigma_range():
    np.random.seed(4)
    t = RandomGaussianBlur(prob=0.3, max_sigma=5.)
    draws = [t._sample_params() for _ in range(N_DRAWS)]
    sigmas = np.array([s for s in draws if s is not None])
    assert len(sigmas) / N_DRAWS == pytest.approx(0.3, abs=FREQ_TOL)
    assert sigmas.min() >= 0. and sigmas.max() <= 5.
    assert sigmas.mean() == pytest.approx(2.5, abs=0.3)
    assert RandomGaussianBlur.kernel_size(5.) == 31
    assert RandomGaussianBlur.kernel_size(0.5) == 5


# --------------------------------------------------------------------------
# RandomLumaGrayscale
# --------------------------------------------------------------------------


def test_grayscale_gives_three_equal_luma_channels():
    img = _rng_image()
    out = RandomLumaGrayscale(prob=1.)({'img': img.copy()})['img']
    assert out.shape == img.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., 0], out[..., 1])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])
    b, g, r = (img[..., i].astype(np.float64) for i in range(3))
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    assert np.abs(out[..., 0] - luma).max() <= 1.0


def test_grayscale_prob_zero_is_identity_and_frequency():
    img = _rng_image(32, 32)
    np.random.seed(0)
    for _ in range(20):
        out = RandomLumaGrayscale(prob=0.)({'img': img.copy()})['img']
        np.testing.assert_array_equal(out, img)
    t = RandomLumaGrayscale(prob=0.2)
    np.random.seed(6)
    grey = 0
    for _ in range(N_DRAWS):
        out = t({'img': img.copy()})['img']
        grey += bool((out[..., 0] == out[..., 1]).all())
    assert grey / N_DRAWS == pytest.approx(0.2, abs=FREQ_TOL)


def test_grayscale_rejects_four_channels():
    with pytest.raises(ValueError, match='3'):
        RandomLumaGrayscale(prob=1.)({'img': np.zeros((4, 4, 4), np.uint8)})


# --------------------------------------------------------------------------
# Arguments, registry, repr, determinism
# --------------------------------------------------------------------------


@pytest.mark.parametrize('cls, kwargs', [
    (RandomShiftRotate, {'shift_prob': 1.5}),
    (RandomShiftRotate, {'rotate_prob': -0.1}),
    (RandomShiftRotate, {'input_size': (0, 256)}),
    (RandomShiftRotate, {'input_size': (256, )}),
    (RandomShiftRotate, {'input_size': (256., 256.)}),
    (RandomShiftRotate, {'max_shift_px': -1.}),
    (RandomShiftRotate, {'max_rotate_deg': float('nan')}),
    (RandomOcclusion, {'prob': 2.}),
    (RandomOcclusion, {'max_size_ratio': 1.5}),
    (RandomOcclusion, {'max_size_ratio': -0.1}),
    (RandomGaussianBlur, {'prob': -1.}),
    (RandomGaussianBlur, {'max_sigma': -1.}),
    (RandomGaussianBlur, {'max_sigma': float('inf')}),
    (RandomLumaGrayscale, {'prob': 1.01}),
    (RandomLumaGrayscale, {'prob': '0.5'}),
])
def test_invalid_arguments_raise(cls, kwargs):
    with pytest.raises(ValueError):
        cls(**kwargs)


def test_defaults_follow_pipnet_and_repr():
    t = TRANSFORMS.build({'type': 'RandomShiftRotate'})
    assert isinstance(t, RandomShiftRotate)
    assert (t.input_size, t.max_shift_px, t.shift_prob, t.max_rotate_deg,
            t.rotate_prob) == ((256, 256), 30., 0.5, 30., 0.5)
    assert repr(t) == ('RandomShiftRotate(input_size=(256, 256), '
                       'max_shift_px=30.0, shift_prob=0.5, '
                       'max_rotate_deg=30.0, rotate_prob=0.5)')
    occ = TRANSFORMS.build({'type': 'RandomOcclusion'})
    assert (occ.prob, occ.max_size_ratio) == (0.5, 0.4)
    assert repr(occ) == ('RandomOcclusion(prob=0.5, max_size_ratio=0.4, '
                         'record_box=True)')
    blur = TRANSFORMS.build({'type': 'RandomGaussianBlur'})
    assert repr(blur) == 'RandomGaussianBlur(prob=0.3, max_sigma=5.0)'
    grey = TRANSFORMS.build({'type': 'RandomLumaGrayscale'})
    assert repr(grey) == 'RandomLumaGrayscale(prob=0.2)'


def test_cache_random_params_repeats_the_draw():
    img = _rng_image(64, 64)
    ts = [RandomShiftRotate(shift_prob=1., rotate_prob=1.),
          RandomOcclusion(prob=1.), RandomGaussianBlur(prob=1.)]
    with cache_random_params(ts):
        first = [ts[0](_bbox_results()), ts[1]({'img': img.copy()}),
                 ts[2]({'img': img.copy()})]
        second = [ts[0](_bbox_results()), ts[1]({'img': img.copy()}),
                  ts[2]({'img': img.copy()})]
    np.testing.assert_array_equal(first[0]['bbox_center'],
                                  second[0]['bbox_center'])
    np.testing.assert_array_equal(first[0]['bbox_rotation'],
                                  second[0]['bbox_rotation'])
    np.testing.assert_array_equal(first[1]['img'], second[1]['img'])
    np.testing.assert_array_equal(first[2]['img'], second[2]['img'])


# --------------------------------------------------------------------------
# Whole training pipeline
# --------------------------------------------------------------------------

NUM_KPTS = 6
FLIP_INDICES = [1, 0, 3, 2, 4, 5]


def _pipeline(**probs) -> Compose:
    """The training pipeline, built from configs in MMPose's scope."""
    p = {'flip': 0.5, 'shift': 0.5, 'rotate': 0.5, 'occ': 0.5, 'blur': 0.3,
         'grey': 0.2}
    p.update(probs)
    cfgs = [
        {'type': 'LoadImage'},
        {'type': 'GetBBoxCenterScale', 'padding': 1.0},
        {'type': 'RandomFlip', 'direction': 'horizontal', 'prob': p['flip']},
        {'type': 'RandomShiftRotate', 'input_size': (CROP, CROP),
         'shift_prob': p['shift'], 'rotate_prob': p['rotate']},
        {'type': 'TopdownAffine', 'input_size': (CROP, CROP)},
        {'type': 'RandomOcclusion', 'prob': p['occ']},
        {'type': 'RandomGaussianBlur', 'prob': p['blur']},
        {'type': 'RandomLumaGrayscale', 'prob': p['grey']},
        {'type': 'GenerateTarget',
         'encoder': {'type': 'RegressionLabel', 'input_size': (CROP, CROP)}},
        {'type': 'PackPoseInputs', 'pack_transformed': True},
    ]
    # mmcv's Compose looks types up in the registry of the default scope.
    with DefaultScope.overwrite_default_scope('mmpose'):
        return Compose(cfgs)


def _sample() -> dict:
    img = _rng_image(300, 400, seed=11)
    kpts = np.array([[[120., 130.], [180., 130.], [130., 180.], [170., 180.],
                      [150., 150.], [150., 200.]]], np.float32)
    return {
        'img': img,
        'bbox': np.array([[50., 60., 250., 260.]], np.float32),
        'bbox_score': np.ones(1, np.float32),
        'keypoints': kpts,
        'keypoints_visible': np.ones((1, NUM_KPTS), np.float32),
        'flip_indices': FLIP_INDICES,
        'id': 0, 'img_id': 0}


def test_full_pipeline_runs_and_labels_match_keypoints():
    pipeline = _pipeline()
    for seed in range(8):
        np.random.seed(seed)
        packed = pipeline(_sample())
        inputs = packed['inputs']
        assert isinstance(inputs, torch.Tensor)
        assert inputs.shape == (3, CROP, CROP) and inputs.dtype == torch.uint8
        sample = packed['data_samples']
        labels = sample.gt_instance_labels.keypoint_labels
        assert labels.shape == (1, NUM_KPTS, 2)
        transformed = sample.gt_instances.transformed_keypoints
        np.testing.assert_allclose(labels.numpy() * CROP, transformed,
                                   atol=1e-3)
        # Shift <= 30 px and rotation about the centre keep the landmarks
        # of this 200 px box (<= 64 px from the centre) inside the crop.
        assert np.all(np.abs(transformed - 128.) < 128.)
        np.testing.assert_array_equal(
            sample.gt_instance_labels.keypoint_weights.numpy(), 1.)
        assert sample.metainfo['input_size'] == (CROP, CROP)


def test_full_pipeline_is_seeded_and_random():
    pipeline = _pipeline()
    outs = []
    for seed in (21, 21, 22):
        np.random.seed(seed)
        outs.append(pipeline(_sample()))
    torch.testing.assert_close(outs[0]['inputs'], outs[1]['inputs'])
    torch.testing.assert_close(
        outs[0]['data_samples'].gt_instance_labels.keypoint_labels,
        outs[1]['data_samples'].gt_instance_labels.keypoint_labels)
    labels = [
        o['data_samples'].gt_instance_labels.keypoint_labels for o in outs]
    assert not torch.equal(outs[0]['inputs'], outs[2]['inputs']) or (
        not torch.equal(labels[0], labels[2]))


def test_full_pipeline_without_augmentation_is_plain_crop():
    pipeline = _pipeline(
        flip=0., shift=0., rotate=0., occ=0., blur=0., grey=0.)
    np.random.seed(0)
    sample = _sample()
    packed = pipeline(sample)
    # Box (50, 60)-(250, 260): centre (150, 160), side 200 -> 256 px.
    expected = (sample['keypoints'][0] - [150., 160.]) * CROP / 200. + 128.
    labels = packed['data_samples'].gt_instance_labels.keypoint_labels
    np.testing.assert_allclose(labels[0].numpy() * CROP, expected, atol=1e-3)
    img = _sample()['img']
    m = np.float32([[CROP / 200., 0., 128. - 150. * CROP / 200.],
                    [0., CROP / 200., 128. - 160. * CROP / 200.]])
    reference = cv2.warpAffine(img, m, (CROP, CROP), flags=cv2.INTER_LINEAR)
    diff = np.abs(packed['inputs'].permute(1, 2, 0).numpy().astype(int) -
                  reference)
    assert diff.max() <= 1
