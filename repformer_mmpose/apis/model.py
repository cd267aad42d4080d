"""Build a RePFormer from its config and load a checkpoint, strictly.

MMPose's ``init_model`` (mmengine's ``load_checkpoint``) only *warns* about
missing or mis-shaped parameters and leaves them random: a 68-point
checkpoint in a 98-point config runs with a random head.
:func:`init_face_model` refuses any difference, naming the file and the
parameters (:mod:`repformer_mmpose.engine.checkpoint_fit`).
"""
from __future__ import annotations

from pathlib import Path

from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader
from torch import nn

from mmpose.apis import init_model
from ..models.consistency import check_model
from ..engine.checkpoint_fit import (KEYPOINT_PARAMETERS,
                                     CheckpointMismatchError,
                                     check_state_dict, checkpoint_state_dict)
from ..engine.resume_source import CheckpointNotFoundError

__all__ = [
    'KEYPOINT_PARAMETERS', 'CheckpointMismatchError', 'check_state_dict',
    'init_face_model', 'load_config', 'read_state_dict'
]


def load_config(config: str | Path | Config,
                cfg_options: dict | None = None) -> Config:
    """A config file (or object) with ``cfg_options`` merged in.

    The backbone's ``init_cfg`` is cleared: the checkpoint provides the
    weights, and nothing is downloaded.
    """
    if isinstance(config, (str, Path)):
        if not Path(config).is_file():
            raise FileNotFoundError(f'config file {config} not found')
        config = Config.fromfile(str(config))
    elif isinstance(config, Config):
        config = config.copy()
    else:
        raise TypeError('config must be a file name or an mmengine Config, '
                        f'got {type(config).__name__}')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    if 'init_cfg' in config.model.get('backbone', {}):
        config.model.backbone.init_cfg = None
    return config


def read_state_dict(checkpoint: str | Path) -> tuple[dict, dict]:
    """``(state_dict, meta)`` of a checkpoint file.

    Goes through mmengine's checkpoint loaders, so a local file is read
    by the plugin's ``weights_only`` loader
    (:mod:`repformer_mmpose.engine.safe_checkpoint`). A ``module.`` prefix
    (DDP) is stripped, as mmengine does.
    """
    checkpoint = str(checkpoint)
    if '://' not in checkpoint and not Path(checkpoint).is_file():
        raise CheckpointNotFoundError(
            f'checkpoint file {checkpoint} not found')
    content = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state_dict = checkpoint_state_dict(content, checkpoint)
    meta = (content.get('meta') or {}) if 'state_dict' in content else {}
    return state_dict, meta


def init_face_model(config: str | Path | Config,
                    checkpoint: str | Path | None = None,
                    device: str = 'cpu',
                    cfg_options: dict | None = None) -> nn.Module:
    """A RePFormer (MMPose ``TopdownPoseEstimator``) ready for inference.

    As :func:`mmpose.apis.init_model`, except that the checkpoint must
    match the model exactly (see :func:`check_state_dict`), and that
    the data set's keypoint count must equal the head's.

    Args:
        config (str | Path | Config): The model's config.
        checkpoint (str | Path, optional): Weights (an mmengine checkpoint
            or a bare state dict). Without one the model keeps its random
            initialisation (for tests).
        device (str): Where to put the model. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Config overrides.

    Returns:
        nn.Module: The model in eval mode, with ``dataset_meta`` (from the
        checkpoint if it has one, else from the config) and ``cfg``.

    Raises:
        FileNotFoundError: if the config or the checkpoint is missing.
        ModelConfigError: if the neck's and the head's ``embed_dims``
            differ, or the input size is not a multiple of 32
            (:mod:`repformer_mmpose.models.consistency`).
        CheckpointMismatchError: if the checkpoint does not fit.
        ValueError: if the data set's keypoints differ from the head's.
    """
    config = load_config(config, cfg_options)
    model = init_model(config, checkpoint=None, device='cpu')
    check_model(model)  # neck/head channels and the input size agree
    if checkpoint is not None:
        state_dict, meta = read_state_dict(checkpoint)
        check_state_dict(model, state_dict, f'checkpoint {checkpoint}')
        model.load_state_dict(state_dict, strict=True)
        if meta.get('dataset_meta'):
            model.dataset_meta = meta['dataset_meta']
    meta_points = (model.dataset_meta or {}).get('num_keypoints')
    head_points = getattr(model.head, 'num_keypoints', meta_points)
    if meta_points != head_points:
        raise ValueError(
            f'the data set ({model.dataset_meta.get("dataset_name")}) has '
            f'{meta_points} keypoints but model.head.num_keypoints is '
            f'{head_points}: fix the config')
    return model.to(device).eval()
