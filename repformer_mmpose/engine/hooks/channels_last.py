"""Channels-last convolutions for any MMPose model (``--channels-last``)."""
from __future__ import annotations

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmpose.registry import HOOKS


def to_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """Store ``model``'s 4-D weights channels-last and give its backbone
    channels-last input, so that every convolution runs in NHWC (oneDNN's
    fast layout on CPU, tensor cores' on GPU). The maths is unchanged."""
    model.to(memory_format=torch.channels_last)
    backbone = getattr(model, 'backbone', None)
    if backbone is not None and not getattr(backbone, '_channels_last_input',
                                            False):
        backbone.register_forward_pre_hook(_channels_last_input)
        backbone._channels_last_input = True
    return model


def _channels_last_input(module, args):
    inputs, *rest = args
    if isinstance(inputs, torch.Tensor) and inputs.dim() == 4:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    return (inputs, *rest)


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Apply :func:`to_channels_last` to the Runner's model before training,
    validation or testing starts."""

    priority = 'VERY_HIGH'

    def _apply(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        to_channels_last(model)

    def before_run(self, runner) -> None:
        self._apply(runner)
