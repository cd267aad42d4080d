"""Does every refinement stage refine? The statistics of
``tools/analysis/refinement.py``.

For each DLR stage ``i`` (reading memory ``v_{M-i+1}``), over a test set:

- NME of the stage's input ``L^{i-1}`` and output ``L^i``, and the share of
  faces whose NME the stage lowers;
- the effective number of memory cells in the Eq. 10 weights,
  ``1 / sum_k s_jk^2`` (1: one cell; ``H * W``: uniform);
- the share of landmarks whose largest Eq. 10 weight falls on a cell that
  is also another landmark's largest (such landmarks aggregate nearly the
  same query);
- the gradient of the stage's loss w.r.t. ``L^{i-1}``, split into the part
  through the query (Eq. 9-10 and, where enabled, the landmark position
  encoding and the sub-cell offset) and the part through the residual sum
  of Eq. 8;
- the share of the residual predictor's hidden units (Eq. 7) whose
  pre-activation is positive for at least one landmark of the set: a ReLU
  unit that never is passes nothing and learns nothing (dead), and a
  predictor with no live unit outputs a constant residual.

NME here is computed in the network's input frame (the top-down crop),
normalised by the inter-ocular distance in that frame; the crop is a
uniform scaling of the image, so for unrotated crops it equals the image-
space NME of :class:`FaceLandmarkMetric`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ..models.utils import grid_aggregation_weights, grid_axis_centers
from .face_alignment import dataset_nme, face_nmes, point_errors


def effective_cells(weights: Tensor) -> Tensor:
    """``1 / sum_k s_k^2`` of Eq. 10 weights ``(..., HW)`` -> ``(...)``."""
    return 1. / weights.pow(2).sum(-1)


def shared_top_cell(weights: Tensor) -> Tensor:
    """``(B, N)`` True where a landmark's largest weight is on a cell that
    is the largest of another landmark of the same face; ``weights`` is
    ``(B, N, HW)``."""
    top = weights.argmax(-1)  # (B, N)
    same = top.unsqueeze(-1) == top.unsqueeze(-2)  # (B, N, N)
    return same.sum(-1) > 1


def live_units(head, index: int, queries: Tensor) -> Tensor:
    """``(hidden,)`` True where stage ``index``'s residual predictor has a
    positive pre-activation for at least one of ``queries`` ``(B, N, C)``
    (its input, the stage's output queries)."""
    first_layer = head.coordinate_predictors[index].layers[0]
    return (first_layer(queries) > 0).flatten(0, -2).any(0)


def normalised_to_input_nme(landmarks: Tensor, labels: Tensor,
                            visible: Tensor,
                            eyes: Sequence[int]) -> np.ndarray:
    """Point errors ``(B, N)`` of normalised ``landmarks`` against
    ``labels`` (both ``(B, N, 2)``), divided by the labels' inter-ocular
    distance (points ``eyes``); NaN where not ``visible``."""
    labels_np = labels.detach().double().cpu().numpy()
    norm = np.linalg.norm(labels_np[:, eyes[0]] - labels_np[:, eyes[1]],
                          axis=-1)
    return point_errors(landmarks.detach().double().cpu().numpy(),
                        labels_np, visible.cpu().numpy(), norm)


@dataclass
class StageStatistics:
    """Accumulated statistics of one stage over a data set."""

    index: int  # 1-based: L^index = stage output
    memory_size: tuple[int, int] = (0, 0)
    temperature: str = ''
    errors_in: list = field(default_factory=list)
    errors_out: list = field(default_factory=list)
    effective_cells: list = field(default_factory=list)
    shared: list = field(default_factory=list)
    grad_query: list = field(default_factory=list)
    grad_residual: list = field(default_factory=list)
    live: Tensor | None = None  # (hidden,) ever-positive predictor units

    def summary(self) -> dict:
        errors_in = np.concatenate(self.errors_in)
        errors_out = np.concatenate(self.errors_out)
        nme_in, nme_out = dataset_nme(errors_in), dataset_nme(errors_out)
        improved = face_nmes(errors_out) < face_nmes(errors_in)
        grad_query = float(np.mean(self.grad_query))
        grad_residual = float(np.mean(self.grad_residual))
        return dict(
            stage=self.index,
            memory='x'.join(map(str, self.memory_size)),
            temperature=self.temperature,
            nme_in=nme_in,
            nme_out=nme_out,
            ratio=nme_out / nme_in,
            faces_improved=float(improved.mean()),
            effective_cells=float(np.mean(np.concatenate(
                self.effective_cells))),
            shared_top_cell=float(np.mean(np.concatenate(self.shared))),
            grad_query=grad_query,
            grad_residual=grad_residual,
            grad_ratio=(grad_query / grad_residual
                        if grad_residual > 0 else float('inf')),
            live_units=float(self.live.float().mean()))


def stage_gradients(head, index: int, memory_map: Tensor, landmarks: Tensor,
                    queries: Tensor | None, labels: Tensor,
                    weights: Tensor) -> tuple[float, float]:
    """Per-face norms of the gradient of stage ``index``'s loss w.r.t.
    ``L^{i-1}``: ``(through the query, through Eq. 8's sum)``.

    The stage runs on two separate leaf copies of ``L^{i-1}``, one where
    the queries are aggregated and one that Eq. 8 adds to; the loss is the
    head's (L1, the stage's weight), summed over faces, so the norms do
    not depend on the batch size.
    """
    with torch.enable_grad():
        for_query = landmarks.detach().requires_grad_()
        for_residual = landmarks.detach().requires_grad_()
        _, output = head.refinement_stage(
            index, memory_map.detach(), for_query,
            None if queries is None else queries.detach(),
            residual_base=for_residual)
        loss = head.loss_module(output, labels, weights.unsqueeze(-1)) * \
            head.stage_loss_weights[index + 1] * labels.shape[0]
        grads = torch.autograd.grad(loss, [for_query, for_residual],
                                    allow_unused=True)
    norms = [0. if g is None else float(g.norm(dim=(1, 2)).mean())
             for g in grads]
    return norms[0], norms[1]


@torch.no_grad()
def accumulate_batch(head, memories: Sequence[Tensor], labels: Tensor,
                     weights: Tensor, eyes: Sequence[int],
                     stats: list[StageStatistics]) -> None:
    """Run the head stage by stage on one batch and add to ``stats``."""
    landmarks = head.initial_predictor(memories[-1])
    queries = None
    visible = weights > 0
    for index in range(head.num_stages):
        memory_map = head.stage_memory(memories, index)
        size = tuple(memory_map.shape[-2:])
        tau = head.stage_temperature(index, size)
        xs, ys = grid_axis_centers(*size, memory_map.device,
                                   memory_map.dtype)
        aggregation = grid_aggregation_weights(landmarks, xs, ys, tau)
        grad_query, grad_residual = stage_gradients(
            head, index, memory_map, landmarks, queries, labels, weights)
        new_queries, refined = head.refinement_stage(
            index, memory_map, landmarks, queries)
        entry = stats[index]
        entry.memory_size = size
        entry.temperature = _temperature_text(tau)
        entry.errors_in.append(
            normalised_to_input_nme(landmarks, labels, visible, eyes))
        entry.errors_out.append(
            normalised_to_input_nme(refined, labels, visible, eyes))
        entry.effective_cells.append(
            effective_cells(aggregation).flatten().cpu().numpy())
        entry.shared.append(
            shared_top_cell(aggregation).flatten().cpu().numpy())
        entry.grad_query.append(grad_query)
        entry.grad_residual.append(grad_residual)
        live = live_units(head, index, new_queries)
        entry.live = live if entry.live is None else entry.live | live
        landmarks, queries = refined, new_queries


def _temperature_text(tau) -> str:
    if isinstance(tau, (int, float)):
        return f'{tau:g}'
    return '/'.join(f'{t:.3g}' for t in tau)


TABLE_COLUMNS = (
    ('stage', 'stage'), ('memory', 'memory'), ('temperature', 'tau (x/y)'),
    ('nme_in', 'NME in (%)'), ('nme_out', 'NME out (%)'),
    ('ratio', 'out / in'), ('faces_improved', 'faces improved (%)'),
    ('effective_cells', 'effective cells'),
    ('shared_top_cell', 'shared top cell (%)'),
    ('grad_query', 'gradient via query'),
    ('grad_residual', 'gradient via Eq. 8'),
    ('grad_ratio', 'query / Eq. 8'),
    ('live_units', 'live predictor units (%)'))
PERCENT = ('nme_in', 'nme_out', 'faces_improved', 'shared_top_cell',
           'live_units')


def markdown_table(summaries: Sequence[dict]) -> str:
    """The per-stage table, one row per stage."""
    lines = ['| ' + ' | '.join(title for _, title in TABLE_COLUMNS) + ' |',
             '| ' + ' | '.join('---' if key in ('memory', 'temperature')
                               else '---:' for key, _ in TABLE_COLUMNS)
             + ' |']
    for summary in summaries:
        cells = []
        for key, _ in TABLE_COLUMNS:
            value = summary[key]
            if key == 'stage':
                cells.append(f'L^{value - 1} -> L^{value}')
            elif key in PERCENT:
                cells.append(f'{100 * value:.2f}')
            elif key in ('ratio', 'grad_ratio'):
                cells.append(f'{value:.3f}')
            elif isinstance(value, float):
                cells.append(f'{value:.3g}')
            else:
                cells.append(str(value))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
