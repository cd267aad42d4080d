"""Per-landmark uncertainty of the refinement stages (not in the paper).

For every stage ``i`` an FFN of Eq. 7's form on the stage's output query
``e_j`` predicts a scale ``b_j`` of the point's error ``r_j = l_j^i - g_j``
under a 2-D isotropic distribution, trained by its negative
log-likelihood:

- ``'laplace'``: ``-log p = log(2 pi) + 2 log b + ||r|| / b``; ``||r||``
  is Gamma(2, b): ``P(||r|| <= t) = 1 - (1 + t / b) exp(-t / b)``;
- ``'gaussian'``: ``-log p = log(2 pi) + 2 log b + ||r||^2 / (2 b^2)``;
  ``||r||`` is Rayleigh(b): ``P(||r|| <= t) = 1 - exp(-t^2 / (2 b^2))``.

The NLL sees detached coordinates, and by default detached queries
(``query_gradient`` 0), so the model trains exactly as without the
branch; a share ``g > 0`` lets the NLL's gradient into the features. A
point's confidence is ``P(||r|| <= radius * d)``, ``d`` the face's
normalising distance. With ``occlusion_weight > 0`` (as LUVLi, Kumar et
al. CVPR 2020) one more such FFN on the last stage's query predicts the
probability ``v_j`` that the point is visible, trained with binary
cross-entropy on the records' ``keypoints_occluded``; the confidence is
then ``v_j P(||r|| <= radius * d)``. docs/beyond_the_paper.md describes
the options and their measured effect.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..utils.precision import float32_forward

DISTRIBUTIONS = ('laplace', 'gaussian')
LOG_2PI = math.log(2 * math.pi)


def check_distribution(distribution: str,
                       name: str = 'distribution') -> None:
    """Raise ``ValueError`` unless ``distribution`` is known."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f'{name} must be one of {DISTRIBUTIONS}, got '
                         f'{distribution!r}')


def scale_gradient(tensor: Tensor, share: float) -> Tensor:
    """``tensor`` unchanged in the forward pass; the backward pass lets the
    share ``share`` (0: none, 1: all) of the gradient through."""
    if share == 0:
        return tensor.detach()
    if share == 1:
        return tensor
    return tensor.detach() + share * (tensor - tensor.detach())


class PointFFN(nn.Module):
    """A two-layer FFN shared by all landmarks, one number per point
    (``log b_j`` or the occlusion logit), ``init_output`` at the start
    (zero weights).
    """

    def __init__(self, embed_dims: int, hidden_dims: int,
                 init_output: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(embed_dims, hidden_dims), nn.ReLU(inplace=True),
            nn.Linear(hidden_dims, 1))
        nn.init.zeros_(self.layers[-1].weight)
        nn.init.constant_(self.layers[-1].bias, init_output)

    @float32_forward
    def forward(self, queries: Tensor) -> Tensor:
        """``(B, N, C)`` -> ``(B, N)``, float32 under autocast."""
        return self.layers(queries).squeeze(-1)


def negative_log_likelihood(landmarks: Tensor, targets: Tensor,
                            log_scales: Tensor, weights: Tensor,
                            distribution: str = 'laplace') -> Tensor:
    """Mean ``-log p(targets | landmarks, b)`` over the points, weighted
    by ``weights`` ``(B, N)``; ``log_scales`` is ``log b`` ``(B, N)``."""
    check_distribution(distribution)
    error = (landmarks - targets).norm(dim=-1)
    scale = log_scales.exp()
    if distribution == 'laplace':
        nll = LOG_2PI + 2 * log_scales + error / scale
    else:
        nll = LOG_2PI + 2 * log_scales + error.pow(2) / (2 * scale.pow(2))
    return (nll * weights).sum() / weights.sum().clamp(min=1)


def probability_within(radius: Tensor | float, scale: Tensor,
                       distribution: str = 'laplace') -> Tensor:
    """``P(||r|| <= radius)`` for error scale ``scale`` (same units)."""
    check_distribution(distribution)
    ratio = torch.as_tensor(radius, dtype=scale.dtype,
                            device=scale.device) / scale
    if distribution == 'laplace':
        return 1 - (1 + ratio) * torch.exp(-ratio)
    return 1 - torch.exp(-ratio.pow(2) / 2)


def interval_radius(probability: float, distribution: str = 'laplace'
                    ) -> float:
    """``t / b`` with ``P(||r|| <= t) = probability``: the radius of the
    central ``probability`` region in units of the scale."""
    if not 0 < probability < 1:
        raise ValueError(f'probability must be in (0, 1), got {probability}')
    check_distribution(distribution)
    if distribution == 'gaussian':
        return math.sqrt(-2 * math.log(1 - probability))
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


def occlusion_labels(data_samples: list, num_keypoints: int) -> Tensor:
    """``(B, N)`` per-point occlusion of the samples' records (1 occluded,
    0 not, NaN unknown), in the order of the augmented points: a flipped
    sample's labels are reordered by its ``flip_indices``, as MMPose's
    ``RandomFlip`` reorders the keypoints. Read from the metainfo that
    MMPose's ``PackPoseInputs`` keeps by default (``raw_ann_info``,
    ``flip``, ``flip_indices``)."""
    rows = []
    for sample in data_samples:
        meta = sample.metainfo
        labels = (meta.get('raw_ann_info') or {}).get('keypoints_occluded')
        if labels is None:
            rows.append(torch.full((num_keypoints, ), float('nan')))
            continue
        labels = torch.as_tensor(labels, dtype=torch.float32).reshape(-1)
        if labels.numel() != num_keypoints:
            raise ValueError(
                f'{meta.get("img_path", "a sample")}: keypoints_occluded '
                f'has {labels.numel()} values for {num_keypoints} keypoints')
        # MMPose swaps the symmetric points of horizontal and vertical
        # flips only
        if meta.get('flip', False) and \
                meta.get('flip_direction', 'horizontal') != 'diagonal':
            labels = labels[list(meta['flip_indices'])]
        rows.append(labels)
    return torch.stack(rows)


class LandmarkUncertainty(nn.Module):
    """The uncertainty branch of :class:`PTHHead`: one scale
    :class:`PointFFN` per stage, their losses and the confidence scores.

    Args:
        num_stages (int): Stages (one scale per stage output ``L^1..L^K``).
        embed_dims (int): Query channels.
        hidden_dims (int): Hidden channels of each FFN.
        distribution (str): ``'laplace'`` (default) or ``'gaussian'``.
        loss_weight (float): Weight of each stage's NLL.
        confidence_radius (float): A point's score is ``P(error <=
            confidence_radius * d)``; 0.1: not a failure (FR@0.10).
        norm_indices (tuple[int, int], optional): Two landmarks whose
            predicted distance is ``d`` (e.g. 300W's eye corners 36/45);
            else ``d`` is the face box side, 0.8 of the crop.
        query_gradient (float): Share in ``[0, 1]`` of the NLL's gradient
            that reaches the stage queries; 0: detached.
        occlusion_weight (float): Weight of the occlusion loss; 0: no
            occlusion predictor.
        occlusion_query_gradient (float): The same share for the
            occlusion loss.
    """

    def __init__(self, num_stages: int, embed_dims: int, hidden_dims: int,
                 distribution: str = 'laplace', loss_weight: float = 1.,
                 confidence_radius: float = 0.1,
                 norm_indices: tuple[int, int] | None = None,
                 query_gradient: float = 0.,
                 occlusion_weight: float = 0.,
                 occlusion_query_gradient: float = 0.) -> None:
        super().__init__()
        check_distribution(distribution, 'uncertainty.distribution')
        if not confidence_radius > 0:
            raise ValueError('uncertainty.confidence_radius must be '
                             f'positive, got {confidence_radius}')
        for name, share in (('query_gradient', query_gradient),
                            ('occlusion_query_gradient',
                             occlusion_query_gradient)):
            if not 0 <= share <= 1:
                raise ValueError(f'uncertainty.{name} must be in [0, 1], '
                                 f'got {share}')
        if occlusion_weight < 0:
            raise ValueError('uncertainty.occlusion_weight must be >= 0, '
                             f'got {occlusion_weight}')
        self.distribution = distribution
        self.query_gradient = query_gradient
        self.loss_weight = loss_weight
        self.confidence_radius = confidence_radius
        self.norm_indices = tuple(norm_indices) if norm_indices else None
        self.scale_predictors = nn.ModuleList(
            PointFFN(embed_dims, hidden_dims, math.log(0.02))  # 2 % of crop
            for _ in range(num_stages))
        self.occlusion_weight = occlusion_weight
        self.occlusion_query_gradient = occlusion_query_gradient
        # starts at 10 % occluded
        self.occlusion_predictor = PointFFN(
            embed_dims, hidden_dims, math.log(0.1 / 0.9)) \
            if occlusion_weight > 0 else None

    def log_scales(self, stage_queries: list[Tensor]) -> list[Tensor]:
        """``log b`` ``(B, N)`` of every stage, from queries that pass the
        share ``query_gradient`` of the gradient."""
        return [predictor(scale_gradient(queries, self.query_gradient))
                for predictor, queries in zip(self.scale_predictors,
                                              stage_queries)]

    def losses(self, stage_landmarks: list[Tensor],
               stage_queries: list[Tensor], labels: Tensor,
               weights: Tensor, occluded: Tensor | None = None
               ) -> dict[str, Tensor]:
        """``loss_nll_stage<i>`` for ``L^1..L^K`` (coordinates detached)
        and, with the occlusion predictor, ``loss_occlusion``: the mean
        binary cross-entropy over the points with a label in ``occluded``
        ``(B, N)`` (NaN: unknown; 0 when no point has one)."""
        losses = {
            f'loss_nll_stage{index + 1}': self.loss_weight *
            negative_log_likelihood(landmarks.detach(), labels, log_scale,
                                    weights, self.distribution)
            for index, (landmarks, log_scale) in enumerate(
                zip(stage_landmarks, self.log_scales(stage_queries)))
        }
        if self.occlusion_predictor is not None:
            logits = self.occlusion_predictor(
                scale_gradient(stage_queries[-1],
                               self.occlusion_query_gradient))
            if occluded is None:
                occluded = torch.full_like(logits, float('nan'))
            known = ~occluded.to(logits.device).isnan() & (weights > 0)
            losses['loss_occlusion'] = self.occlusion_weight * (
                nn.functional.binary_cross_entropy_with_logits(
                    logits[known], occluded.to(logits)[known],
                    reduction='sum') / known.sum().clamp(min=1))
        return losses

    def confidence(self, landmarks: Tensor, scales: Tensor,
                   visibility: Tensor | None = None) -> Tensor:
        """Scores ``(B, N)``: ``P(error <= confidence_radius * d)``, times
        the probability ``visibility`` of not being occluded if given."""
        if self.norm_indices is None:
            distance = landmarks.new_full((landmarks.shape[0], 1), 0.8)
        else:
            first, second = self.norm_indices
            distance = (landmarks[:, first] - landmarks[:, second]).norm(
                dim=-1, keepdim=True)
        within = probability_within(self.confidence_radius * distance,
                                    scales, self.distribution)
        return within if visibility is None else within * visibility

    def last_stage_scales(self, stage_queries: list[Tensor],
                          flipped_queries: list[Tensor] | None = None,
                          flip_indices: list[int] | None = None) -> Tensor:
        """Scales ``b`` ``(B, N)`` of ``L^K``; with flip test, the mean of
        the input's and the flipped input's (reordered by
        ``flip_indices``)."""
        return self._last_stage(self.scale_predictors[-1], torch.exp,
                                stage_queries, flipped_queries, flip_indices)

    def last_stage_visibility(self, stage_queries: list[Tensor],
                              flipped_queries: list[Tensor] | None = None,
                              flip_indices: list[int] | None = None
                              ) -> Tensor | None:
        """``P(not occluded)`` ``(B, N)`` of ``L^K``'s points (flip test as
        :meth:`last_stage_scales`); None without the occlusion
        predictor."""
        if self.occlusion_predictor is None:
            return None
        return self._last_stage(self.occlusion_predictor,
                                lambda logits: torch.sigmoid(-logits),
                                stage_queries, flipped_queries, flip_indices)

    @staticmethod
    def _last_stage(predictor: PointFFN, to_output: Callable,
                    stage_queries: list, flipped_queries: list | None,
                    flip_indices: list | None) -> Tensor:
        output = to_output(predictor(stage_queries[-1]))
        if flipped_queries is not None:
            flipped = to_output(predictor(flipped_queries[-1]))
            output = (output + flipped[:, flip_indices]) / 2
        return output

    def annotate(self, preds: list, landmarks: Tensor, data_samples: list,
                 stage_queries: list[Tensor],
                 flipped_queries: list[Tensor] | None = None,
                 flip_indices: list[int] | None = None) -> None:
        """Set each prediction's ``keypoint_scores`` (confidence),
        ``keypoint_scales`` (the scale in image pixels: normalised scale
        times the crop's side) and, with the occlusion predictor,
        ``keypoint_visibility`` (``P(not occluded)``)."""
        scales = self.last_stage_scales(stage_queries, flipped_queries,
                                        flip_indices)
        visibility = self.last_stage_visibility(
            stage_queries, flipped_queries, flip_indices)
        scores = self.confidence(
            landmarks.float(), scales.float(),
            None if visibility is None else visibility.float())
        if visibility is not None:
            for pred, visible in zip(preds, visibility.float()):
                pred.keypoint_visibility = visible[None].detach().cpu(
                ).numpy()
        for pred, score, scale, sample in zip(preds, scores, scales,
                                              data_samples):
            crop = float(sum(sample.metainfo['input_scale'])) / 2
            pred.keypoint_scores = score[None].detach().cpu().numpy()
            pred.keypoint_scales = (scale[None].float() *
                                    crop).detach().cpu().numpy()
