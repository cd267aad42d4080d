"""WFLW-style attribute flags of a SynthFace face, from its parameters.

The six flags mirror WFLW's attribute annotations and select the six
test subsets.  Each is a fixed threshold on the sampled parameters
(:class:`~.sampling.FaceSpec`); only occlusion also needs the rendered
occluder mask, via the share of keypoints it covers:

* ``pose``: ``|yaw| >= 30`` or ``|roll| >= 30`` or ``|pitch| >= 20``
  degrees;
* ``expression``: mouth opening >= 0.6, smile >= 0.7, brows raised
  >= 0.7 or frowning <= -0.4, or eyes closed to <= 0.45;
* ``illumination``: light ramp strength >= 0.5 or ``|exposure| >= 0.75``
  stops;
* ``makeup``: make-up level >= 0.5 (strong lipstick, eye shadow and
  eyeliner);
* ``occlusion``: occluders cover >= 10% of the keypoints;
* ``blur``: Gaussian sigma >= 1.5 px or motion blur >= 7 px (for a
  256-pixel image).
"""
from __future__ import annotations

from .sampling import FaceSpec

ATTRIBUTES = ('pose', 'expression', 'illumination', 'makeup', 'occlusion',
              'blur')
# Subset file suffix per attribute, as in MMPose's WFLW annotation files.
SUBSET_NAMES = {'pose': 'largepose', 'expression': 'expression',
                'illumination': 'illumination', 'makeup': 'makeup',
                'occlusion': 'occlusion', 'blur': 'blur'}

POSE_YAW = 30.0
POSE_ROLL = 30.0
POSE_PITCH = 20.0
EXPR_MOUTH_OPEN = 0.6
EXPR_SMILE = 0.7
EXPR_BROW_RAISE = 0.7
EXPR_FROWN = -0.4
EXPR_EYES_CLOSED = 0.45
ILLUM_STRENGTH = 0.5
ILLUM_EXPOSURE = 0.75
MAKEUP_LEVEL = 0.5
OCCLUSION_SHARE = 0.1
BLUR_SIGMA = 1.5
BLUR_MOTION = 7.0


def attribute_flags(spec: FaceSpec, occluded_share: float) -> dict[str, int]:
    """The six 0/1 flags of a face (``occluded_share`` of its keypoints)."""
    s, p, ph = spec.shape, spec.pose, spec.photometric
    pose = (abs(p.yaw) >= POSE_YAW or abs(p.roll) >= POSE_ROLL
            or abs(p.pitch) >= POSE_PITCH)
    expression = (s.mouth_open >= EXPR_MOUTH_OPEN or s.smile >= EXPR_SMILE
                  or s.brow_raise >= EXPR_BROW_RAISE
                  or s.brow_raise <= EXPR_FROWN
                  or s.eye_open <= EXPR_EYES_CLOSED)
    illumination = (ph.light_strength >= ILLUM_STRENGTH
                    or abs(ph.exposure) >= ILLUM_EXPOSURE)
    blur = ph.blur_sigma >= BLUR_SIGMA or ph.motion_length >= BLUR_MOTION
    flags = dict(pose=pose, expression=expression,
                 illumination=illumination,
                 makeup=spec.makeup >= MAKEUP_LEVEL,
                 occlusion=occluded_share >= OCCLUSION_SHARE, blur=blur)
    return {name: int(flags[name]) for name in ATTRIBUTES}
