from .mean_shape import mean_shape_errors

__all__ = ['mean_shape_errors']
