from .landmark_predictors import (CoordinatePredictor,
                                  InitialLandmarkPredictor, refine)
from .pth_head import PTHHead
from .pth_stage import PTHStage

__all__ = [
    'CoordinatePredictor', 'InitialLandmarkPredictor', 'refine', 'PTHHead',
    'PTHStage'
]
