"""Dynamically aggregated landmark queries (paper Sec. 3.3, Eq. 9-10).

A soft, differentiable "crop": the query of landmark ``j`` is the average of
all memory pixels, weighted by a softmax over their negative squared distance
to the landmark's current coordinates, sharpened by the temperature ``tau``.
"""
from __future__ import annotations

from torch import Tensor


def aggregation_weights(landmarks: Tensor, pixel_coords: Tensor,
                        tau: float) -> Tensor:
    """Eq. 10: ``s_jk = softmax_k(-tau * ||l_j - c_k||^2)``.

    Args:
        landmarks (Tensor): ``(B, N, 2)`` normalised landmark coordinates
            ``l^{i-1}``.
        pixel_coords (Tensor): ``(HW, 2)`` normalised memory-pixel centres
            ``c_k``.
        tau (float): Temperature (> 0; the paper uses 1000).

    Returns:
        Tensor: ``(B, N, HW)`` weights; each row sums to 1.
    """
    offsets = landmarks.unsqueeze(-2) - pixel_coords  # (B, N, HW, 2)
    squared_distances = offsets.pow(2).sum(-1)
    return (-tau * squared_distances).softmax(dim=-1)


def aggregate_queries(memory: Tensor, landmarks: Tensor,
                      pixel_coords: Tensor, tau: float) -> Tensor:
    """Eq. 9: ``e_j = sum_k s_jk * v^k``.

    Args:
        memory (Tensor): ``(B, HW, C)`` flattened memory ``v_{M-i+1}``.
        landmarks (Tensor): ``(B, N, 2)`` normalised coordinates.
        pixel_coords (Tensor): ``(HW, 2)`` centres of the memory pixels.
        tau (float): Temperature.

    Returns:
        Tensor: ``(B, N, C)`` landmark queries, differentiable w.r.t. both
        the memory and the landmark coordinates.
    """
    weights = aggregation_weights(landmarks, pixel_coords, tau)
    return weights @ memory
