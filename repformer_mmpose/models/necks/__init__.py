from .cross_scale_attention import CrossScaleAttention
from .cross_scale_neck import CrossScaleNeck

__all__ = ['CrossScaleAttention', 'CrossScaleNeck']
