"""Coordinate predictors of dynamic landmark refinement (Sec. 3.3)."""
from __future__ import annotations

from torch import Tensor, nn

from ..utils.precision import float32_forward


class InitialLandmarkPredictor(nn.Module):
    """Predicts the initial landmark set ``L^0`` from the top memory ``v_M``.

    The paper only says ``L^0`` "is predicted based on the highest-level
    memory". Two choices, selected by ``mode``:

    - ``'flatten'`` (default): a linear layer on the flattened memory, so
      the prediction keeps the memory's spatial layout (a DeepPose-style
      regressor on an 8x8 map at 256x256 input);
    - ``'pool'``: global average pooling, then a linear layer, as MMPose's
      ``RegressionHead``.

    A sigmoid keeps ``L^0`` inside the image; the output bias starts at 0,
    so before training every landmark sits at the image centre.

    Args:
        embed_dims (int): Channels of ``v_M``.
        num_keypoints (int): ``N``.
        mode (str): ``'flatten'`` or ``'pool'``.
        memory_size (tuple[int, int]): ``(H, W)`` of ``v_M``; needed for
            ``'flatten'`` (8x8 for a stride-32 map of a 256x256 input).
    """

    def __init__(self, embed_dims: int, num_keypoints: int,
                 mode: str = 'flatten',
                 memory_size: tuple[int, int] = (8, 8)) -> None:
        super().__init__()
        if mode not in ('flatten', 'pool'):
            raise ValueError(f"mode must be 'flatten' or 'pool', got {mode!r}")
        self.mode = mode
        self.num_keypoints = num_keypoints
        self.memory_size = tuple(memory_size)
        in_features = embed_dims * (
            self.memory_size[0] * self.memory_size[1]
            if mode == 'flatten' else 1)
        self.fc = nn.Linear(in_features, num_keypoints * 2)
        nn.init.normal_(self.fc.weight, std=0.001)
        nn.init.zeros_(self.fc.bias)

    @float32_forward
    def forward(self, top_memory: Tensor) -> Tensor:
        """``(B, C, H, W)`` memory -> ``(B, N, 2)`` normalised ``L^0``
        (float32 under autocast: a coordinate needs more than bf16's 8
        mantissa bits)."""
        if self.mode == 'pool':
            features = top_memory.mean(dim=(2, 3))
        else:
            if tuple(top_memory.shape[-2:]) != self.memory_size:
                raise ValueError(
                    f'top memory is {tuple(top_memory.shape[-2:])}, but the '
                    f'initial predictor was built for {self.memory_size}; '
                    'set head.initial_memory_size to input_size / stride')
            features = top_memory.flatten(1)
        return self.fc(features).view(-1, self.num_keypoints, 2).sigmoid()


PREDICTOR_ACTIVATIONS = {'relu': nn.ReLU, 'gelu': nn.GELU}


class CoordinatePredictor(nn.Module):
    """Two-layer FFN shared by all landmarks of a stage (Eq. 7).

    ``u_j^i = f_P^i(e_j^i)``: it sees one landmark query at a time, so it is
    agnostic to which landmark it serves. Used for DLR's residuals
    (``small_init=True``: every stage starts close to the identity
    refinement, yet gradients reach the stage from the first step) and for
    the absolute coordinates of the no-DLR ablation.

    Args:
        embed_dims (int): Query channels.
        hidden_dims (int): Hidden channels.
        small_init (bool): Initialise the output layer with std 1e-3 and
            zero bias.
        activation (str): ``'relu'`` (DETR's FFN; the paper names none) or
            ``'gelu'`` (beyond the paper: ReLU predictors can die in
            training, docs/head_options.md).
    """

    def __init__(self, embed_dims: int, hidden_dims: int,
                 small_init: bool = True, activation: str = 'relu') -> None:
        super().__init__()
        if activation not in PREDICTOR_ACTIVATIONS:
            raise ValueError(
                f'activation must be one of {sorted(PREDICTOR_ACTIVATIONS)}, '
                f'got {activation!r}')
        self.layers = nn.Sequential(
            nn.Linear(embed_dims, hidden_dims),
            PREDICTOR_ACTIVATIONS[activation](), nn.Linear(hidden_dims, 2))
        if small_init:
            nn.init.normal_(self.layers[-1].weight, std=1e-3)
            nn.init.zeros_(self.layers[-1].bias)

    @float32_forward
    def forward(self, landmark_queries: Tensor) -> Tensor:
        """``(B, N, C)`` -> ``(B, N, 2)``, float32 under autocast."""
        return self.layers(landmark_queries)


def refine(landmarks: Tensor, residuals: Tensor) -> Tensor:
    """Eq. 8: ``L^i = L^{i-1} + U^i``."""
    return landmarks + residuals


__all__ = [
    'InitialLandmarkPredictor', 'CoordinatePredictor', 'refine'
]
