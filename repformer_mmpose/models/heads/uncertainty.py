"""Per-landmark uncertainty of the refinement stages (not in the paper).

For every stage ``i``, a landmark-agnostic two-layer FFN on the stage's
output query ``e_j`` (the same form as the residual predictor of Eq. 7)
predicts a scale ``b_j`` of the point's error ``r_j = ||l_j^i - g_j||``
under a 2-D isotropic distribution:

- ``'laplace'``: ``p(r) ∝ exp(-||r|| / b)``; ``-log p = log(2 pi) +
  2 log b + ||r|| / b``; the error's length is Gamma(2, b):
  ``P(||r|| <= t) = 1 - (1 + t / b) exp(-t / b)``;
- ``'gaussian'``: ``p(r) ∝ exp(-||r||^2 / (2 b^2))``; ``-log p = log(2 pi)
  + 2 log b + ||r||^2 / (2 b^2)``; the length is Rayleigh(b):
  ``P(||r|| <= t) = 1 - exp(-t^2 / (2 b^2))``.

Gradients: the negative log-likelihood is computed on detached
coordinates and a detached query, so it trains the scale FFN only; the
coordinates keep the paper's L1 loss and are trained exactly as without
the branch (accuracy is not traded for confidence).

The confidence of a point is ``P(||r|| <= radius * d)``, ``d`` the
normalising distance of the face (see :class:`PTHHead`'s
``uncertainty``), so a score of 0.7 says: 70 % of points with this scale
lie within ``radius`` (e.g. 5 %) of the inter-ocular distance.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

DISTRIBUTIONS = ('laplace', 'gaussian')
LOG_2PI = math.log(2 * math.pi)


class ScalePredictor(nn.Module):
    """``log b_j = f_S(e_j)``: a two-layer FFN shared by all landmarks.

    The output starts at ``log(init_scale)`` for every point (zero
    weights, bias ``log(init_scale)``).

    Args:
        embed_dims (int): Query channels.
        hidden_dims (int): Hidden channels.
        init_scale (float): Initial scale, in normalised coordinates.
    """

    def __init__(self, embed_dims: int, hidden_dims: int,
                 init_scale: float = 0.02) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(embed_dims, hidden_dims), nn.ReLU(inplace=True),
            nn.Linear(hidden_dims, 1))
        nn.init.zeros_(self.layers[-1].weight)
        nn.init.constant_(self.layers[-1].bias, math.log(init_scale))

    def forward(self, queries: Tensor) -> Tensor:
        """``(B, N, C)`` -> log-scales ``(B, N)``."""
        return self.layers(queries).squeeze(-1)


def negative_log_likelihood(landmarks: Tensor, targets: Tensor,
                            log_scales: Tensor, weights: Tensor,
                            distribution: str = 'laplace') -> Tensor:
    """Mean ``-log p(targets | landmarks, b)`` over the weighted points.

    Args:
        landmarks (Tensor): ``(B, N, 2)`` predicted points (the caller
            detaches them).
        targets (Tensor): ``(B, N, 2)`` ground truth.
        log_scales (Tensor): ``(B, N)`` ``log b``.
        weights (Tensor): ``(B, N)`` point weights (0: not scored).
        distribution (str): ``'laplace'`` or ``'gaussian'``.
    """
    error = (landmarks - targets).norm(dim=-1)
    scale = log_scales.exp()
    if distribution == 'laplace':
        nll = LOG_2PI + 2 * log_scales + error / scale
    elif distribution == 'gaussian':
        nll = LOG_2PI + 2 * log_scales + error.pow(2) / (2 * scale.pow(2))
    else:
        raise ValueError(f'distribution must be one of {DISTRIBUTIONS}, '
                         f'got {distribution!r}')
    return (nll * weights).sum() / weights.sum().clamp(min=1)


def probability_within(radius: Tensor | float, scale: Tensor,
                       distribution: str = 'laplace') -> Tensor:
    """``P(||r|| <= radius)`` for error scale ``scale`` (same units)."""
    ratio = torch.as_tensor(radius, dtype=scale.dtype,
                            device=scale.device) / scale
    if distribution == 'laplace':
        return 1 - (1 + ratio) * torch.exp(-ratio)
    if distribution == 'gaussian':
        return 1 - torch.exp(-ratio.pow(2) / 2)
    raise ValueError(f'distribution must be one of {DISTRIBUTIONS}, got '
                     f'{distribution!r}')


def interval_radius(probability: float, distribution: str = 'laplace'
                    ) -> float:
    """``t / b`` with ``P(||r|| <= t) = probability``: the radius of the
    central ``probability`` region in units of the scale."""
    if not 0 < probability < 1:
        raise ValueError(f'probability must be in (0, 1), got {probability}')
    if distribution == 'gaussian':
        return math.sqrt(-2 * math.log(1 - probability))
    if distribution != 'laplace':
        raise ValueError(f'distribution must be one of {DISTRIBUTIONS}, '
                         f'got {distribution!r}')
    # 1 - (1 + x) e^-x is increasing in x: bisection
    low, high = 0., 1.
    while 1 - (1 + high) * math.exp(-high) < probability:
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        if 1 - (1 + mid) * math.exp(-mid) < probability:
            low = mid
        else:
            high = mid
    return (low + high) / 2


class LandmarkUncertainty(nn.Module):
    """The uncertainty branch of :class:`PTHHead`: one
    :class:`ScalePredictor` per stage, its loss and the confidence scores.

    Args:
        num_stages (int): Stages (one scale per stage output ``L^1..L^K``).
        embed_dims (int): Query channels.
        hidden_dims (int): Hidden channels of each FFN.
        distribution (str): ``'laplace'`` (default) or ``'gaussian'``.
        loss_weight (float): Weight of each stage's NLL.
        confidence_radius (float): The score of a point is
            ``P(error <= confidence_radius * d)``.
        norm_indices (tuple[int, int], optional): Two landmarks whose
            predicted distance is ``d`` (the data set's inter-ocular
            points, e.g. 300W's 36/45). Without them ``d`` is the face box
            side, 0.8 of the crop (MMPose pads the box by 1.25).
    """

    def __init__(self, num_stages: int, embed_dims: int, hidden_dims: int,
                 distribution: str = 'laplace', loss_weight: float = 1.,
                 confidence_radius: float = 0.05,
                 norm_indices: tuple[int, int] | None = None) -> None:
        super().__init__()
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f'uncertainty.distribution must be one of '
                             f'{DISTRIBUTIONS}, got {distribution!r}')
        if not confidence_radius > 0:
            raise ValueError('uncertainty.confidence_radius must be '
                             f'positive, got {confidence_radius}')
        self.distribution = distribution
        self.loss_weight = loss_weight
        self.confidence_radius = confidence_radius
        self.norm_indices = tuple(norm_indices) if norm_indices else None
        self.scale_predictors = nn.ModuleList(
            ScalePredictor(embed_dims, hidden_dims)
            for _ in range(num_stages))

    def log_scales(self, stage_queries: list[Tensor]) -> list[Tensor]:
        """``log b`` ``(B, N)`` of every stage, from detached queries (the
        branch does not train the stages)."""
        return [predictor(queries.detach()) for predictor, queries in zip(
            self.scale_predictors, stage_queries)]

    def losses(self, stage_landmarks: list[Tensor],
               stage_queries: list[Tensor], labels: Tensor,
               weights: Tensor) -> dict[str, Tensor]:
        """``loss_nll_stage<i>`` for ``L^1..L^K`` (coordinates detached)."""
        return {
            f'loss_nll_stage{index + 1}': self.loss_weight *
            negative_log_likelihood(landmarks.detach(), labels, log_scale,
                                    weights, self.distribution)
            for index, (landmarks, log_scale) in enumerate(
                zip(stage_landmarks, self.log_scales(stage_queries)))
        }

    def normalising_distance(self, landmarks: Tensor) -> Tensor:
        """``d`` ``(B, 1)`` in normalised coordinates."""
        if self.norm_indices is None:
            return landmarks.new_full((landmarks.shape[0], 1), 0.8)
        first, second = self.norm_indices
        return (landmarks[:, first] - landmarks[:, second]).norm(
            dim=-1, keepdim=True)

    def confidence(self, landmarks: Tensor, scales: Tensor) -> Tensor:
        """Scores ``(B, N)``: ``P(error <= confidence_radius * d)``."""
        radius = self.confidence_radius * self.normalising_distance(
            landmarks)
        return probability_within(radius, scales, self.distribution)

    def last_stage_scales(self, stage_queries: list[Tensor],
                          flipped_queries: list[Tensor] | None = None,
                          flip_indices: list[int] | None = None) -> Tensor:
        """Scales ``b`` ``(B, N)`` of ``L^K``; with flip test, the mean of
        the input's and the flipped input's (reordered by
        ``flip_indices``)."""
        predictor = self.scale_predictors[-1]
        scales = predictor(stage_queries[-1]).exp()
        if flipped_queries is not None:
            flipped = predictor(flipped_queries[-1]).exp()
            scales = (scales + flipped[:, flip_indices]) / 2
        return scales

    def annotate(self, preds: list, landmarks: Tensor, scales: Tensor,
                 data_samples: list) -> None:
        """Set each prediction's ``keypoint_scores`` (confidence) and
        ``keypoint_scales`` (the scale in image pixels: normalised scale
        times the crop's side)."""
        scores = self.confidence(landmarks.float(), scales.float())
        for pred, score, scale, sample in zip(preds, scores, scales,
                                              data_samples):
            crop = float(sum(sample.metainfo['input_scale'])) / 2
            pred.keypoint_scores = score[None].detach().cpu().numpy()
            pred.keypoint_scales = (scale[None].float() *
                                    crop).detach().cpu().numpy()
