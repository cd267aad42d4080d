"""RePFormer's head: pyramid transformer + dynamic landmark refinement."""
from __future__ import annotations

import math
from typing import Sequence, Union

import numpy as np
import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmpose.evaluation.functional import keypoint_pck_accuracy
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.tensor_utils import to_numpy
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from ..utils import (SinePositionalEncoding2D, aggregate_queries,
                     aggregate_queries_on_grid, grid_axis_centers,
                     pixel_centers)
from ..utils.dynamic_aggregation import Temperature
from .landmark_predictors import (CoordinatePredictor,
                                  InitialLandmarkPredictor, refine)
from .pth_stage import PTHStage
from .refinement_options import (LandmarkPositionEncoding, SubCellOffset,
                                 perturb_landmarks, sigma_cells_to_tau)
from .uncertainty import LandmarkUncertainty, occlusion_labels

QUERY_UPDATES = ('replace', 'add')
PerStage = Union[float, Sequence[float]]


@MODELS.register_module()
class PTHHead(BaseHead):
    """Pyramid transformer head with dynamic landmark refinement (DLR).

    Reads the memories ``(v_1, ..., v_M)``, low to high level, of
    :class:`~repformer_mmpose.models.CrossScaleNeck`;
    :meth:`forward_with_queries` follows the paper::

        L^0 = f_init(v_M)                                  # Sec. 3.3
        for stage i = 1..K, reading memory v_{M-i+1}:      # Eq. 5
            E^i = aggregate(v_{M-i+1}, L^{i-1}, tau)       # Eq. 9-10
            E^{i+1} = g_LM(g_LL(E^i), v_{M-i+1})           # Eq. 6
            L^i = L^{i-1} + f_P^i(E^{i+1})                 # Eq. 7-8

    with an L1 loss on every ``L^i``. Table 2's rows switch ``use_pyramid``
    and ``use_dlr``, Table 3 varies ``tau``. The defaults are the paper's
    model; docs/head_options.md lists our choices where the paper is silent
    and the options beyond it (all off by default).

    Args:
        num_keypoints (int): ``N``.
        embed_dims (int): ``d_model``; must equal the neck's.
        num_stages (int): ``K``.
        num_heads (int): Attention heads.
        ffn_dims (int): Hidden channels of each stage's FFN.
        predictor_dims (int): Hidden channels of the coordinate predictors.
        predictor_activation (str): ``'relu'`` or ``'gelu'``.
        dropout (float): Dropout in the stages' FFNs and residual branches.
        attn_dropout (float, optional): Attention dropout; else ``dropout``.
        tau (float | Sequence[float]): Eq. 10's tau, or one per stage.
        use_pyramid (bool): Stage ``i`` reads ``v_{M-i+1}`` (Eq. 5), not
            ``v_M``.
        use_dlr (bool): ``L^0``, Eq. 9-10 queries, Eq. 7-8 residuals; else
            DETR's learned queries and absolute coordinates.
        query_update (str): ``'replace'`` or ``'add'``.
        initial_predictor (str): ``'flatten'`` or ``'pool'``.
        initial_memory_size (tuple[int, int]): ``(H, W)`` of ``v_M``.
        detach_landmarks (bool): No gradient through Eq. 10's weights.
        encode_landmark_positions (bool): Encode ``L^{i-1}`` in positions.
        aggregation_sigma_cells (float | Sequence[float], optional):
            Eq. 10's width in memory cells; replaces ``tau``.
        subcell_offset (bool): Add the sub-cell offset to the queries.
        landmark_identity_in_query (bool): Add an identity to the queries.
        landmark_pos_encoding (str): ``'sine'``, ``'sharp'``, ``'learned'``.
        landmark_pos_min_period (float): Shortest period of the sharp and
            learned encodings, a fraction of the image side.
        residual_stop_gradient (bool): Eq. 8 adds to ``sg(L^{i-1})``.
        landmark_noise_std (float | Sequence[float]): Training noise.
        uncertainty (dict, optional): Arguments of
            :class:`LandmarkUncertainty` (per-point confidence); needs DLR.
        loss (dict): Per-stage loss; L1 as in the paper.
        stage_loss_weights (Sequence[float], optional): One per ``L^i``
            (``L^1..L^K`` without DLR); all 1 by default.
        decoder (dict, optional): The :class:`DLRLabel` codec config.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    supports_fast_path = True

    def __init__(self,
                 num_keypoints: int,
                 embed_dims: int = 256,
                 num_stages: int = 3,
                 num_heads: int = 8,
                 ffn_dims: int = 1024,
                 predictor_dims: int = 256,
                 predictor_activation: str = 'relu',
                 dropout: float = 0.1,
                 attn_dropout: float | None = None,
                 tau: PerStage = 1000.,
                 use_pyramid: bool = True,
                 use_dlr: bool = True,
                 query_update: str = 'replace',
                 initial_predictor: str = 'flatten',
                 initial_memory_size: tuple[int, int] = (8, 8),
                 detach_landmarks: bool = False,
                 encode_landmark_positions: bool = True,
                 aggregation_sigma_cells: PerStage | None = None,
                 subcell_offset: bool = False,
                 landmark_identity_in_query: bool = False,
                 landmark_pos_encoding: str = 'sine',
                 landmark_pos_min_period: float = 1 / 32,
                 residual_stop_gradient: bool = False,
                 landmark_noise_std: PerStage = 0.,
                 uncertainty: OptConfigType = None,
                 loss: ConfigType = dict(
                     type='L1Loss', use_target_weight=True),
                 stage_loss_weights: Sequence[float] | None = None,
                 decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg)
        if query_update not in QUERY_UPDATES:
            raise ValueError(f'query_update must be one of {QUERY_UPDATES}, '
                             f'got {query_update!r}')
        self.num_keypoints = num_keypoints
        self.num_stages = num_stages
        self.taus = _per_stage('tau', tau, num_stages)
        self.tau = tau if isinstance(tau, (int, float)) else self.taus
        self.aggregation_sigma_cells = None if aggregation_sigma_cells is \
            None else _per_stage('aggregation_sigma_cells',
                                 aggregation_sigma_cells, num_stages)
        self.residual_stop_gradient = residual_stop_gradient
        self.landmark_noise_std = _per_stage(
            'landmark_noise_std', landmark_noise_std, num_stages,
            allow_zero=True)
        self.use_pyramid = use_pyramid
        self.use_dlr = use_dlr
        self.query_update = query_update
        self.detach_landmarks = detach_landmarks
        self.encode_landmark_positions = encode_landmark_positions

        self.landmark_embed = nn.Embedding(num_keypoints, embed_dims)
        self.positional_encoding = SinePositionalEncoding2D(embed_dims)
        self.stages = nn.ModuleList(
            PTHStage(embed_dims, num_heads, ffn_dims, dropout, attn_dropout)
            for _ in range(num_stages))
        self.coordinate_predictors = nn.ModuleList(
            CoordinatePredictor(embed_dims, predictor_dims, small_init=use_dlr,
                                activation=predictor_activation)
            for _ in range(num_stages))
        self.initial_predictor = InitialLandmarkPredictor(
            embed_dims, num_keypoints, initial_predictor,
            initial_memory_size) if use_dlr else None
        # beyond the paper; built last, so that the paper's parameters start
        # from the same random values with or without them
        self.landmark_position_encoding = LandmarkPositionEncoding(
            embed_dims, landmark_pos_encoding, landmark_pos_min_period,
            sine=self.positional_encoding)
        self.landmark_identity = nn.Embedding(
            num_keypoints, embed_dims) if landmark_identity_in_query else None
        self.subcell_offsets = nn.ModuleList(
            SubCellOffset(embed_dims)
            for _ in range(num_stages)) if subcell_offset else None
        if uncertainty and not use_dlr:
            raise ValueError('uncertainty needs use_dlr=True')
        self.uncertainty = LandmarkUncertainty(
            num_stages, embed_dims, predictor_dims,
            **uncertainty) if uncertainty else None

        num_outputs = num_stages + int(use_dlr)
        if stage_loss_weights is None:
            stage_loss_weights = [1.] * num_outputs
        if len(stage_loss_weights) != num_outputs:
            raise ValueError(
                f'stage_loss_weights needs {num_outputs} values (one per '
                f'supervised landmark set), got {len(stage_loss_weights)}')
        self.stage_loss_weights = list(stage_loss_weights)
        self.loss_module = MODELS.build(loss)
        self.decoder = KEYPOINT_CODECS.build(decoder) if decoder else None
        self.fast = True

    def forward(self, memories: Sequence[Tensor]) -> list[Tensor]:
        """``[L^0, ..., L^K]`` (``[L^1..L^K]`` without DLR), each ``(B, N,
        2)`` normalised, from ``(v_1, ..., v_M)``, each ``(B, C, H, W)``."""
        return self.forward_with_queries(memories)[0]

    def forward_with_queries(self, memories: Sequence[Tensor]
                             ) -> tuple[list[Tensor], list[Tensor]]:
        """:meth:`forward`, and every stage's output queries ``E^{i+1}``."""
        if self.use_dlr:
            landmarks = self.initial_predictor(memories[-1])  # L^0
            landmark_sets, queries = [landmarks], None
        else:  # Table 2, rows 1-2: DETR's learned queries
            landmark_sets, queries = [], self.landmark_embed.weight.expand(
                memories[-1].shape[0], -1, -1)
        stage_queries = []
        for index in range(self.num_stages):
            memory_map = self.stage_memory(memories, index)  # Eq. 5
            if self.use_dlr:
                queries, landmarks = self.refinement_stage(
                    index, memory_map, landmarks, queries)
            else:  # output queries feed the next stage; absolute coordinates
                memory, memory_pos = self.flatten_memory(memory_map)
                queries = self.stages[index](
                    queries, self.landmark_embed.weight, memory, memory_pos)
                landmarks = self.coordinate_predictors[index](
                    queries).sigmoid()
            landmark_sets.append(landmarks)
            stage_queries.append(queries)
        return landmark_sets, stage_queries

    def refinement_stage(self, index: int, memory_map: Tensor,
                         landmarks: Tensor, queries: Tensor | None,
                         residual_base: Tensor | None = None
                         ) -> tuple[Tensor, Tensor]:
        """Stage ``index + 1`` with DLR: ``(E^{i+1}, L^i)`` from its memory
        ``(B, C, H, W)``, ``L^{i-1}`` and the previous output queries (None
        in stage 1). Eq. 8 adds to ``residual_base`` (default
        ``landmarks``): the refinement diagnostic splits the gradient."""
        size = memory_map.shape[-2:]
        memory, memory_pos = self.flatten_memory(memory_map)
        if self.training and self.landmark_noise_std[index] > 0:
            landmarks, residual_base = perturb_landmarks(
                self.landmark_noise_std[index], landmarks, residual_base)
        anchors = landmarks.detach() if self.detach_landmarks else landmarks
        queries = self.landmark_queries(  # Eq. 9-10
            index, memory, anchors, size, queries)
        queries = self.stages[index](  # Eq. 6
            queries, self.query_position(anchors), memory, memory_pos)
        base = landmarks if residual_base is None else residual_base
        if self.residual_stop_gradient:
            base = base.detach()
        return queries, refine(  # Eq. 7-8
            base, self.coordinate_predictors[index](queries))

    def stage_memory(self, memories: Sequence[Tensor], stage: int) -> Tensor:
        """Eq. 5: 0-based ``stage`` reads ``v_{M-stage}`` (``v_M`` without
        the pyramid). The neck must give only memories read: an unread one
        leaves parameters without gradient, which breaks DDP."""
        expected = self.num_stages if self.use_pyramid else 1
        if len(memories) != expected:
            raise ValueError(
                f'{"pyramid" if self.use_pyramid else "single-memory"} '
                f'PTH with {self.num_stages} stages reads {expected} '
                f'memories, the neck gives {len(memories)}: set '
                f'neck.in_indices to {expected} level(s)')
        return memories[-1 - stage] if self.use_pyramid else memories[-1]

    def flatten_memory(self, memory_map: Tensor) -> tuple[Tensor, Tensor]:
        """``(B, C, H, W)`` -> ``(B, HW, C)`` and its sine encodings
        ``(HW, C)``; a view for the neck's channels-last maps."""
        height, width = memory_map.shape[-2:]
        return (memory_map.flatten(2).transpose(1, 2),
                self.positional_encoding(height, width, memory_map.device,
                                         memory_map.dtype))

    def landmark_queries(self, index: int, memory: Tensor, anchors: Tensor,
                         size: Sequence[int], previous: Tensor | None
                         ) -> Tensor:
        """``E^i`` of stage ``index + 1``: Eq. 9-10 at ``anchors``
        (``L^{i-1}``) on the flattened memory of ``size`` ``(H, W)``, plus
        the options (docs/head_options.md): an identity, the sub-cell
        offset, and ``query_update='add'`` (Eq. 9 replaces ``previous``)."""
        tau = self.stage_temperature(index, size)
        queries = self.aggregate(memory, anchors, size, tau)
        if self.landmark_identity is not None:
            queries = queries + self.landmark_identity.weight
        if self.subcell_offsets is not None:
            xs, ys = grid_axis_centers(*size, anchors.device, anchors.dtype)
            queries = queries + self.subcell_offsets[index](
                anchors, xs, ys, tau)
        if previous is None or self.query_update == 'replace':
            return queries
        return previous + queries

    def stage_temperature(self, stage: int,
                          size: Sequence[int]) -> Temperature:
        """Eq. 10's tau of 0-based ``stage`` on an ``(H, W)`` memory: ``tau``,
        or ``(tau_x, tau_y)`` from ``aggregation_sigma_cells``."""
        if self.aggregation_sigma_cells is not None:
            return sigma_cells_to_tau(self.aggregation_sigma_cells[stage],
                                      size)
        return self.taus[stage]

    def aggregate(self, memory: Tensor, landmarks: Tensor,
                  size: Sequence[int], tau: Temperature) -> Tensor:
        """Eq. 9-10: queries ``(B, N, C)`` of ``landmarks`` ``(B, N, 2)``
        from the flattened memory ``(B, H * W, C)``, as written or (fast
        path) with the weights factorised per axis."""
        grid = (*size, landmarks.device, landmarks.dtype)
        if self.fast:
            return aggregate_queries_on_grid(
                memory, landmarks, *grid_axis_centers(*grid), tau)
        return aggregate_queries(memory, landmarks, pixel_centers(*grid), tau)

    def query_position(self, landmarks: Tensor) -> Tensor:
        """The queries' positions: learned per-landmark embeddings, plus
        the encoding of ``landmarks`` if ``encode_landmark_positions``."""
        landmark_pos = self.landmark_embed.weight
        if self.encode_landmark_positions:
            landmark_pos = landmark_pos + self.landmark_position_encoding(
                landmarks)
        return landmark_pos

    def loss(self, feats: Sequence[Tensor], batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> dict:
        """L1 loss on every stage's landmarks (Sec. 3.3, 4.1), the
        uncertainty branch's losses where it is on, PCK@0.05."""
        landmark_sets, stage_queries = self.forward_with_queries(feats)
        gt = [d.gt_instance_labels for d in batch_data_samples]
        labels = torch.cat([g.keypoint_labels for g in gt])
        if labels.shape[1] != self.num_keypoints:
            # else L1 broadcasting fails far from the cause, or not at all
            raise ValueError(
                f'PTHHead has num_keypoints={self.num_keypoints}, but the '
                f'data samples carry {labels.shape[1]} keypoints: set '
                'model.head.num_keypoints to the data set\'s point count')
        weights = torch.cat([g.keypoint_weights for g in gt]).unsqueeze(-1)
        first = 0 if self.use_dlr else 1  # L^0 exists with DLR only
        losses = {f'loss_stage{first + index}':
                  self.loss_module(landmarks, labels, weights) * weight
                  for index, (landmarks, weight) in enumerate(
                      zip(landmark_sets, self.stage_loss_weights))}
        if self.uncertainty is not None:
            losses.update(self.uncertainty.losses(
                landmark_sets[1:], stage_queries, labels, weights[..., 0],
                occlusion_labels(batch_data_samples, self.num_keypoints)))
        _, accuracy, _ = keypoint_pck_accuracy(  # numpy has no bf16
            pred=to_numpy(landmark_sets[-1].float()), gt=to_numpy(labels),
            mask=to_numpy(weights[..., 0]) > 0, thr=0.05,
            norm_factor=np.ones((labels.shape[0], 2), dtype=np.float32))
        losses['acc_pose'] = labels.new_tensor(accuracy)
        return losses

    def predict(self, feats: Sequence, batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> list[InstanceData]:
        """The last stage's landmarks in input space (the estimator maps
        them to the image). ``test_cfg.flip_test``: ``feats`` is ``[feats,
        feats_flipped]``, averaged (the codec's flip is exact: no
        ``shift_coords``); ``test_cfg.output_stages``: also every stage's
        landmarks in image space, ``stage_keypoints`` ``(1, S, N, 2)``."""
        flip_test = test_cfg.get('flip_test', False)
        if flip_test:
            feats, feats_flipped = feats
        landmark_sets, stage_queries = self.forward_with_queries(feats)
        flipped_queries = flip_indices = None
        if flip_test:
            flip_indices = batch_data_samples[0].metainfo['flip_indices']
            flipped_sets, flipped_queries = self.forward_with_queries(
                feats_flipped)
            landmark_sets = [
                (landmarks + self.decoder.flip(flipped, flip_indices)) / 2
                for landmarks, flipped in zip(landmark_sets, flipped_sets)
            ]
        # the decoder works in numpy, which has no bf16
        landmark_sets = [landmarks.float() for landmarks in landmark_sets]
        preds = self.decode(landmark_sets[-1].unsqueeze(1))
        if test_cfg.get('output_stages', False):
            stages = self.decoder.denormalize(torch.stack(landmark_sets, 1))
            for pred, stage_keypoints, data_sample in zip(
                    preds, to_numpy(stages), batch_data_samples):
                pred.stage_keypoints = input_to_image_space(
                    stage_keypoints, data_sample.metainfo)[None]
        if self.uncertainty is not None:
            self.uncertainty.annotate(preds, landmark_sets[-1],
                                      batch_data_samples, stage_queries,
                                      flipped_queries, flip_indices)
        return preds


def input_to_image_space(keypoints: np.ndarray, metainfo: dict) -> np.ndarray:
    """The inverse of ``TopdownAffine`` without rotation, as in
    ``TopdownPoseEstimator.add_pred_to_datasample``."""
    input_size, scale, center = (
        np.asarray(metainfo[key], dtype=np.float32)
        for key in ('input_size', 'input_scale', 'input_center'))
    return keypoints / input_size * scale + center - 0.5 * scale


def _per_stage(name: str, value: PerStage, num_stages: int,
               allow_zero: bool = False) -> list[float]:
    """One positive (``allow_zero``: non-negative), finite value per
    stage, from one value or a sequence."""
    values = [value] * num_stages if isinstance(value, (int, float)) \
        else list(value)
    if len(values) != num_stages:
        raise ValueError(f'{name} needs 1 or {num_stages} values (one per '
                         f'stage), got {len(values)}')
    if not all(isinstance(item, (int, float)) and math.isfinite(item)
               and (item > 0 or allow_zero and item == 0) for item in values):
        kind = 'non-negative' if allow_zero else 'positive'
        raise ValueError(f'{name} must be {kind} and finite, got {value}')
    return [float(item) for item in values]
