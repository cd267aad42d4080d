"""Keep the landmark path in float32 under mixed precision.

bf16 keeps 8 mantissa bits: a normalised coordinate near 1 would be off by
up to 2^-8 = 0.004 of the crop (about 1 % NME), and Eq. 10's
``tau * d^2`` with tau = 1000 would lose the sub-cell position. So under
``torch.autocast`` the features (backbone, attention, FFNs) run in the
low-precision dtype while the coordinate predictors (Eq. 7), the residual
sums (Eq. 8), the aggregation weights (Eq. 10) and the losses run in
float32. Without autocast these are no-ops.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator

import torch
from torch import Tensor


@contextlib.contextmanager
def float32_region(like: Tensor) -> Iterator[None]:
    """Turn autocast off on ``like``'s device inside the block (if it is
    on; tracing and export see no autocast context)."""
    device_type = like.device.type
    if torch.is_autocast_enabled(device_type):
        with torch.autocast(device_type, enabled=False):
            yield
    else:
        yield


def float32_forward(forward: Callable) -> Callable:
    """Decorate a module's ``forward(self, x, ...)``: run it in a
    :func:`float32_region` with its tensor arguments cast to float32."""

    @functools.wraps(forward)
    def wrapper(self, *args: Tensor) -> Tensor:
        with float32_region(args[0]):
            return forward(self, *(arg.float() if isinstance(arg, Tensor)
                                   and arg.is_floating_point() else arg
                                   for arg in args))

    return wrapper
