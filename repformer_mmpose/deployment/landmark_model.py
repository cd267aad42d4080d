"""RePFormer as one tensor-in, tensor-out module, for export and timing."""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn


class LandmarkModel(nn.Module):
    """Backbone + neck + head of a top-down RePFormer, as one function.

    ``forward(images)`` maps face crops ``(N, 3, H, W)`` (what MMPose's
    ``TopdownAffine`` gives: float pixel values 0-255, channels in the
    order the pipeline loads them, BGR for ``LoadImage``) to the last
    stage's landmarks ``(N, K, 2)`` in input pixel space, the space
    :class:`~repformer_mmpose.codecs.DLRLabel` decodes to (pixel centres
    at integers). Set ``normalize=False`` to feed tensors that are
    already normalised (and channel-swapped) as the model's data
    preprocessor does.

    The maths is the estimator's own, except that the codec's
    ``denormalize`` is written as one multiply-add (``u * size - 0.5``)
    and the preprocessor's BGR->RGB swap as a gather, so the module
    traces and exports without in-place slice writes. No flip test: the
    paper reports none and the configs switch it off.

    With the head's uncertainty branch (``PTHHead(uncertainty=...)``) the
    module returns three tensors, named in :attr:`output_names`: the
    landmarks, their confidence ``(N, K)`` (``keypoint_scores`` of
    ``predict()``) and their error scales ``(N, K)`` in input pixels.

    Args:
        estimator (nn.Module): A ``TopdownPoseEstimator`` with a
            :class:`~repformer_mmpose.models.PTHHead` whose ``decoder`` is
            set (our configs set it).
        normalize (bool): Include the data preprocessor's channel swap and
            mean/std normalisation. Defaults to True.
    """

    def __init__(self, estimator: nn.Module, normalize: bool = True) -> None:
        super().__init__()
        head = estimator.head
        decoder = getattr(head, 'decoder', None)
        if decoder is None or not hasattr(decoder, 'input_size'):
            raise ValueError(
                f'{type(head).__name__} has no DLRLabel decoder: set '
                'model.head.decoder in the config (our configs do)')
        if (estimator.test_cfg or {}).get('flip_test', False):
            warnings.warn('model.test_cfg.flip_test is on; the exported '
                          'module predicts without the flip test',
                          stacklevel=2)
        self.estimator = estimator
        width, height = decoder.input_size
        self.input_size = (width, height)
        self.num_keypoints = head.num_keypoints
        self.uncertainty = getattr(head, 'uncertainty', None)
        self.output_names = ('landmarks', ) if self.uncertainty is None \
            else ('landmarks', 'scores', 'scales')
        self.register_buffer(
            'pixel_scale', torch.tensor([width, height], dtype=torch.float32),
            persistent=False)
        self.normalize = normalize
        preprocessor = estimator.data_preprocessor
        self.swap_channels = normalize and bool(
            getattr(preprocessor, '_channel_conversion', False))
        self.scale_values = normalize and bool(
            getattr(preprocessor, '_enable_normalize', False))
        self.register_buffer('channel_order', torch.tensor([2, 1, 0]),
                             persistent=False)
        if self.scale_values:
            self.register_buffer('pixel_mean', preprocessor.mean.clone(),
                                 persistent=False)
            self.register_buffer('pixel_std', preprocessor.std.clone(),
                                 persistent=False)

    def forward(self, images: Tensor) -> Tensor | tuple[Tensor, ...]:
        """``(N, 3, H, W)`` crops -> ``(N, K, 2)`` input-space landmarks
        (and, with the uncertainty branch, scores and scales)."""
        if self.swap_channels:
            images = images.index_select(1, self.channel_order)
        if self.scale_values:
            images = (images - self.pixel_mean) / self.pixel_std
        features = self.estimator.extract_feat(images)
        landmark_sets, stage_queries = \
            self.estimator.head.forward_with_queries(features)
        normalized = landmark_sets[-1]  # L^K
        landmarks = normalized * self.pixel_scale - 0.5  # denormalize
        if self.uncertainty is None:
            return landmarks
        scales = self.uncertainty.last_stage_scales(stage_queries)
        scores = self.uncertainty.confidence(
            normalized, scales,
            self.uncertainty.last_stage_visibility(stage_queries))
        return landmarks, scores, scales * self.pixel_scale.mean()
