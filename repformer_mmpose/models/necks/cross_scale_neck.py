"""The pyramid memories of RePFormer's head (paper Sec. 3.2, Eq. 1-4)."""
from __future__ import annotations

from typing import Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmpose.registry import MODELS
from ..utils import SinePositionalEncoding2D
from .cross_scale_attention import CrossScaleAttention


@MODELS.register_module()
class CrossScaleNeck(BaseModule):
    """Turns backbone levels ``z_1..z_M`` into pyramid memories ``v_1..v_M``.

    Each selected level is projected to ``embed_dims`` by a 1x1 convolution.
    The top memory is the top level itself (Eq. 4, ``v_M = z_M``); every
    lower memory comes from a :class:`CrossScaleAttention` step on ``z_i``
    and the memory above it, top-down (Eq. 3-4).

    Args:
        in_channels (Sequence[int]): Channels of every backbone output, in
            the backbone's order (low to high level).
        in_indices (Sequence[int], optional): Which backbone outputs form
            ``z_1..z_M``, low to high. Defaults to the last three: the
            levels a 3-stage PTH reads (strides 32/16/8 for a ResNet), so
            no attention runs over the stride-4 map unless asked for.
        embed_dims (int): ``d_model``, the channels of every memory.
        num_heads (int): Attention heads of each cross-scale attention.
        ffn_dims (int): Hidden channels of each FFN.
        dropout (float): Dropout in the FFNs and residual branches.
        attn_dropout (float, optional): Dropout on the attention weights;
            ``dropout`` if None (the paper's recipe). 0 lets training use
            PyTorch's fused CPU attention (docs/benchmarks.md).
        pos_temperature (float): Temperature of the sine encodings ``p_i``.
        init_cfg (dict, optional): mmengine initialisation config.

    Fast path (default; :func:`~repformer_mmpose.models.utils.set_fast_path`
    selects the reference one): the projected levels are made
    channels-last, so every ``(B, C, H, W)`` <-> ``(B, HW, C)`` reshape in
    the attention steps and in the head is a view, not a copy; the memories
    are the same tensors, stored channels-last.

    Returns (forward):
        tuple[Tensor]: memories ``(v_1, ..., v_M)``, low to high level, each
        ``(B, embed_dims, H_i, W_i)`` at its level's resolution.
    """

    supports_fast_path = True

    def __init__(self,
                 in_channels: Sequence[int],
                 in_indices: Sequence[int] | None = None,
                 embed_dims: int = 256,
                 num_heads: int = 8,
                 ffn_dims: int = 1024,
                 dropout: float = 0.1,
                 attn_dropout: float | None = None,
                 pos_temperature: float = 10000.,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg)
        if in_indices is None:
            in_indices = tuple(range(len(in_channels)))[-3:]
        in_indices = tuple(in_indices)
        if not in_indices or sorted(set(in_indices)) != list(in_indices):
            raise ValueError('in_indices must be strictly increasing, got '
                             f'{in_indices}')
        if in_indices[-1] >= len(in_channels) or in_indices[0] < 0:
            raise ValueError(f'in_indices {in_indices} out of range for '
                             f'{len(in_channels)} backbone outputs')
        self.in_indices = in_indices
        self.embed_dims = embed_dims
        self.input_projections = nn.ModuleList(
            nn.Conv2d(in_channels[i], embed_dims, kernel_size=1)
            for i in in_indices)
        self.positional_encoding = SinePositionalEncoding2D(
            embed_dims, pos_temperature)
        # One attention per level below the top (i < M).
        self.cross_scale_attentions = nn.ModuleList(
            CrossScaleAttention(embed_dims, num_heads, ffn_dims, dropout,
                                attn_dropout)
            for _ in in_indices[:-1])
        self.fast = True

    @property
    def num_levels(self) -> int:
        return len(self.in_indices)

    def forward(self, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
        if not (torch.jit.is_tracing() or torch.compiler.is_compiling()):
            check_pyramid([tuple(inputs[i].shape[-2:])
                           for i in self.in_indices], self.in_indices)
        levels = [
            project(inputs[index])
            for project, index in zip(self.input_projections, self.in_indices)
        ]
        if self.fast:
            levels = [
                level.contiguous(memory_format=torch.channels_last)
                for level in levels
            ]
        memories = [levels[-1]]  # v_M = z_M
        for level, attention in zip(levels[-2::-1],
                                    self.cross_scale_attentions[::-1]):
            height, width = level.shape[-2:]
            pos_embed = self.positional_encoding(height, width, level.device,
                                                 level.dtype)
            memories.append(attention(level, memories[-1], pos_embed))
        return tuple(memories[::-1])


def check_pyramid(sizes: Sequence[tuple[int, int]],
                  in_indices: Sequence[int]) -> None:
    """Raise unless every level read is an exact multiple (the same on
    both axes) of the level above it, as the strides of an input whose
    size is a multiple of the backbone's total stride give. Otherwise the
    backbone rounded its levels up (100 px: 13, 7, 4 cells) and Eq. 10's
    cell centres no longer match the image."""
    for (height, width), (top_h, top_w) in zip(sizes, sizes[1:]):
        if (top_h == 0 or top_w == 0 or height % top_h or width % top_w
                or height // top_h != width // top_w):
            raise ValueError(
                f'the backbone levels read (model.neck.in_indices '
                f'{tuple(in_indices)}) are {[tuple(s) for s in sizes]} '
                'cells, not an exact pyramid: the input size must be a '
                "multiple of the backbone's total stride (32); check the "
                "pipeline's TopdownAffine input_size and "
                'model.head.decoder.input_size')
