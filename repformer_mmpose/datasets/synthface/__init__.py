"""SynthFace: a procedural, licence-clean synthetic face-landmark data set.

A parametric 2-D face (68-point 300W or 98-point WFLW layout, exactly
left/right-symmetric) is posed, rendered with OpenCV over cluttered
backgrounds with varied identity, expression, lighting, make-up, blur and
occluders, and written in MMPose's 300W COCO JSON layout, so a newcomer
can train and evaluate without any downloaded data::

    from repformer_mmpose.datasets.synthface import generate_synthface
    info = generate_synthface('data/synthface', num_train=3000,
                              num_test=500, seed=0)

or ``python tools/synthface/generate.py data/synthface``.  Modules:
:mod:`.layouts` (keypoint layouts, flip indices), :mod:`.shape` (face
model), :mod:`.pose` (rotation and placement), :mod:`.sampling` (random
parameters), :mod:`.render`, :mod:`.background`, :mod:`.occluders`,
:mod:`.photometric` (drawing), :mod:`.attributes` (WFLW-style flags),
:mod:`.synthesis` (one sample), :mod:`.annotations`, :mod:`.manifest`
and :mod:`.generate` (writing the set).
"""
from .attributes import ATTRIBUTES, SUBSET_NAMES, attribute_flags
from .generate import generate_synthface
from .layouts import LAYOUTS, Layout, get_layout
from .sampling import FaceSpec, sample_face_spec
from .shape import ShapeParams, face_geometry, mean_shape
from .synthesis import Sample, make_sample, sample_face

__all__ = [
    'ATTRIBUTES', 'SUBSET_NAMES', 'attribute_flags', 'generate_synthface',
    'LAYOUTS', 'Layout', 'get_layout', 'FaceSpec', 'sample_face_spec',
    'ShapeParams', 'face_geometry', 'mean_shape', 'Sample', 'make_sample',
    'sample_face'
]
