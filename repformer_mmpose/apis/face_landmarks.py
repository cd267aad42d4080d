"""One face's result: its box and landmarks, in image pixels."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FaceLandmarks:
    """One face: its box and its landmarks, in image pixels.

    Attributes:
        bbox (np.ndarray): ``(4,)`` ``x1, y1, x2, y2``.
        bbox_score (float): The detector's confidence (1 for boxes given
            by the user and for the Haar cascade).
        keypoints (np.ndarray): ``(K, 2)`` ``x, y`` (MMPose's convention:
            pixel centres at integer coordinates).
        keypoint_scores (np.ndarray): ``(K,)``: each point's confidence
            with the head's uncertainty branch (the probability that its
            error is below 5 % of the inter-ocular distance, times its
            visibility with the occlusion predictor, see ``PTHHead``'s
            ``uncertainty``); without it all are 1 (coordinates only).
        keypoint_scales (np.ndarray, optional): ``(K,)`` predicted error
            scale of each point in image pixels (uncertainty branch only).
        keypoint_visibility (np.ndarray, optional): ``(K,)`` predicted
            probability that each point is not occluded (the branch's
            occlusion predictor only).
    """

    bbox: np.ndarray
    bbox_score: float
    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    keypoint_scales: np.ndarray | None = None
    keypoint_visibility: np.ndarray | None = None

    def to_dict(self, decimals: int = 2) -> dict:
        """JSON-ready ``{"bbox", "bbox_score", "keypoints",
        "keypoint_scores"[, "keypoint_scales"][, "keypoint_visibility"]}``.
        """
        record = dict(
            bbox=np.round(self.bbox, decimals).tolist(),
            bbox_score=round(float(self.bbox_score), 4),
            keypoints=np.round(self.keypoints, decimals).tolist(),
            keypoint_scores=np.round(self.keypoint_scores, 4).tolist())
        if self.keypoint_scales is not None:
            record['keypoint_scales'] = np.round(self.keypoint_scales,
                                                 decimals).tolist()
        if self.keypoint_visibility is not None:
            record['keypoint_visibility'] = np.round(
                self.keypoint_visibility, 4).tolist()
        return record
