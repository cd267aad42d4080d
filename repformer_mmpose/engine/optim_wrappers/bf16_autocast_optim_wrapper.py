"""Mixed precision where mmengine's ``AmpOptimWrapper`` refuses: the CPU.

``AmpOptimWrapper`` asserts a GPU (or NPU, MLU, MUSA). On a CPU with bf16
support (AVX512-BF16, AMX) bf16 autocast halves the cost of convolutions
and matmuls; bf16 keeps float32's exponent range, so no loss scaler is
needed (gradients do not underflow as float16's do). RePFormer keeps its
landmark path in float32 under autocast
(:mod:`repformer_mmpose.models.utils.precision`).
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import nn

from mmpose.registry import OPTIM_WRAPPERS


def allow_bf16_to_numpy() -> None:
    """MMPose 1.3.2's heads compute their training accuracy through
    ``to_numpy``, and numpy has no bf16: under bf16 autocast, upcast there
    (the metric only; the loss and its gradients are untouched). Their
    decoders (``predict``) likewise. Idempotent."""
    from mmpose.utils import tensor_utils
    original = tensor_utils.to_numpy
    if getattr(original, 'upcasts_bf16', False):
        return

    def upcast(x):
        if isinstance(x, torch.Tensor) and x.dtype == torch.bfloat16:
            return x.float()
        return x

    def to_numpy(x, *args, **kwargs):
        if isinstance(x, (list, tuple)):
            x = type(x)(upcast(item) for item in x)
        return original(upcast(x), *args, **kwargs)

    to_numpy.upcasts_bf16 = True

    for module in list(sys.modules.values()):
        if getattr(module, 'to_numpy', None) is original:
            module.to_numpy = to_numpy


@OPTIM_WRAPPERS.register_module()
class BF16AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast`` with
    ``torch.bfloat16`` on the device the model is on; parameters,
    gradients and optimizer state stay float32, and no loss scaler is used.

    ``tools/train.py --amp`` uses it on a machine without a GPU. Any
    ``OptimWrapper`` argument is accepted.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        allow_bf16_to_numpy()
        print_log(
            'BF16AutocastOptimWrapper: bf16 autocast, float32 weights and '
            'optimizer state, no loss scaler (bf16 has float32\'s exponent '
            'range)', logger='current')

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        device_type = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(
                device_type, dtype=torch.bfloat16):
            yield
