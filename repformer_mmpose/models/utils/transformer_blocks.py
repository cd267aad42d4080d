"""Post-norm transformer sub-layers shared by the neck and the head.

Both follow the paper's pattern ``LN(x + Sublayer(x))`` (Eq. 3-4), as in the
original Transformer and DETR.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def sdpa_attention(attn: nn.MultiheadAttention, query: Tensor, key: Tensor,
                   value: Tensor, dropout_p: float = 0.) -> Tensor:
    """The maths of ``attn(query, key, value)[0]`` on batch-first inputs,
    through :func:`torch.nn.functional.scaled_dot_product_attention`.

    ``softmax(q k^T / sqrt(d)) v`` per head, with ``attn``'s own input and
    output projections, so it reads the same parameters (and checkpoints).
    Compared with ``nn.MultiheadAttention``'s general path it skips the
    batch-first <-> sequence-first transposes and the copies they force,
    and lets PyTorch pick its fused attention kernel (flash attention on
    CPU and GPU). When ``query is key`` (self-attention) their projections
    share one matmul.

    Args:
        attn (nn.MultiheadAttention): A batch-first module with packed,
            biased in-projections, no ``bias_k``/``bias_v``, no zero
            attention (as :class:`AttentionBlock` builds it).
        query (Tensor): ``(B, L, C)``.
        key (Tensor): ``(B, S, C)``.
        value (Tensor): ``(B, S, C)``.
        dropout_p (float): Dropout on the attention weights (pass 0 in
            evaluation).

    Returns:
        Tensor: ``(B, L, C)``.
    """
    batch, length, channels = query.shape
    weight, bias = attn.in_proj_weight, attn.in_proj_bias
    if query is key:  # one matmul for both projections
        q, k = F.linear(query, weight[:2 * channels],
                        bias[:2 * channels]).chunk(2, dim=-1)
    else:
        q = F.linear(query, weight[:channels], bias[:channels])
        k = F.linear(key, weight[channels:2 * channels],
                     bias[channels:2 * channels])
    v = F.linear(value, weight[2 * channels:], bias[2 * channels:])

    def split_heads(x: Tensor) -> Tensor:  # (B, L, C) -> (B, h, L, C / h)
        return x.unflatten(-1, (attn.num_heads, -1)).transpose(1, 2)

    attended = F.scaled_dot_product_attention(
        split_heads(q), split_heads(k), split_heads(v), dropout_p=dropout_p)
    attended = attended.transpose(1, 2).reshape(batch, length, channels)
    return attn.out_proj(attended)


class AttentionBlock(nn.Module):
    """``LN(x + MHA(q, k, v))``, where ``x`` is the query's content.

    Positional terms are added by the caller to ``query``/``key`` only, so
    the residual path and the values stay free of positions.

    Two paths compute the same maths from the same parameters: the fast
    one (:func:`sdpa_attention`, default) and the reference one
    (``nn.MultiheadAttention``'s forward), kept for tests and readers; set
    ``fast`` (or use :func:`~repformer_mmpose.models.utils.set_fast_path`)
    to choose.

    Args:
        embed_dims (int): Channels of queries, keys and values.
        num_heads (int): Attention heads.
        dropout (float): Dropout on the output (before the residual sum).
        attn_dropout (float, optional): Dropout on the attention weights;
            ``dropout`` if None (the paper's and DETR's recipe). With 0
            PyTorch can use its fused attention kernel in training too
            (on CPU its kernels do not support dropout).
    """

    supports_fast_path = True

    def __init__(self, embed_dims: int, num_heads: int,
                 dropout: float = 0.1,
                 attn_dropout: float | None = None) -> None:
        super().__init__()
        if attn_dropout is None:
            attn_dropout = dropout
        self.attn = nn.MultiheadAttention(
            embed_dims, num_heads, dropout=attn_dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(embed_dims)
        self.fast = True

    def forward(self, x: Tensor, query: Tensor, key: Tensor,
                value: Tensor) -> Tensor:
        """All inputs are ``(B, L, C)``; returns the updated ``x``."""
        if self.fast:
            attended = sdpa_attention(
                self.attn, query, key, value,
                self.attn.dropout if self.training else 0.)
        else:
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


class TransformerLayer(nn.Module):
    """:class:`AttentionBlock` s named by ``attention_names`` (built in
    that order), then a :class:`FeedForwardBlock`: the layer of the
    neck (Eq. 3-4) and of the head's stages (Eq. 6).

    Args:
        embed_dims (int): ``d_model``.
        num_heads (int): Attention heads.
        ffn_dims (int): Hidden channels of the FFN.
        dropout (float): Dropout of the FFN and the residual branches.
        attn_dropout (float, optional): Dropout on the attention weights;
            ``dropout`` if None.
    """

    attention_names: tuple[str, ...] = ()

    def __init__(self, embed_dims: int, num_heads: int, ffn_dims: int,
                 dropout: float = 0.1,
                 attn_dropout: float | None = None) -> None:
        super().__init__()
        for name in self.attention_names:
            self.add_module(name, AttentionBlock(embed_dims, num_heads,
                                                 dropout, attn_dropout))
        self.feed_forward = FeedForwardBlock(embed_dims, ffn_dims, dropout)
