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
from collections.abc import Iterator

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import nn

from mmpose.registry import OPTIM_WRAPPERS


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
