from .face_alignment import (auc, ced_curve, dataset_nme, face_nmes,
                             failure_rate, point_errors)
from .face_landmark_metric import FaceLandmarkMetric
from .face_results import (FaceEvaluation, FaceResult, evaluate_faces,
                           face_from_sample)
from .landmark_mapping import MappedNME
from .mean_shape import mean_shape_errors
from .subsets import find_subset_files, load_subsets

__all__ = [
    'FaceLandmarkMetric', 'FaceEvaluation', 'MappedNME', 'FaceResult', 'auc',
    'ced_curve', 'dataset_nme', 'evaluate_faces', 'face_from_sample',
    'face_nmes', 'failure_rate', 'find_subset_files', 'load_subsets',
    'mean_shape_errors', 'point_errors'
]
