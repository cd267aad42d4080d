"""Deployment: RePFormer as one tensor function, ONNX export and checks.

Example::

    >>> from repformer_mmpose.apis import init_face_model
    >>> from repformer_mmpose.deployment import (LandmarkModel,
    ...                                          check_onnx_parity,
    ...                                          export_onnx)
    >>> model = LandmarkModel(init_face_model(CONFIG, CHECKPOINT))
    >>> export_onnx(model, 'repformer.onnx')          # opset 17
    >>> check_onnx_parity(model, 'repformer.onnx')    # max |diff| in px
"""
from .landmark_model import LandmarkModel
from .onnx_export import check_onnx_parity, export_onnx, onnxruntime_session

__all__ = [
    'LandmarkModel', 'check_onnx_parity', 'export_onnx',
    'onnxruntime_session'
]
