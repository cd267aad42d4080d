from .dynamic_aggregation import (aggregate_queries, aggregate_queries_on_grid,
                                  aggregation_weights,
                                  grid_aggregation_weights)
from .fast_path import set_fast_path
from .precision import float32_forward, float32_region
from .positional_encoding import (SinePositionalEncoding2D, grid_axis_centers,
                                  pixel_centers)

__all__ = [
    'aggregate_queries', 'aggregate_queries_on_grid', 'aggregation_weights',
    'grid_aggregation_weights', 'set_fast_path', 'SinePositionalEncoding2D',
    'grid_axis_centers', 'pixel_centers', 'float32_forward', 'float32_region'
]
from .transformer_blocks import (AttentionBlock, FeedForwardBlock,  # noqa
                                 TransformerLayer, sdpa_attention)

__all__ += [
    'AttentionBlock', 'FeedForwardBlock', 'TransformerLayer', 'sdpa_attention'
]
