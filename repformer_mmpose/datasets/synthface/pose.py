"""Head pose of a SynthFace face: rotation, projection and placement.

Yaw and pitch rotate the canonical face (:mod:`.shape`) in 3-D about its
origin using the per-point depth, then an orthographic projection drops
``z``: yaw foreshortens the far cheek and shifts the protruding nose and
mouth towards it, pitch squashes the face vertically and moves the nose
tip up or down.  Roll is the in-plane rotation.  The projected face is
then scaled so that its landmark box has a sampled size relative to the
image and shifted inside the free room of the frame.  Image coordinates
are quantised to 1/16 pixel, the sub-pixel precision of OpenCV's drawing
with ``shift=4``, so keypoints are exactly the drawn vertices.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SUBPIXEL_SHIFT = 4
SUBPIXEL = 1 << SUBPIXEL_SHIFT
MARGIN = 0.03  # free border of the frame around the landmark box


@dataclass(frozen=True)
class HeadPose:
    """Rotation (degrees) and placement of a face in the image.

    ``size`` is the longer side of the landmark box over the image size;
    ``shift_x``/``shift_y`` in [-1, 1] place the box within the room left
    between it and the frame border (0 = centred).
    """

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    size: float = 0.55
    shift_x: float = 0.0
    shift_y: float = 0.0

    def mirrored(self) -> HeadPose:
        """The pose of the left/right mirror image."""
        return HeadPose(-self.yaw, self.pitch, -self.roll, self.size,
                        -self.shift_x, self.shift_y)


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """``R = Rz(roll) @ Rx(pitch) @ Ry(yaw)`` for angles in degrees.

    Positive yaw turns the face towards image right (the nose moves right),
    positive pitch tilts the head back (the nose tip moves up), positive
    roll rotates it clockwise on screen (``y`` points down).
    """
    y, p, r = np.deg2rad([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0],
                   [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)],
                   [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0],
                   [0, 0, 1]])
    return rz @ rx @ ry


@dataclass(frozen=True)
class Projection:
    """Canonical-frame to image mapping of one face.

    ``image = (R @ p)[:2] * scale + offset``.
    """

    rotation: np.ndarray
    scale: float
    offset: np.ndarray

    def __call__(self, points: np.ndarray, quantise: bool = True
                 ) -> np.ndarray:
        """Project ``(..., 3)`` canonical points to ``(..., 2)`` pixels."""
        rotated = np.asarray(points) @ self.rotation.T
        xy = rotated[..., :2] * self.scale + self.offset
        if quantise:
            xy = np.round(xy * SUBPIXEL) / SUBPIXEL
        return xy

    def linear(self) -> np.ndarray:
        """The 2x3 linear part (pixels per canonical unit)."""
        return self.rotation[:2] * self.scale


def fit_projection(anchor_points: np.ndarray, pose: HeadPose,
                   image_size: int) -> Projection:
    """Scale and shift the rotated ``anchor_points`` into the frame.

    The box of the projected anchors gets the longer side
    ``pose.size * image_size`` and stays inside the frame with a border of
    ``MARGIN * image_size``, so every anchor point lies in the image.
    """
    rot = rotation_matrix(pose.yaw, pose.pitch, pose.roll)
    xy = (np.asarray(anchor_points) @ rot.T)[:, :2]
    lo, hi = xy.min(0), xy.max(0)
    scale = pose.size * image_size / float((hi - lo).max())
    extent = (hi - lo) * scale
    room = np.maximum((image_size - 1 - extent) / 2 - MARGIN * image_size,
                      0.0)
    centre = (image_size - 1) / 2 + np.array([pose.shift_x, pose.shift_y]
                                             ) * room
    offset = centre - (lo + hi) / 2 * scale
    return Projection(rot, scale, offset)
