"""Export :class:`LandmarkModel` to ONNX and check it with onnxruntime.

The graph: ``images`` ``(N, 3, H, W)`` float32 face crops (BGR, 0-255, as
MMPose's ``TopdownAffine`` gives them; normalisation is inside) ->
``landmarks`` ``(N, K, 2)`` float32 in input pixels (last stage), and, for a
head with the uncertainty branch, ``scores`` ``(N, K)`` (confidence) and
``scales`` ``(N, K)`` (error scale, input pixels). ``N`` is dynamic;
``H, W`` are the config's input size.

Exporter: torch's TorchScript-based exporter (``dynamo=False``) by
default: it exports RePFormer at opset 17 in about a second. torch's
dynamo exporter (``dynamo=True``) works too, from opset 18 (at opset 17
its down-conversion wrote a ``Split`` node onnxruntime rejects, torch
2.14 / onnxscript 0.7) and takes tens of seconds.
"""
from __future__ import annotations

import os
import os.path as osp
import warnings

import numpy as np
import torch

from .landmark_model import LandmarkModel

INPUT_NAME = 'images'
MIN_OPSET = 17


def export_onnx(model: LandmarkModel,
                out_file: str,
                opset: int = MIN_OPSET,
                batch_size: int = 2,
                dynamo: bool = False) -> str:
    """Write ``model`` as ONNX with a dynamic batch axis.

    Args:
        model (LandmarkModel): The module to export (put in eval mode).
        out_file (str): The ``.onnx`` file to write.
        opset (int): ONNX opset, at least 17 (18 with ``dynamo``).
        batch_size (int): Batch of the example input that is traced.
        dynamo (bool): Use torch's dynamo-based exporter.

    Returns:
        str: ``out_file``.
    """
    if opset < MIN_OPSET or (dynamo and opset < 18):
        raise ValueError(f'opset must be >= {18 if dynamo else MIN_OPSET}, '
                         f'got {opset}')
    model.eval()
    width, height = model.input_size
    example = torch.rand(batch_size, 3, height, width) * 255
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    if dynamo:
        batch = torch.export.Dim('batch', min=1, max=4096)
        kwargs = dict(dynamic_shapes={INPUT_NAME: {0: batch}},
                      external_data=False)
    else:
        kwargs = dict(dynamic_axes={
            name: {0: 'batch'}
            for name in (INPUT_NAME, *model.output_names)})
    with torch.no_grad():
        # fills the size-keyed caches of positional encodings and pixel
        # centres with real tensors; a first call under torch.export would
        # cache its fake tensors, and break later eager calls
        model(example)
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer warns about Python-level shape checks (e.g. the
        # initial predictor's memory size); they hold for a fixed H, W
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        torch.onnx.export(
            model, (example, ), out_file,
            input_names=[INPUT_NAME],
            output_names=list(model.output_names),
            opset_version=opset,
            dynamo=dynamo,
            **kwargs)
    return out_file


def onnxruntime_session(onnx_file: str, threads: int | None = None):
    """A CPU onnxruntime session (``threads`` intra-op threads; one
    inter-op thread)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(onnx_file, options,
                                providers=['CPUExecutionProvider'])


def check_onnx_parity(model: LandmarkModel,
                      onnx_file: str,
                      batch_sizes: tuple[int, ...] = (1, 3),
                      atol: float = 1e-4,
                      seed: int = 0) -> float:
    """Largest ``|onnxruntime - PyTorch|`` over random crops of each batch
    size and every output (landmarks and scales in input pixels, scores).

    Raises:
        AssertionError: if it exceeds ``atol`` or a shape differs.
    """
    session = onnxruntime_session(onnx_file)
    generator = torch.Generator().manual_seed(seed)
    width, height = model.input_size
    worst = 0.
    model.eval()
    for batch in batch_sizes:
        images = torch.rand(batch, 3, height, width,
                            generator=generator) * 255
        with torch.no_grad():
            expected = model(images)
        if not isinstance(expected, tuple):
            expected = (expected, )
        outputs = session.run(list(model.output_names),
                              {INPUT_NAME: images.numpy()})
        for name, got, want in zip(model.output_names, outputs, expected):
            want = want.numpy()
            if got.shape != want.shape:
                raise AssertionError(
                    f'{onnx_file}: batch {batch} gives {name} {got.shape}, '
                    f'PyTorch {want.shape}')
            error = float(np.abs(got - want).max())
            if not error <= atol:
                raise AssertionError(
                    f'{onnx_file}: batch {batch}: {name} differs from '
                    f'PyTorch by {error:.3g} (> {atol:g})')
            worst = max(worst, error)
    return worst
