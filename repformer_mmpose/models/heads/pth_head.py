"""RePFormer's head: pyramid transformer stages + dynamic landmark refinement.

Paper Sec. 3.2-3.3. Reading order of :meth:`PTHHead.forward`::

    L^0 = f_init(v_M)                                     # Sec. 3.3
    for stage i = 1..K, reading memory v_{M-i+1}:         # Eq. 5
        E^i = aggregate(v_{M-i+1}, L^{i-1}, tau)          # Eq. 9-10
        E^{i+1} = g_LM(g_LL(E^i), v_{M-i+1})              # Eq. 6
        L^i = L^{i-1} + f_P^i(E^{i+1})                    # Eq. 7-8

and an L1 loss on every ``L^i``. Options that go beyond the paper (each
off by default) are in :mod:`.refinement_options`.
"""
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
from ..utils import (SinePositionalEncoding2D, aggregation_weights,
                     float32_region, grid_aggregation_weights,
                     grid_axis_centers, pixel_centers)
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

    Input: the memories ``(v_1, ..., v_M)`` of
    :class:`~repformer_mmpose.models.CrossScaleNeck`, low to high level.

    Switches for the paper's ablations (Table 2, Table 3):

    ========================  ===========  ========
    Table 2 row               use_pyramid  use_dlr
    ========================  ===========  ========
    baseline                  False        False
    + PTH                     True         False
    + DLR                     False        True
    full RePFormer            True         True
    ========================  ===========  ========

    - ``use_pyramid``: stage ``i`` reads ``v_{M-i+1}`` (Eq. 5); otherwise
      every stage reads the top memory ``v_M``, as the baseline reads only
      the backbone's last stage.
    - ``use_dlr``: ``L^0`` from ``v_M``, aggregated queries (Eq. 9-10) and
      residual predictors (Eq. 7-8). Otherwise the queries of stage 1 are
      learned embeddings, fixed after training, each stage's output query
      feeds the next, and each stage predicts absolute coordinates
      (through a sigmoid) with its own landmark-agnostic FFN.
    - ``tau``: the temperature of Eq. 10 (Table 3: 10, 100, 1000, 10000).

    Choices where the paper is silent, and the options beyond it (each
    off by default, so the defaults are the paper's model), are described
    in docs/head_options.md, with the measured reason for each.

    Speed: every equation has a reference implementation, as written in
    the paper, and a fast one with the same maths and parameters (fused
    attention, Eq. 10 factorised per axis); ``set_fast_path(model,
    False)`` selects the reference one. Under ``torch.autocast`` the
    landmark path (Eq. 7-8, Eq. 10's weights, the losses) stays float32.

    Args:
        num_keypoints (int): ``N``.
        embed_dims (int): ``d_model``; must equal the neck's.
        num_stages (int): ``K``.
        num_heads (int): Attention heads.
        ffn_dims (int): Hidden channels of each stage's FFN.
        predictor_dims (int): Hidden channels of the coordinate predictors.
        predictor_activation (str): Their activation: ``'relu'`` (default)
            or ``'gelu'`` (beyond the paper; docs/head_options.md).
        dropout (float): Dropout in the stages' FFNs and residual branches.
        attn_dropout (float, optional): Dropout on their attention
            weights; ``dropout`` if None (the paper's recipe).
        tau (float | Sequence[float]): Temperature of Eq. 10, or one per
            stage.
        use_pyramid (bool): See above.
        use_dlr (bool): See above.
        query_update (str): ``'replace'`` or ``'add'``.
        initial_predictor (str): ``'flatten'`` or ``'pool'``.
        initial_memory_size (tuple[int, int]): ``(H, W)`` of ``v_M``
            (input size / 32 for a ResNet).
        detach_landmarks (bool): See docs/head_options.md.
        encode_landmark_positions (bool): See docs/head_options.md.
        aggregation_sigma_cells (float | Sequence[float], optional):
            Replaces ``tau`` (docs/head_options.md).
        subcell_offset (bool): See docs/head_options.md.
        landmark_identity_in_query (bool): See docs/head_options.md.
        landmark_pos_encoding (str): ``'sine'``, ``'sharp'`` or
            ``'learned'``.
        landmark_pos_min_period (float): Shortest period of the sharp and
            learned encodings, a fraction of the image side.
        residual_stop_gradient (bool): See docs/head_options.md.
        landmark_noise_std (float | Sequence[float]): See
            docs/head_options.md; 0 (off) by default.
        uncertainty (dict, optional): Per-landmark uncertainty (not in the
            paper): the arguments of :class:`LandmarkUncertainty` (e.g.
            ``dict(distribution='laplace', norm_indices=(36, 45))``). Each
            stage then also predicts a scale of every point's error,
            trained by its negative log-likelihood on detached
            coordinates (and queries, unless ``query_gradient``);
            ``predict()`` fills ``keypoint_scores`` with a calibrated
            confidence and adds ``keypoint_scales`` (image pixels), and
            with ``occlusion_weight`` also ``keypoint_visibility``. Needs
            DLR.
        loss (dict): Per-stage loss; L1 as in the paper.
        stage_loss_weights (Sequence[float], optional): One weight per
            supervised output (``L^0..L^K`` with DLR, ``L^1..L^K``
            without); all 1 by default, as in the paper.
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

    # ------------------------------------------------------------------
    # forward: the paper's equations
    # ------------------------------------------------------------------
    def stage_memory(self, memories: Sequence[Tensor], stage: int) -> Tensor:
        """The memory stage ``stage`` (0-based) reads: ``v_{M-stage}``.

        Every memory must be read (a memory nobody reads is wasted work and
        leaves parameters without gradient, which breaks DDP): the neck
        gives ``num_stages`` memories with the pyramid, one without.
        """
        expected = self.num_stages if self.use_pyramid else 1
        if len(memories) != expected:
            raise ValueError(
                f'{"pyramid" if self.use_pyramid else "single-memory"} '
                f'PTH with {self.num_stages} stages reads {expected} '
                f'memories, the neck gives {len(memories)}: set '
                f'neck.in_indices to {expected} level(s)')
        return memories[-1 - stage] if self.use_pyramid else memories[-1]

    def flatten_memory(self, memory_map: Tensor) -> tuple[Tensor, Tensor]:
        """``(B, C, H, W)`` -> memory ``(B, HW, C)`` and its sine encodings
        ``(HW, C)``. A channels-last map (as the neck's fast path gives)
        flattens without a copy."""
        height, width = memory_map.shape[-2:]
        return (memory_map.flatten(2).transpose(1, 2),
                self.positional_encoding(height, width, memory_map.device,
                                         memory_map.dtype))

    def stage_temperature(self, stage: int,
                          size: Sequence[int]) -> Temperature:
        """Eq. 10's tau for stage ``stage`` (0-based) on a memory of
        ``size`` (H, W): the configured one, or ``(tau_x, tau_y)`` from
        ``aggregation_sigma_cells``."""
        if self.aggregation_sigma_cells is not None:
            return sigma_cells_to_tau(self.aggregation_sigma_cells[stage],
                                      size)
        return self.taus[stage]

    def aggregate(self, memory: Tensor, landmarks: Tensor,
                  size: tuple[int, int], tau: Temperature) -> Tensor:
        """Eq. 9-10: the queries ``(B, N, C)`` of ``landmarks`` ``(B, N,
        2)`` from a flattened ``(B, H * W, C)`` memory of ``size`` (H, W)
        with temperature ``tau``.

        Reference path: the equations as written (distances to every pixel
        centre ``c_k``). Fast path: the same weights factorised per axis
        (see :func:`grid_aggregation_weights`). Either way one batched
        matmul; the weights are float32 under autocast.
        """
        height, width = size
        device, dtype = landmarks.device, landmarks.dtype
        with float32_region(landmarks):  # Eq. 10
            if self.fast:
                weights = grid_aggregation_weights(
                    landmarks, *grid_axis_centers(height, width, device,
                                                  dtype), tau)
            else:
                weights = aggregation_weights(
                    landmarks, pixel_centers(height, width, device, dtype),
                    tau)
        return weights.to(memory.dtype) @ memory  # Eq. 9

    def forward(self, memories: Sequence[Tensor]) -> list[Tensor]:
        """Landmark sets of every stage.

        Args:
            memories (Sequence[Tensor]): ``(v_1, ..., v_M)``, each
                ``(B, C, H_i, W_i)``.

        Returns:
            list[Tensor]: ``[L^0, L^1, ..., L^K]`` (``[L^1..L^K]`` without
            DLR), each ``(B, N, 2)`` in normalised coordinates.
        """
        return self.forward_with_queries(memories)[0]

    def forward_with_queries(self, memories: Sequence[Tensor]
                             ) -> tuple[list[Tensor], list[Tensor]]:
        """:meth:`forward`, and every stage's output queries ``E^{i+1}``."""
        if not self.use_dlr:
            return self.forward_learned_queries(memories)
        landmarks = self.initial_predictor(memories[-1])  # L^0
        landmark_sets, stage_queries = [landmarks], []
        queries = None
        for index in range(self.num_stages):
            queries, landmarks = self.refinement_stage(
                index, self.stage_memory(memories, index), landmarks,
                queries)
            landmark_sets.append(landmarks)
            stage_queries.append(queries)
        return landmark_sets, stage_queries

    def refinement_stage(self,
                         index: int,
                         memory_map: Tensor,
                         landmarks: Tensor,
                         queries: Tensor | None,
                         residual_base: Tensor | None = None
                         ) -> tuple[Tensor, Tensor]:
        """Stage ``index + 1`` with DLR: ``E^i`` from ``L^{i-1}`` (Eq. 9-10),
        the PTH stage (Eq. 6), ``L^i`` (Eq. 7-8).

        Args:
            index (int): 0-based stage.
            memory_map (Tensor): Its memory ``(B, C, H, W)``.
            landmarks (Tensor): ``L^{i-1}`` ``(B, N, 2)``, where the
                queries are aggregated.
            queries (Tensor | None): The previous stage's output queries
                (``None`` for the first stage).
            residual_base (Tensor, optional): The ``L^{i-1}`` Eq. 8 adds
                the residual to; ``landmarks`` by default. The refinement
                diagnostic passes a separate copy to split the gradient.

        Returns:
            tuple[Tensor, Tensor]: ``E^{i+1}`` and ``L^i``.
        """
        size = memory_map.shape[-2:]
        memory, memory_pos = self.flatten_memory(memory_map)
        if self.training and self.landmark_noise_std[index] > 0:
            landmarks, residual_base = perturb_landmarks(
                self.landmark_noise_std[index], landmarks, residual_base)
        anchors = landmarks.detach() if self.detach_landmarks else landmarks
        tau = self.stage_temperature(index, size)
        aggregated = self.aggregate(memory, anchors, size, tau)  # Eq. 9-10
        if self.landmark_identity is not None:
            aggregated = aggregated + self.landmark_identity.weight
        if self.subcell_offsets is not None:
            xs, ys = grid_axis_centers(*size, anchors.device, anchors.dtype)
            aggregated = aggregated + self.subcell_offsets[index](
                anchors, xs, ys, tau)
        queries = aggregated if queries is None or \
            self.query_update == 'replace' else queries + aggregated
        queries = self.stages[index](  # Eq. 6
            queries, self.query_position(anchors), memory, memory_pos)
        base = landmarks if residual_base is None else residual_base
        if self.residual_stop_gradient:
            base = base.detach()
        return queries, refine(  # Eq. 7-8
            base, self.coordinate_predictors[index](queries))

    def query_position(self, landmarks: Tensor) -> Tensor:
        """The positional term of the landmark queries: the learned
        per-landmark embedding, plus the encoding of ``landmarks`` if
        ``encode_landmark_positions``."""
        landmark_pos = self.landmark_embed.weight
        if self.encode_landmark_positions:
            landmark_pos = landmark_pos + self.landmark_position_encoding(
                landmarks)
        return landmark_pos

    def forward_learned_queries(self, memories: Sequence[Tensor]
                                ) -> tuple[list[Tensor], list[Tensor]]:
        """Without DLR (Table 2's first two rows): DETR-style learned
        queries, each stage's output feeds the next, absolute coordinates
        per stage."""
        landmark_pos = self.landmark_embed.weight
        queries = landmark_pos.expand(memories[-1].shape[0], -1, -1)
        landmark_sets, stage_queries = [], []
        for index, (stage, predictor) in enumerate(
                zip(self.stages, self.coordinate_predictors)):
            memory, memory_pos = self.flatten_memory(
                self.stage_memory(memories, index))
            queries = stage(queries, landmark_pos, memory, memory_pos)
            landmark_sets.append(predictor(queries).sigmoid())
            stage_queries.append(queries)
        return landmark_sets, stage_queries

    # ------------------------------------------------------------------
    # MMPose interface
    # ------------------------------------------------------------------
    def loss(self,
             feats: Sequence[Tensor],
             batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> dict:
        """L1 loss on every stage's landmarks (Sec. 3.3, 4.1), and the
        uncertainty branch's NLL where it is on."""
        landmark_sets, stage_queries = self.forward_with_queries(feats)
        labels = torch.cat([
            d.gt_instance_labels.keypoint_labels for d in batch_data_samples
        ])
        if labels.shape[1] != self.num_keypoints:
            # else L1 broadcasting fails far from the cause, or not at all
            raise ValueError(
                f'PTHHead has num_keypoints={self.num_keypoints}, but the '
                f'data samples carry {labels.shape[1]} keypoints: set '
                'model.head.num_keypoints to the data set\'s point count')
        weights = torch.cat([
            d.gt_instance_labels.keypoint_weights for d in batch_data_samples
        ]).unsqueeze(-1)

        first_stage = 0 if self.use_dlr else 1
        losses = {
            f'loss_stage{first_stage + index}':
            self.loss_module(landmarks, labels, weights) * weight
            for index, (landmarks, weight) in enumerate(
                zip(landmark_sets, self.stage_loss_weights))
        }
        if self.uncertainty is not None:
            losses.update(self.uncertainty.losses(
                landmark_sets[1:], stage_queries, labels, weights[..., 0],
                occlusion_labels(batch_data_samples, self.num_keypoints)))
        _, accuracy, _ = keypoint_pck_accuracy(
            pred=to_numpy(landmark_sets[-1].float()),  # numpy has no bf16
            gt=to_numpy(labels),
            mask=to_numpy(weights[..., 0]) > 0,
            thr=0.05,
            norm_factor=np.ones((labels.shape[0], 2), dtype=np.float32))
        losses['acc_pose'] = labels.new_tensor(accuracy)
        return losses

    def predict(self,
                feats,
                batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> list[InstanceData]:
        """Last stage's landmarks, decoded to input space.

        The estimator maps ``keypoints`` to image space. With
        ``test_cfg.flip_test`` (MMPose's flip TTA) ``feats`` is
        ``[feats, feats_of_flipped_input]`` and the two are averaged; the
        codec's flip is exact, so ``shift_coords`` is not needed. With
        ``test_cfg.output_stages=True`` each instance also gets
        ``stage_keypoints`` ``(1, S, N, 2)``: every stage's landmarks, in
        image space. With the uncertainty branch, ``keypoint_scores`` is
        the confidence of each point and ``keypoint_scales`` its error
        scale in image pixels (see :class:`LandmarkUncertainty`); without
        it every score is 1.
        """
        flipped_queries = flip_indices = None
        if test_cfg.get('flip_test', False):
            feats, feats_flipped = feats
            flip_indices = batch_data_samples[0].metainfo['flip_indices']
            landmark_sets, stage_queries = self.forward_with_queries(feats)
            flipped_sets, flipped_queries = self.forward_with_queries(
                feats_flipped)
            landmark_sets = [
                (landmarks + self.decoder.flip(flipped, flip_indices)) / 2
                for landmarks, flipped in zip(landmark_sets, flipped_sets)
            ]
        else:
            landmark_sets, stage_queries = self.forward_with_queries(feats)
        # bf16 (autocast) outputs: the decoder works in numpy, which has no
        # bf16
        landmark_sets = [landmarks.float() for landmarks in landmark_sets]

        preds = self.decode(landmark_sets[-1].unsqueeze(1))
        if test_cfg.get('output_stages', False):
            stages = self.decoder.denormalize(torch.stack(landmark_sets, 1))
            for pred, stage_keypoints, data_sample in zip(
                    preds, to_numpy(stages), batch_data_samples):
                pred.stage_keypoints = input_to_image_space(
                    stage_keypoints, data_sample.metainfo)[None]
        if self.uncertainty is not None:
            scales = self.uncertainty.last_stage_scales(
                stage_queries, flipped_queries, flip_indices)
            visibility = self.uncertainty.last_stage_visibility(
                stage_queries, flipped_queries, flip_indices)
            self.uncertainty.annotate(preds, landmark_sets[-1], scales,
                                      batch_data_samples, visibility)
        return preds


def input_to_image_space(keypoints: np.ndarray, metainfo: dict) -> np.ndarray:
    """Map input-space keypoints back to the original image.

    The inverse of MMPose's ``TopdownAffine`` without rotation, the same
    formula as ``TopdownPoseEstimator.add_pred_to_datasample``.
    """
    input_size = np.asarray(metainfo['input_size'], dtype=np.float32)
    scale = np.asarray(metainfo['input_scale'], dtype=np.float32)
    center = np.asarray(metainfo['input_center'], dtype=np.float32)
    return keypoints / input_size * scale + center - 0.5 * scale


def _per_stage(name: str, value: PerStage, num_stages: int,
               allow_zero: bool = False) -> list[float]:
    """One positive (or, ``allow_zero``, non-negative), finite value per
    stage, from one value or a sequence."""
    values = [value] * num_stages if isinstance(value, (int, float)) \
        else list(value)
    if len(values) != num_stages:
        raise ValueError(f'{name} needs 1 or {num_stages} values (one per '
                         f'stage), got {len(values)}')
    for item in values:
        if not (isinstance(item, (int, float)) and math.isfinite(item)
                and (item > 0 or allow_zero and item == 0)):
            kind = 'non-negative' if allow_zero else 'positive'
            raise ValueError(f'{name} must be {kind} and finite, got '
                             f'{value}')
    return [float(item) for item in values]
