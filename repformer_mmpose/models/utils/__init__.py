from .dynamic_aggregation import aggregate_queries, aggregation_weights
from .positional_encoding import SinePositionalEncoding2D, pixel_centers

__all__ = [
    'aggregate_queries', 'aggregation_weights', 'SinePositionalEncoding2D',
    'pixel_centers'
]
from .transformer_blocks import AttentionBlock, FeedForwardBlock  # noqa: E402

__all__ += ['AttentionBlock', 'FeedForwardBlock']
