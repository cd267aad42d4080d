"""Post-norm transformer sub-layers shared by the neck and the head.

Both follow the paper's pattern ``LN(x + Sublayer(x))`` (Eq. 3-4), as in the
original Transformer and DETR.
"""
from __future__ import annotations

from torch import Tensor, nn


class AttentionBlock(nn.Module):
    """``LN(x + MHA(q, k, v))``, where ``x`` is the query's content.

    Positional terms are added by the caller to ``query``/``key`` only, so
    the residual path and the values stay free of positions.

    Args:
        embed_dims (int): Channels of queries, keys and values.
        num_heads (int): Attention heads.
        dropout (float): Dropout on the attention weights and the output.
    """

    def __init__(self, embed_dims: int, num_heads: int,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(
            embed_dims, num_heads, dropout=dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: Tensor, query: Tensor, key: Tensor,
                value: Tensor) -> Tensor:
        """All inputs are ``(B, L, C)``; returns the updated ``x``."""
        attended = self.attn(query, key, value, need_weights=False)[0]
        return self.norm(x + self.dropout(attended))


class FeedForwardBlock(nn.Module):
    """``LN(x + FFN(x))`` with a two-layer ReLU FFN.

    Args:
        embed_dims (int): Input and output channels.
        hidden_dims (int): Hidden channels.
        dropout (float): Dropout after the activation and on the output.
    """

    def __init__(self, embed_dims: int, hidden_dims: int,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.ffn = nn.Sequential(
            nn.Linear(embed_dims, hidden_dims), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(hidden_dims, embed_dims),
            nn.Dropout(dropout))
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x + self.ffn(x))
