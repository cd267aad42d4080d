"""One stage of the pyramid transformer head (paper Sec. 3.2, Eq. 6)."""
from __future__ import annotations

from torch import Tensor

from ..utils import AttentionBlock, TransformerLayer


class PTHStage(TransformerLayer):
    """``E^{i+1} = g_LM(g_LL(E^i), v_{M-i+1})`` (Eq. 6, Fig. 3b).

    ``g_LL`` is self-attention among the landmark queries; ``g_LM`` is
    cross-attention from the landmarks to the memory pixels, followed, as in
    the Transformer/DETR decoder layer the paper builds on, by an FFN.

    Landmark identity and position: the queries are position-free
    aggregates of memory (Eq. 9), so ``landmark_pos`` -- a learned
    per-landmark embedding, plus, in :class:`PTHHead` by default, the sine
    encoding of the landmark's current coordinates -- is added to the
    queries and keys of ``g_LL`` and the queries of ``g_LM`` (DETR's
    ``query_pos``); the paper does not say how identity enters, this is our
    choice. Memory keys carry the fixed sine encoding of their pixel, as in
    the neck. Args: see :class:`TransformerLayer`.
    """

    attention_names = ('landmark_to_landmark', 'landmark_to_memory')
    landmark_to_landmark: AttentionBlock
    landmark_to_memory: AttentionBlock

    def forward(self, landmark_queries: Tensor, landmark_pos: Tensor,
                memory: Tensor, memory_pos: Tensor) -> Tensor:
        """
        Args:
            landmark_queries (Tensor): ``E^i``, ``(B, N, C)``.
            landmark_pos (Tensor): ``(N, C)`` or ``(B, N, C)`` positional
                term of the landmark queries.
            memory (Tensor): ``v_{M-i+1}`` flattened, ``(B, HW, C)``.
            memory_pos (Tensor): ``(HW, C)`` sine encodings of its pixels.

        Returns:
            Tensor: ``E^{i+1}``, ``(B, N, C)``.
        """
        queries = landmark_queries + landmark_pos
        landmark_queries = self.landmark_to_landmark(
            landmark_queries, query=queries, key=queries,
            value=landmark_queries)
        landmark_queries = self.landmark_to_memory(
            landmark_queries,
            query=landmark_queries + landmark_pos,
            key=memory + memory_pos,
            value=memory)
        return self.feed_forward(landmark_queries)
