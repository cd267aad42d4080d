"""Fixed 2-D sine positional encodings and pixel-centre coordinates.

Both are functions of the feature map's size only, so they are computed once
per (height, width, device, dtype) and cached.

Coordinate convention (shared with :class:`repformer_mmpose.codecs.DLRLabel`):
the input image spans ``[0, 1]`` on each axis, so the centre of cell ``(i, j)``
of an ``h x w`` feature map is ``((j + 0.5) / w, (i + 0.5) / h)`` in (x, y).
"""
from __future__ import annotations

import functools
import math

import torch
from torch import Tensor, nn


@functools.lru_cache(maxsize=64)
def pixel_centers(height: int, width: int, device: torch.device | None = None,
                  dtype: torch.dtype = torch.float32) -> Tensor:
    """Normalised (x, y) centres of an ``height x width`` grid, row-major.

    Cached per (size, device, dtype): do not modify the result in place.
    Built outside inference mode, so a cache filled during inference can
    still be used in training.

    Returns:
        Tensor: shape ``(height * width, 2)``; the coordinates ``c_k`` of
        Eq. 10.
    """
    with torch.inference_mode(False):
        xs, ys = grid_axis_centers(height, width, device, dtype)
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing='ij')
        return torch.stack([grid_x, grid_y], dim=-1).reshape(-1, 2)


@functools.lru_cache(maxsize=64)
def grid_axis_centers(height: int, width: int,
                      device: torch.device | None = None,
                      dtype: torch.dtype = torch.float32
                      ) -> tuple[Tensor, Tensor]:
    """Normalised centres of the columns ``(width,)`` and of the rows
    ``(height,)`` of an ``height x width`` grid: the grid's ``c_k`` are
    their pairs, ``c_{i * width + j} = (xs[j], ys[i])``.

    Cached like :func:`pixel_centers`; do not modify the results in place.
    """
    with torch.inference_mode(False):
        return _axis_centers(width, device, dtype), _axis_centers(
            height, device, dtype)


def _axis_centers(size: int, device: torch.device | None,
                  dtype: torch.dtype) -> Tensor:
    return (torch.arange(size, device=device, dtype=dtype) + 0.5) / size


class SinePositionalEncoding2D(nn.Module):
    """DETR's fixed sine/cosine encoding of normalised (x, y) positions.

    The first half of the channels encodes y, the second half x; each half
    interleaves sin and cos at geometrically spaced frequencies. Calling the
    module encodes the pixel centres of a feature map (cached per size,
    device and dtype); :meth:`encode` encodes any coordinates, e.g. the
    current landmarks.

    Args:
        embed_dims (int): Output channels; must be divisible by 4.
        temperature (float): Base of the frequency progression.
        max_cached (int): Feature-map sizes kept in the cache.
    """

    def __init__(self,
                 embed_dims: int,
                 temperature: float = 10000.,
                 max_cached: int = 16) -> None:
        super().__init__()
        if embed_dims % 4 != 0:
            raise ValueError(
                f'embed_dims must be divisible by 4, got {embed_dims}')
        self.embed_dims = embed_dims
        self.temperature = temperature
        self.max_cached = max_cached
        self._cache: dict[tuple, Tensor] = {}

    def forward(self, height: int, width: int, device: torch.device,
                dtype: torch.dtype = torch.float32) -> Tensor:
        """Encodings of shape ``(height * width, embed_dims)``, row-major."""
        key = (height, width, device, dtype)
        if key not in self._cache:
            if len(self._cache) >= self.max_cached:
                self._cache.pop(next(iter(self._cache)))
            with torch.inference_mode(False):  # usable in training later
                centers = pixel_centers(height, width, device, torch.float32)
                self._cache[key] = self.encode(centers).to(dtype)
        return self._cache[key]

    def encode(self, coords: Tensor) -> Tensor:
        """``(..., 2)`` normalised (x, y) -> ``(..., embed_dims)``."""
        num_feats = self.embed_dims // 2
        exponents = 2 * (torch.arange(num_feats, device=coords.device) // 2)
        freqs = self.temperature**(exponents / num_feats)

        def encode_axis(values: Tensor) -> Tensor:
            angles = values[..., None] * 2 * math.pi / freqs
            return torch.stack([angles[..., 0::2].sin(),
                                angles[..., 1::2].cos()],
                               dim=-1).flatten(-2)

        return torch.cat(
            [encode_axis(coords[..., 1]),
             encode_axis(coords[..., 0])], dim=-1)

    def extra_repr(self) -> str:
        return f'embed_dims={self.embed_dims}, temperature={self.temperature}'
