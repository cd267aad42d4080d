"""Dynamically aggregated landmark queries (paper Sec. 3.3, Eq. 9-10).

A soft, differentiable "crop": the query of landmark ``j`` is the average of
all memory pixels, weighted by a softmax over their negative squared distance
to the landmark's current coordinates, sharpened by the temperature ``tau``.
Under autocast the weights are computed in float32 (see :mod:`.precision`).
"""
from __future__ import annotations

from typing import Union

import torch
from torch import Tensor

from .precision import float32_region

# One temperature, or one per axis ``(tau_x, tau_y)``: the latter is not in
# the paper; it lets a non-square memory have the same width in cells on
# both axes (see ``PTHHead``'s ``aggregation_sigma_cells``).
Temperature = Union[float, tuple[float, float]]


def axis_temperatures(tau: Temperature) -> tuple[float, float]:
    """``(tau_x, tau_y)`` of a scalar or per-axis temperature."""
    if isinstance(tau, (int, float)):
        return float(tau), float(tau)
    tau_x, tau_y = tau
    return float(tau_x), float(tau_y)


def aggregation_weights(landmarks: Tensor, pixel_coords: Tensor,
                        tau: Temperature) -> Tensor:
    """Eq. 10: ``s_jk = softmax_k(-tau * ||l_j - c_k||^2)``.

    Args:
        landmarks (Tensor): ``(B, N, 2)`` normalised landmark coordinates
            ``l^{i-1}``.
        pixel_coords (Tensor): ``(HW, 2)`` normalised memory-pixel centres
            ``c_k``.
        tau (float | tuple[float, float]): Temperature (> 0; the paper
            uses 1000), or ``(tau_x, tau_y)``: then the exponent is
            ``-(tau_x dx^2 + tau_y dy^2)``.

    Returns:
        Tensor: ``(B, N, HW)`` weights; each row sums to 1.
    """
    offsets = landmarks.unsqueeze(-2) - pixel_coords  # (B, N, HW, 2)
    tau_x, tau_y = axis_temperatures(tau)
    if tau_x == tau_y:
        logits = -tau_x * offsets.pow(2).sum(-1)
    else:
        logits = -(tau_x * offsets[..., 0].pow(2) +
                   tau_y * offsets[..., 1].pow(2))
    return logits.softmax(dim=-1)


def aggregate_queries(memory: Tensor, landmarks: Tensor,
                      pixel_coords: Tensor, tau: Temperature) -> Tensor:
    """Eq. 9, ``e_j = sum_k s_jk * v^k``, as written: the ``(B, N, C)``
    queries of ``landmarks`` ``(B, N, 2)`` from the flattened memory
    ``(B, HW, C)`` with pixel centres ``(HW, 2)``; differentiable w.r.t.
    both the memory and the coordinates."""
    with float32_region(landmarks):
        weights = aggregation_weights(landmarks, pixel_coords, tau)
    return weights.to(memory.dtype) @ memory


def axis_aggregation_weights(landmarks: Tensor, xs: Tensor, ys: Tensor,
                             tau: Temperature) -> tuple[Tensor, Tensor]:
    """The two factors of the Eq. 10 weights on a regular grid:
    ``softmax_j(-tau_x (l_x - xs)^2)`` ``(B, N, W)`` and
    ``softmax_i(-tau_y (l_y - ys)^2)`` ``(B, N, H)``."""
    tau_x, tau_y = axis_temperatures(tau)
    weights_x = (-tau_x * (landmarks[..., :1] - xs).pow(2)).softmax(dim=-1)
    weights_y = (-tau_y * (landmarks[..., 1:] - ys).pow(2)).softmax(dim=-1)
    return weights_x, weights_y


def aggregation_centroid(landmarks: Tensor, xs: Tensor, ys: Tensor,
                         tau: Temperature) -> Tensor:
    """``sum_k s_jk c_k``: the point the Eq. 10 weights of ``landmarks``
    ``(B, N, 2)`` centre on, ``(B, N, 2)``. Per axis, since the weights
    factorise: the expected column centre under the x factor, the expected
    row centre under the y factor."""
    weights_x, weights_y = axis_aggregation_weights(landmarks, xs, ys, tau)
    return torch.stack([weights_x @ xs, weights_y @ ys], dim=-1)


def grid_aggregation_weights(landmarks: Tensor, xs: Tensor, ys: Tensor,
                             tau: Temperature) -> Tensor:
    """Eq. 10 on a regular grid, factorised per axis (the fast path).

    With ``c_k = (xs[j], ys[i])``, ``k = i * W + j``, the squared distance
    is ``(l_x - xs[j])^2 + (l_y - ys[i])^2``, so the exponential in Eq. 10
    is a product of one factor per axis and so is its normaliser:
    ``s_jk = softmax_j(-tau (l_x - xs)^2) * softmax_i(-tau (l_y - ys)^2)``.
    The same weights as :func:`aggregation_weights` on
    :func:`pixel_centers`, from ``H + W`` exponentials per landmark
    instead of ``H * W``, and without the ``(B, N, HW, 2)`` offsets.

    Weights below the smallest normal float32 (1.2e-38) are set to 0. They
    cannot change a float32 sum of values near 1, but with ``tau = 1000``
    most weights of a fine memory are that small, and x86 CPUs multiply
    such subnormal numbers up to 100x slower (measured: the Eq. 9 matmul
    of a 32x32 memory, 128 ms with them, 10 ms without). Float64 keeps its
    own smaller normals; float16 subnormals (>= 6e-8) are kept.

    Args:
        landmarks (Tensor): ``(B, N, 2)`` normalised (x, y).
        xs (Tensor): ``(W,)`` column centres.
        ys (Tensor): ``(H,)`` row centres.
        tau (float | tuple[float, float]): Temperature.

    Returns:
        Tensor: ``(B, N, H * W)`` weights, row-major; each row sums to 1.
    """
    weights_x, weights_y = axis_aggregation_weights(landmarks, xs, ys, tau)
    weights = (weights_y.unsqueeze(-1) * weights_x.unsqueeze(-2)).flatten(-2)
    # torch.where, not F.threshold: ONNX's TorchScript exporter has
    # aten::threshold only as ReLU
    tiny = min(torch.finfo(d).tiny for d in (weights.dtype, torch.float32))
    return torch.where(weights > tiny, weights, weights.new_zeros(()))


def aggregate_queries_on_grid(memory: Tensor, landmarks: Tensor, xs: Tensor,
                              ys: Tensor, tau: Temperature) -> Tensor:
    """Eq. 9-10 as :func:`aggregate_queries` with ``pixel_centers(H, W)``,
    in one matmul from :func:`grid_aggregation_weights` (the fast path);
    ``xs`` ``(W,)`` and ``ys`` ``(H,)`` are the column and row centres."""
    with float32_region(landmarks):
        weights = grid_aggregation_weights(landmarks, xs, ys, tau)
    return weights.to(memory.dtype) @ memory
