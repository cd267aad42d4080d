"""Cross-scale attention: one top-down step of the pyramid (Eq. 3-4)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..utils import AttentionBlock, TransformerLayer


class CrossScaleAttention(TransformerLayer):
    """Builds memory ``v_i`` from features ``z_i`` and memory ``v_{i+1}``.

    Following Sec. 3.2 (Fig. 3a)::

        v_bar  = bilinear_upsample(v_{i+1})      # to z_i's resolution
        v_hat  = z_i * v_bar                     # Hadamard product
        q, k   = z_i + p_i, v_hat + p_i          # fixed sine positions p_i
        z_hat  = LN(z_i + MHA(q, k, v_hat))      # Eq. 3
        v_i    = LN(z_hat + FFN(z_hat))          # Eq. 4, i < M

    Args: see :class:`TransformerLayer` (``embed_dims``: the channels of
    ``z_i`` and ``v_{i+1}``).
    """

    attention_names = ('attention', )
    attention: AttentionBlock

    @staticmethod
    def fuse_value(features: Tensor, upper_memory: Tensor) -> Tensor:
        """``v_hat = z_i * upsample(v_{i+1})`` on ``(B, C, H, W)`` maps."""
        upsampled = F.interpolate(
            upper_memory,
            size=features.shape[-2:],
            mode='bilinear',
            align_corners=False)
        return features * upsampled

    def forward(self, features: Tensor, upper_memory: Tensor,
                pos_embed: Tensor) -> Tensor:
        """
        Args:
            features (Tensor): ``z_i``, ``(B, C, H, W)``.
            upper_memory (Tensor): ``v_{i+1}``, ``(B, C, H', W')``.
            pos_embed (Tensor): ``p_i``, ``(H * W, C)``.

        Returns:
            Tensor: ``v_i``, ``(B, C, H, W)``.
        """
        batch, channels, height, width = features.shape
        value = self.fuse_value(features, upper_memory).flatten(2)
        value = value.transpose(1, 2)  # (B, HW, C)
        tokens = features.flatten(2).transpose(1, 2)
        z_hat = self.attention(
            tokens,
            query=tokens + pos_embed,
            key=value + pos_embed,
            value=value)
        memory = self.feed_forward(z_hat)
        return memory.transpose(1, 2).reshape(batch, channels, height, width)
