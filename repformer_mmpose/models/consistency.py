"""Sizes and channels that RePFormer's separately configured parts share.

The neck, the head, the codec and the data pipelines are configured apart,
and a disagreement does not fail where it is made:

- ``model.neck.embed_dims`` != ``model.head.embed_dims`` fails in the
  head's first layer as torch's "mat1 and mat2 shapes cannot be
  multiplied";
- an input size that is not a multiple of the backbone's total stride (32)
  trains silently: the backbone rounds its levels up (100 px: 13, 7 and 4
  cells), so cells no longer tile the image as Eq. 10's centres
  ``(j + 0.5) / w'`` assume;
- a pipeline whose ``input_size`` differs from the codec's normalises the
  labels (and maps predictions back) with the wrong size, silently.

:func:`check_model` (a built model) and :func:`check_pipelines` (its
config) raise :class:`ModelConfigError`, one line naming the config keys
and their values. ``ModelConsistencyHook`` runs both when any Runner starts
(our tools and MMPose's), :func:`repformer_mmpose.apis.init_face_model`
after building, and :class:`~repformer_mmpose.models.CrossScaleNeck`
refuses backbone levels that do not form an exact pyramid.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from torch import nn

from .heads import PTHHead
from .necks import CrossScaleNeck

#: Total stride of the deepest level of every backbone RePFormer uses
#: (ResNet, HRNet, CSPNeXt, MobileNetV2, ConvNeXt).
BACKBONE_STRIDE = 32
DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


class ModelConfigError(ValueError):
    """Parts of a RePFormer config disagree on a size or channel count."""


def _size(value: Any) -> tuple[int, ...] | None:
    try:
        return tuple(int(v) for v in value)
    except (TypeError, ValueError):
        return None


def _shown(value: Any) -> Any:
    """A config value as the message shows it (lists as tuples)."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def check_input_size(input_size: Sequence[int], key: str) -> None:
    """Raise unless ``input_size`` ``(w, h)`` is a multiple of
    :data:`BACKBONE_STRIDE` on both axes."""
    size = _size(input_size)
    if size is None or len(size) != 2 or any(
            side <= 0 or side % BACKBONE_STRIDE for side in size):
        raise ModelConfigError(
            f'{key} = {_shown(input_size)}: the input size must be a '
            f"multiple of the backbone's total stride ({BACKBONE_STRIDE}) "
            'on both axes, e.g. '
            f'{_rounded(size)}; set it and every pipeline input_size '
            '(TopdownAffine, RandomShiftRotate, the codec) to one')


def _rounded(size: tuple[int, ...] | None) -> tuple[int, ...]:
    if not size:
        return (256, 256)
    return tuple(
        max(BACKBONE_STRIDE,
            BACKBONE_STRIDE * round(side / BACKBONE_STRIDE))
        for side in size)


def check_model(model: nn.Module) -> None:
    """Check a built top-down model whose head is a :class:`PTHHead`
    (other models pass unchecked).

    Raises:
        ModelConfigError: if the neck's and the head's ``embed_dims``
            differ, or the head's codec input size is not a multiple of
            :data:`BACKBONE_STRIDE`.
    """
    head = getattr(model, 'head', None)
    if not isinstance(head, PTHHead):
        return
    neck = getattr(model, 'neck', None)
    head_dims = head.landmark_embed.embedding_dim
    if isinstance(neck, CrossScaleNeck) and neck.embed_dims != head_dims:
        raise ModelConfigError(
            f'model.neck.embed_dims = {neck.embed_dims} but '
            f'model.head.embed_dims = {head_dims}: the head reads the '
            "neck's memories, so both must be the same d_model")
    if head.decoder is not None:
        check_input_size(head.decoder.input_size,
                         'model.head.decoder.input_size')


def _pipeline_sizes(node: Any, key: str) -> Iterator[tuple[str, Any]]:
    """``(config key, value)`` of every ``input_size`` in the pipelines
    under ``node`` (transforms, and codecs of ``GenerateTarget``)."""
    if isinstance(node, Mapping):
        for name, value in node.items():
            path = f'{key}.{name}'
            if name == 'input_size' and 'pipeline' in key:
                yield path, value
            else:
                yield from _pipeline_sizes(value, path)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from _pipeline_sizes(value, f'{key}[{index}]')


def check_pipelines(cfg: Mapping, model: nn.Module,
                    dataloaders: Sequence[str] = DATALOADERS) -> None:
    """Every ``input_size`` in the pipelines of ``dataloaders`` must equal
    the head's codec input size (a :class:`PTHHead` model; others pass).

    Args:
        cfg: The config (``Config`` or dict) the model was built from.
        model: The built model.
        dataloaders: The config keys of the data loaders that will run.

    Raises:
        ModelConfigError: naming the first differing key, e.g.
            ``test_dataloader.dataset.pipeline[2].input_size``.
    """
    head = getattr(model, 'head', None)
    if not isinstance(head, PTHHead) or head.decoder is None:
        return
    expected = _size(head.decoder.input_size)
    for loader in dataloaders:
        for key, value in _pipeline_sizes(cfg.get(loader), loader):
            if _size(value) != expected:
                raise ModelConfigError(
                    f'{key} = {_shown(value)} but '
                    f'model.head.decoder.input_size = {expected}: the '
                    'pipeline, the codec and the head must use one input '
                    'size (else labels and predictions are scaled with '
                    'the wrong one)')
