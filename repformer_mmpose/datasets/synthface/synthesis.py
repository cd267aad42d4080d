"""One SynthFace sample: parameters -> geometry -> image, keypoints, flags.

Every sample has its own generators derived from ``(seed, split,
index)`` through :class:`numpy.random.SeedSequence`, so samples can be
made in any order and in parallel with identical results.  The first
generator draws the :class:`~.sampling.FaceSpec`, the second the
label-free textures (background, occluder fills, sensor noise); the
spec can therefore be re-drawn cheaply (e.g. to check the attribute
flags) without rendering.  The image does not depend on the layout; only
which geometry samples become keypoints does.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .attributes import attribute_flags
from .background import render_background
from .layouts import get_layout
from .occluders import draw_occluders, occluded_points
from .photometric import apply_photometric, shade_face
from .pose import fit_projection
from .render import render_face
from .sampling import FaceSpec, sample_face_spec
from .shape import face_geometry

SPLITS = {'train': 0, 'test': 1}

# Parts whose points can be keypoints in some layout; the face is placed
# so that all of them lie inside the frame.
KEYPOINT_PARTS = ('jaw', 'brow_l_up', 'brow_l_lo', 'brow_r_up', 'brow_r_lo',
                  'eye_l_up', 'eye_l_lo', 'eye_r_up', 'eye_r_lo', 'iris_l',
                  'iris_r', 'nose_ridge', 'nose_base', 'lip_outer',
                  'lip_inner')


@dataclass
class Sample:
    """A rendered face: BGR ``image``, ``keypoints`` ``(K, 2)`` in pixels,
    the six attribute ``flags``, its ``spec`` and which keypoints the
    occluders cover (``(K,)`` bool)."""

    image: np.ndarray
    keypoints: np.ndarray
    flags: dict[str, int]
    spec: FaceSpec
    occluded: np.ndarray

    @property
    def occluded_share(self) -> float:
        """Share of the keypoints covered by occluders."""
        return float(self.occluded.mean()) if len(self.occluded) else 0.


def face_rngs(seed: int, split: str, index: int
              ) -> tuple[np.random.Generator, np.random.Generator]:
    """Spec and texture generators of sample ``index`` of ``split``."""
    if split not in SPLITS:
        raise ValueError(f'split must be one of {sorted(SPLITS)}')
    seq = np.random.SeedSequence([int(seed), SPLITS[split], int(index)])
    spec_seq, texture_seq = seq.spawn(2)
    return np.random.default_rng(spec_seq), np.random.default_rng(texture_seq)


def sample_face(seed: int, split: str, index: int) -> FaceSpec:
    """The parameters of sample ``index`` of ``split`` (no rendering)."""
    return sample_face_spec(face_rngs(seed, split, index)[0])


def project_parts(spec: FaceSpec, image_size: int
                  ) -> tuple[dict[str, np.ndarray], float]:
    """Projected parts (pixels) of a face and its pixels per unit."""
    geometry = face_geometry(spec.shape)
    anchors = np.concatenate([geometry[name] for name in KEYPOINT_PARTS])
    projection = fit_projection(anchors, spec.pose, image_size)
    parts = {name: projection(pts) for name, pts in geometry.items()}
    return parts, projection.scale


def render_sample(spec: FaceSpec, texture_rng: np.random.Generator,
                  image_size: int = 256, layout: str | int = '68'
                  ) -> Sample:
    """Render ``spec`` and collect keypoints and attribute flags."""
    parts, ppu = project_parts(spec, image_size)
    keypoints = get_layout(layout).select(parts)
    image = render_background(texture_rng, image_size)
    face_mask = render_face(image, parts, spec.appearance, ppu)
    face_pts = np.concatenate([parts['jaw'], parts['forehead']])
    centre = face_pts.mean(0)
    radius = float(np.linalg.norm(face_pts - centre, axis=1).max())
    photo = spec.photometric
    image = shade_face(image, face_mask, centre, radius,
                       photo.light_strength, photo.light_angle)
    anchors = np.concatenate([parts[name] for name in KEYPOINT_PARTS])
    box = anchors.max(0) - anchors.min(0)
    image, occ_mask = draw_occluders(image, spec.occluders, parts,
                                     float(box.max()), spec.pose.roll,
                                     texture_rng)
    image = apply_photometric(image, photo, texture_rng)
    occluded = occluded_points(occ_mask, keypoints)
    share = float(occluded.mean()) if len(occluded) else 0.
    return Sample(image, keypoints, attribute_flags(spec, share), spec,
                  occluded)


def make_sample(seed: int, split: str, index: int, image_size: int = 256,
                layout: str | int = '68') -> Sample:
    """Sample ``index`` of ``split`` for a data set generated with ``seed``.
    """
    spec_rng, texture_rng = face_rngs(seed, split, index)
    return render_sample(sample_face_spec(spec_rng), texture_rng,
                         image_size, layout)
