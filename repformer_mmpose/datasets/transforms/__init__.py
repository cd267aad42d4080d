"""PIPNet-style training augmentations used by RePFormer."""
from .geometric import RandomShiftRotate
from .photometric import RandomGaussianBlur, RandomGrayscale, RandomOcclusion

__all__ = [
    'RandomGaussianBlur',
    'RandomGrayscale',
    'RandomOcclusion',
    'RandomShiftRotate',
]
