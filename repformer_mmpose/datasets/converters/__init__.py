"""Converters from the official face-landmark releases to MMPose's JSON.

One shared core (:mod:`.core`) and one thin module per data set:

* :func:`convert_wflw` -- WFLW list files -> ``face_landmarks_wflw_*.json``;
* :func:`convert_300w` -- 300W ``.pts`` files ->
  ``face_landmarks_300w_*.json``;
* :func:`convert_cofw` -- ``COFW_*_color.mat`` -> ``cofw_{train,test}.json``
  + images;
* :func:`convert_aflw` -- ``AFLWinfo_release.mat`` ->
  ``face_landmarks_aflw_*.json``.

The files are read unchanged by MMPose's ``WFLWDataset``,
``Face300WDataset``, ``COFWDataset`` and ``AFLWDataset``. Command-line tools:
``tools/dataset_converters/{wflw,300w,cofw,aflw}2coco.py``.
"""
from .aflw import convert_aflw
from .cofw import convert_cofw
from .core import BadRecordPolicy, ConversionError, write_json_atomic
from .custom import convert_custom
from .face300w import convert_300w
from .wflw import convert_wflw

__all__ = [
    'BadRecordPolicy',
    'ConversionError',
    'convert_300w',
    'convert_aflw',
    'convert_cofw',
    'convert_custom',
    'convert_wflw',
    'write_json_atomic',
]
