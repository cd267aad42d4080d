"""Datasets, data checks, converters and transforms of the plugin.

Importing it registers the transforms and the checked face datasets
(:mod:`.face_datasets`) in MMPose's registries.
"""
from . import transforms  # noqa: F401
from .face_datasets import (CheckedFaceDatasetMixin, FaceLandmarkDataset,
                            RePFormer300WDataset, RePFormerAFLWDataset,
                            RePFormerCOFWDataset, RePFormerWFLWDataset)
from .validation import AnnotationError, InvalidRecordPolicy

__all__ = [
    'AnnotationError', 'CheckedFaceDatasetMixin', 'FaceLandmarkDataset',
    'InvalidRecordPolicy', 'RePFormer300WDataset', 'RePFormerAFLWDataset',
    'RePFormerCOFWDataset', 'RePFormerWFLWDataset'
]
