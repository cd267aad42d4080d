"""Refuse a checkpoint that does not fit the model its config builds.

mmengine's ``load_checkpoint`` (``load_from``, ``Runner.load_checkpoint``,
``mmpose.apis.init_model``) loads non-strictly: missing and mis-shaped
parameters are only *warned* about, deep in the log, and keep their random
initial values, so a 98-point checkpoint in a 68-point config, or another
model's checkpoint, is evaluated with a random head. ``resume`` fails
later, inside the optimizer, with a message naming no file.

:func:`check_state_dict` compares a state dict with a model and raises
:class:`CheckpointMismatchError` (one line: the file, the keypoint counts,
the first differing parameters) on any difference. Every path of the
plugin that loads weights uses it: :func:`repformer_mmpose.apis.
init_face_model` (demos, export, latency, diagnostics) and
:class:`repformer_mmpose.engine.CheckpointGuardHook` (any Runner: train
``load_from`` and ``--resume``, ``tools/test.py``, the main job, MMPose's
own tools with our configs).
"""
from __future__ import annotations

import re
from collections import OrderedDict

import torch
from torch import nn

# Parameters whose first dimension is the keypoint count (or twice it).
KEYPOINT_PARAMETERS = {
    'head.landmark_embed.weight': 1,
    'head.initial_predictor.fc.weight': 2,
    'head.initial_predictor.fc.bias': 2,
}


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model its config builds."""


def checkpoint_state_dict(content: object, source: str) -> OrderedDict:
    """The model weights of a loaded checkpoint (an mmengine checkpoint
    dict or a bare state dict), with DDP's ``module.`` prefix removed.

    Raises:
        CheckpointMismatchError: if ``content`` holds no state dict of
            tensors.
    """
    if not isinstance(content, dict):
        raise CheckpointMismatchError(
            f'{source}: expected a dict with a "state_dict", got '
            f'{type(content).__name__}')
    state_dict = content.get('state_dict', content)
    if not isinstance(state_dict, dict):
        raise CheckpointMismatchError(
            f'{source}: "state_dict" is a {type(state_dict).__name__}, '
            'not a dict of tensors')
    bad = [key for key, value in state_dict.items()
           if not isinstance(value, torch.Tensor)]
    if bad:
        raise CheckpointMismatchError(
            f'{source}: state_dict entries {bad[:5]} are not tensors')
    return OrderedDict((re.sub(r'^module\.', '', key), value)
                       for key, value in state_dict.items())


def _keypoint_problem(model: nn.Module, state_dict: dict,
                      expected: dict) -> str | None:
    model_points = getattr(getattr(model, 'head', None), 'num_keypoints',
                           None)
    for key, factor in KEYPOINT_PARAMETERS.items():
        if key in state_dict and key in expected and \
                state_dict[key].shape[0] != expected[key].shape[0]:
            return (f'the checkpoint has {state_dict[key].shape[0] // factor}'
                    f' keypoints, the config {model_points} '
                    f'(model.head.num_keypoints; {key} is '
                    f'{tuple(state_dict[key].shape)} in the checkpoint, '
                    f'{tuple(expected[key].shape)} in the model)')
    return None


def check_state_dict(model: nn.Module,
                     state_dict: dict,
                     source: str = 'checkpoint',
                     config: str | None = None) -> None:
    """Raise :class:`CheckpointMismatchError` unless ``state_dict`` has
    exactly ``model``'s parameters and buffers, with the same shapes.

    A keypoint-count difference is reported as such (``head.num_keypoints``
    in the config vs. the checkpoint's), before the list of parameters.

    Args:
        model: The model built from the config.
        state_dict: The checkpoint's weights (``module.`` prefix removed).
        source: How the message names the weights, e.g.
            ``'checkpoint work_dirs/x/epoch_3.pth'``.
        config: The config file, named in the message if given.
    """
    expected = model.state_dict()
    problems = []
    keypoints = _keypoint_problem(model, state_dict, expected)
    if keypoints:
        problems.append(keypoints)
    mismatched = [
        f'{key}: {tuple(state_dict[key].shape)} in the checkpoint, '
        f'{tuple(value.shape)} in the model'
        for key, value in expected.items()
        if key in state_dict and state_dict[key].shape != value.shape
    ]
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    if mismatched:
        problems.append(f'{len(mismatched)} shape mismatch(es): ' +
                        '; '.join(mismatched[:5]))
    if missing:
        problems.append(f'{len(missing)} missing parameter(s), e.g. ' +
                        ', '.join(missing[:5]))
    if unexpected:
        problems.append(f'{len(unexpected)} unexpected parameter(s), e.g. '
                        + ', '.join(unexpected[:5]))
    non_finite = [
        key for key, value in state_dict.items()
        if torch.is_tensor(value) and value.is_floating_point()
        and not bool(torch.isfinite(value).all())
    ]
    if non_finite:  # a diverged run: every prediction would be NaN
        problems.append(f'{len(non_finite)} tensor(s) hold NaN or inf '
                        'values (a diverged training run), e.g. ' +
                        ', '.join(non_finite[:5]))
    if problems:
        built = f'the config {config}' if config else 'the config'
        raise CheckpointMismatchError(
            f'{source} does not fit the model built from {built}: ' +
            '. '.join(problems) + '. Use the config the checkpoint was '
            'trained with.')
