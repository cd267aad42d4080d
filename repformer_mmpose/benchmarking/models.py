"""The models of the benchmark: which config each one is, at what input
size and number of landmarks, and training labels for them.

A model is a :class:`ModelSpec` of :data:`MODEL_SPECS`: a config of this
repository or one MMPose ships, built with random weights. A *variant* of
a model (a name suffix, :data:`VARIANTS`) changes its config or its code
path: ``_ref`` runs RePFormer's reference (paper-as-written) neck and head
path instead of the fast one; ``_nodrop`` sets the dropout of RePFormer's
neck and head (attention and FFN) to 0, with which PyTorch's CPU
``scaled_dot_product_attention`` can take its fused kernel in training.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

# the checkout (the plugin is installed editable): `configs/` lives here
REPO_ROOT = Path(__file__).resolve().parents[2]


class ModelSpec(NamedTuple):
    """One model of the benchmark.

    Args:
        label (str): Its name in the report.
        config (str): Its config, relative to ``where``.
        where (str): ``'repo'`` (this repository) or ``'mmpose'`` (the
            configs MMPose ships, ``mmpose/.mim/configs``).
        variant (str): A key of :data:`VARIANTS` (``''``: as configured).
    """
    label: str
    config: str
    where: str
    variant: str = ''


@dataclass(frozen=True)
class Variant:
    """A change to a model, named by a suffix of the model's name.

    Args:
        label (str): Appended to the model's label.
        modify_config (callable, optional): Changes the model config in
            place, after :func:`model_config` sized it.
        fast_path (bool): RePFormer's fast (True) or reference neck and
            head path (:func:`repformer_mmpose.models.utils.set_fast_path`).
    """
    label: str = ''
    modify_config: Callable[[object], None] | None = None
    fast_path: bool = True


def _without_dropout(cfg) -> None:
    """Dropout 0 in RePFormer's neck and head: on the attention weights,
    after the attention and in the FFNs (their ``dropout`` arguments)."""
    cfg.neck.dropout = 0.
    cfg.head.dropout = 0.


VARIANTS = {
    '': Variant(),
    # the reference (paper-as-written) path of RePFormer's neck and head,
    # to see what the fast path gains
    '_ref': Variant(', reference head', fast_path=False),
    # with dropout > 0, PyTorch's CPU scaled_dot_product_attention cannot
    # take its fused kernel in training
    '_nodrop': Variant(', dropout 0', modify_config=_without_dropout),
}

MODEL_SPECS = {
    'repformer_r18': ModelSpec(
        'RePFormer-R18',
        'configs/repformer/300w/repformer_res18_1xb16-360e_300w-256x256.py',
        'repo'),
    'repformer_r50': ModelSpec(
        'RePFormer-R50',
        'configs/repformer/300w/repformer_res50_1xb16-360e_300w-256x256.py',
        'repo'),
    # the CPU config as shipped (d_model 128, sub-cell offset, uncertainty
    # branch); compare at --input-size 128
    'repformer_r18_d128': ModelSpec(
        'RePFormer-R18-d128',
        'configs/repformer/300w/'
        'repformer_res18-d128_1xb16-15e_300w-subset-128x128.py', 'repo'),
    'tdreg_r50': ModelSpec(
        'td-reg ResNet-50 (MMPose)',
        'face_2d_keypoint/topdown_regression/wflw/'
        'td-reg_res50_8xb64-210e_wflw-256x256.py', 'mmpose'),
    'hrnetv2_w18': ModelSpec(
        'HRNetV2-W18 heatmap (MMPose)',
        'face_2d_keypoint/topdown_heatmap/300w/'
        'td-hm_hrnetv2-w18_8xb64-60e_300w-256x256.py', 'mmpose'),
    # the same with memories one octave finer (ResNet stages 1-3) and no
    # dropout; compare at --input-size 128
    'repformer_r18_d128_s4': ModelSpec(
        'RePFormer-R18-d128, strides 4/8/16, dropout 0',
        'configs/repformer/300w/refinement/'
        'repformer_res18-d128-s4-nodrop_1xb16-15e_300w-subset-128x128.py',
        'repo'),
    'rtmpose_m': ModelSpec(
        'RTMPose-m (MMPose)',
        'face_2d_keypoint/rtmpose/wflw/rtmpose-m_8xb64-60e_wflw-256x256.py',
        'mmpose'),
}
# the variants offered (not in the default set): model -> suffixes
_VARIANTS_OF = {
    'repformer_r18': ('_ref', ),
    'repformer_r50': ('_ref', ),
    'repformer_r18_d128': ('_nodrop', ),
}
for _name, _suffixes in _VARIANTS_OF.items():
    for _suffix in _suffixes:
        MODEL_SPECS[_name + _suffix] = MODEL_SPECS[_name]._replace(
            label=MODEL_SPECS[_name].label + VARIANTS[_suffix].label,
            variant=_suffix)
DEFAULT_MODELS = ['repformer_r18', 'repformer_r50', 'tdreg_r50',
                  'hrnetv2_w18', 'rtmpose_m']
# the landmarks the configs' `norm_indices` (36, 45: 300W's outer eye
# corners) refer to
NORM_INDICES_KEYPOINTS = 68


def mmpose_config_root() -> Path:
    import mmpose
    root = Path(mmpose.__file__).parent / '.mim' / 'configs'
    if not root.is_dir():
        raise FileNotFoundError(
            f'MMPose configs not found at {root}: install mmpose with pip '
            '(it ships them under mmpose/.mim/configs)')
    return root


def _replace_sync_bn(node):
    """SyncBN -> BN: one process, so they compute the same; SyncBN's
    CPU path is refused by some torch versions."""
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        for value in node.values():
            _replace_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _replace_sync_bn(value)


def model_config(name: str, input_size: int, num_keypoints: int):
    """The model config of ``name``, random init, at ``input_size`` with
    ``num_keypoints`` landmarks, without test-time flip."""
    from mmengine.config import Config
    spec = MODEL_SPECS[name]
    root = REPO_ROOT if spec.where == 'repo' else mmpose_config_root()
    cfg = Config.fromfile(str(root / spec.config)).model
    cfg.backbone.init_cfg = None
    # RTMPose's CSPNeXt names mmdet's scope, whose module needs compiled
    # mmcv ops; MMPose registers its own CSPNeXt, the same network.
    cfg.backbone.pop('_scope_', None)
    _replace_sync_bn(cfg)
    cfg.test_cfg = dict(flip_test=False)
    size = (input_size, input_size)
    head = cfg.head
    configured_size = head.decoder.input_size[0]
    head.decoder.input_size = size
    if 'heatmap_size' in head.decoder:
        head.decoder.heatmap_size = (input_size // 4, input_size // 4)
    head_type = head.type
    if head_type == 'PTHHead':
        head.num_keypoints = num_keypoints
        # the top memory keeps its stride (32, or 16 for the configs that
        # read ResNet stages 1-3)
        top_stride = configured_size // head.initial_memory_size[0]
        head.initial_memory_size = (input_size // top_stride, ) * 2
        # the uncertainty branch's inter-ocular points are 300W's
        if head.get('uncertainty') and \
                num_keypoints != NORM_INDICES_KEYPOINTS:
            head.uncertainty.pop('norm_indices', None)
    elif head_type == 'RegressionHead':
        head.num_joints = num_keypoints
    elif head_type == 'HeatmapHead':
        head.out_channels = num_keypoints
    elif head_type == 'RTMCCHead':
        head.out_channels = num_keypoints
        head.input_size = size
        head.in_featuremap_size = (input_size // 32, input_size // 32)
    else:
        raise ValueError(f'{name}: unknown head type {head_type}')
    variant = VARIANTS[spec.variant]
    if variant.modify_config is not None:
        variant.modify_config(cfg)
    return cfg


def build_model(name: str, input_size: int, num_keypoints: int):
    """``(model, config)`` of ``name`` (see :func:`model_config`), on the
    CPU, in training mode, on its variant's code path."""
    from mmengine.registry import init_default_scope

    import repformer_mmpose  # noqa: F401  (registers the plugin)
    from mmpose.registry import MODELS
    from repformer_mmpose.models.utils import set_fast_path
    init_default_scope('mmpose')
    cfg = model_config(name, input_size, num_keypoints)
    model = MODELS.build(cfg)
    set_fast_path(model, VARIANTS[MODEL_SPECS[name].variant].fast_path)
    return model, cfg


def make_data_samples(codec_cfg: dict, batch: int, num_keypoints: int,
                      input_size: int, seed: int = 0) -> list:
    """Training labels from each model's own codec and MMPose's
    ``GenerateTarget`` / ``PackPoseInputs``, for random landmarks."""
    import numpy as np

    from mmpose.datasets.transforms import GenerateTarget, PackPoseInputs
    rng = np.random.default_rng(seed)
    generate, pack = GenerateTarget(encoder=codec_cfg), PackPoseInputs()
    samples = []
    for _ in range(batch):
        results = dict(
            img=np.zeros((input_size, input_size, 3), np.uint8),
            img_shape=(input_size, input_size),
            input_size=(input_size, input_size),
            keypoints=rng.uniform(0.15, 0.85, (1, num_keypoints, 2)) *
            input_size,
            keypoints_visible=np.ones((1, num_keypoints), np.float32))
        samples.append(pack(generate(results))['data_samples'])
    return samples
