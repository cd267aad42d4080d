"""Options that let every refinement stage refine; none is in the paper.

docs/head_options.md ("Beyond the paper") gives how each enters the
equations and the measured reason for it.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..utils import SinePositionalEncoding2D, float32_forward
from ..utils.dynamic_aggregation import Temperature, aggregation_centroid

LANDMARK_POS_ENCODINGS = ('sine', 'sharp', 'learned')


def perturb_landmarks(std: float, *landmark_sets: Tensor | None
                      ) -> tuple[Tensor | None, ...]:
    """Each of ``landmark_sets`` (``None`` passes through) plus the same
    ``n ~ N(0, std^2)`` per coordinate; the noise is a constant for
    autograd."""
    noise = torch.randn_like(landmark_sets[0]) * std
    return tuple(None if landmarks is None else landmarks + noise
                 for landmarks in landmark_sets)


def sigma_cells_to_tau(sigma_cells: float,
                       memory_size: Sequence[int]) -> tuple[float, float]:
    """``(tau_x, tau_y)`` for Eq. 10 weights of standard deviation
    ``sigma_cells`` cells on an ``(H, W)`` memory.

    ``exp(-tau d^2)`` is a Gaussian of variance ``1 / (2 tau)`` in image
    units, and a cell is ``1 / W`` wide: ``tau_x = W^2 / (2 sigma^2)``.
    The paper's tau = 1000 on its finest memory (32x32 at 256 px) is
    ``sigma_cells`` = 0.72; on our 4x4 top memory it is 0.09.
    """
    if not sigma_cells > 0:
        raise ValueError(f'sigma in cells must be positive, got {sigma_cells}')
    height, width = memory_size
    return (width**2 / (2 * sigma_cells**2), height**2 / (2 * sigma_cells**2))


class SubCellOffset(nn.Module):
    """``W_o (l_j - sum_k s_jk c_k) * (W, H)``, added to the query ``e_j``.

    Eq. 9 averages memory cells around the landmark; where the weights pick
    one cell, the query is the same anywhere inside it. The offset of the
    landmark from the centre of its weights, in cells of the memory, tells
    the stage where inside the cell it is; a linear map lifts it to the
    query's channels. The offset is differentiable w.r.t. ``l_j`` with
    gradient ``W_o * (W, H)`` inside a cell, where the aggregation's own
    gradient is zero.

    Args:
        embed_dims (int): Query channels.
    """

    def __init__(self, embed_dims: int) -> None:
        super().__init__()
        self.proj = nn.Linear(2, embed_dims)

    @float32_forward
    def forward(self, landmarks: Tensor, xs: Tensor, ys: Tensor,
                tau: Temperature) -> Tensor:
        """``landmarks`` ``(B, N, 2)`` on the grid of column centres ``xs``
        and row centres ``ys`` -> ``(B, N, C)``."""
        centroid = aggregation_centroid(landmarks, xs, ys, tau)
        cells = landmarks.new_tensor([xs.numel(), ys.numel()])
        return self.proj((landmarks - centroid) * cells)


class LandmarkPositionEncoding(nn.Module):
    """Encoding of the current landmarks ``L^{i-1}`` added to the query
    positions (Conditional DETR's idea; not in the paper).

    - ``'sine'``: DETR's encoding (temperature 1e4), the same as the
      memory's: periods from one image to 1e4 images, so points 1/16 of
      the image apart get encodings 0.997 alike.
    - ``'sharp'``: the same sine/cosine form with periods from
      ``min_period`` (default 1/32 of the image, one cell of the paper's
      finest memory) up to about ``64 * min_period``, so sub-cell moves
      of a coarse memory change the encoding.
    - ``'learned'``: a two-layer MLP on the ``'sharp'`` encoding (as
      DAB-DETR's reference-point head).

    Args:
        embed_dims (int): Channels.
        mode (str): One of ``'sine'``, ``'sharp'``, ``'learned'``.
        min_period (float): Shortest period of ``'sharp'``/``'learned'``,
            as a fraction of the image side.
        sine (SinePositionalEncoding2D, optional): The ``'sine'``
            encoding to share (the head's memory encoding).
    """

    def __init__(self, embed_dims: int, mode: str = 'sine',
                 min_period: float = 1 / 32,
                 sine: SinePositionalEncoding2D | None = None) -> None:
        super().__init__()
        if mode not in LANDMARK_POS_ENCODINGS:
            raise ValueError(f'landmark_pos_encoding must be one of '
                             f'{LANDMARK_POS_ENCODINGS}, got {mode!r}')
        if not 0 < min_period <= 1:
            raise ValueError('landmark_pos_min_period must be in (0, 1], '
                             f'got {min_period}')
        self.mode = mode
        self.min_period = min_period
        if mode == 'sine':
            self.sine = sine or SinePositionalEncoding2D(embed_dims)
        else:
            # periods temperature^(2k/F) / scale for k = 0..F/2: scaling the
            # coordinates by 1/min_period puts the shortest at min_period
            self.sine = SinePositionalEncoding2D(embed_dims, temperature=64.)
        self.mlp = nn.Sequential(
            nn.Linear(embed_dims, embed_dims), nn.ReLU(inplace=True),
            nn.Linear(embed_dims, embed_dims)) if mode == 'learned' else None

    @float32_forward
    def forward(self, landmarks: Tensor) -> Tensor:
        """``(..., 2)`` normalised (x, y) -> ``(..., C)``."""
        if self.mode == 'sine':
            return self.sine.encode(landmarks)
        encoding = self.sine.encode(landmarks / self.min_period)
        return encoding if self.mlp is None else self.mlp(encoding)
