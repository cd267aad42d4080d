"""Switch between the fast and the reference implementation of the head.

The neck and the head compute every equation in two ways: a reference one,
written as the paper states it (kept for tests and readers), and a fast one
with the same maths and the same parameters (fused attention kernels,
separable Eq. 10 weights, copy-free memory layouts). Modules that have both
set ``supports_fast_path = True`` and read their ``fast`` attribute (True
by default).
"""
from __future__ import annotations

from torch import nn


def set_fast_path(model: nn.Module, enabled: bool = True) -> nn.Module:
    """Select the fast (``enabled``) or the reference path in every
    submodule of ``model`` that has both; returns ``model``."""
    for module in model.modules():
        if getattr(module, 'supports_fast_path', False):
            module.fast = enabled
    return model
