"""PIPNet-style training augmentations used by RePFormer."""
from .bbox import GetFaceBBoxCenterScale
from .geometric import RandomShiftRotate
from .landmark_layout import CheckNumKeypoints, MapLandmarks
from .loading import ImageLoadError, LoadFaceImage
from .photometric import (RandomGaussianBlur, RandomLumaGrayscale,
                          RandomOcclusion)

__all__ = [
    'CheckNumKeypoints',
    'GetFaceBBoxCenterScale',
    'ImageLoadError',
    'LoadFaceImage',
    'MapLandmarks',
    'RandomGaussianBlur',
    'RandomLumaGrayscale',
    'RandomOcclusion',
    'RandomShiftRotate',
]
