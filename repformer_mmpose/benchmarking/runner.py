"""Every figure of every model, in one process: the models are built
together and their timings interleaved, so that all see the same machine
load; memory is measured one model at a time."""
from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from functools import partial

import torch

from ..engine.optim_wrappers import allow_bf16_to_numpy
from .models import MODEL_SPECS, build_model, make_data_samples
from .timing import count_flops, interleaved, peak_memory_mib


class ModelUnderTest:
    """One model: built, counted, on its device, with a training step."""

    def __init__(self, name: str, args: argparse.Namespace) -> None:
        torch.manual_seed(0)
        model, self.cfg = build_model(name, args.input_size,
                                      args.num_keypoints)
        self.result = dict(
            name=name,
            label=MODEL_SPECS[name].label,
            params=sum(p.numel() for p in model.parameters()))
        if args.flops:
            self.result['flops'], self.result['uncounted_ops'] = \
                count_flops(model, args.input_size)
        self.model = model.to(args.device, memory_format=args.memory_format)
        self.autocast = args.autocast
        self.optimizer = None

    def forward(self, inputs: torch.Tensor) -> object:
        return self.model._forward(inputs)

    def backbone(self, inputs: torch.Tensor) -> object:
        return self.model.backbone(inputs)

    def start_training(self, inputs: torch.Tensor,
                       args: argparse.Namespace) -> None:
        self.model.train()
        self.train_inputs = inputs
        self.samples = [
            sample.to(args.device) for sample in make_data_samples(
                self.cfg.head.decoder, inputs.shape[0], args.num_keypoints,
                args.input_size)
        ]
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-4)

    def train_step(self) -> None:
        """Forward, MMPose's loss, backward, Adam step."""
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            losses = self.model.loss(self.train_inputs, self.samples)
        loss, _ = self.model.parse_losses(losses)
        loss.backward()
        self.optimizer.step()

    def stop_training(self) -> None:
        # free this model's optimizer state, gradients and inputs
        self.optimizer = self.samples = self.train_inputs = None
        self.model.zero_grad(set_to_none=True)
        self.model.eval()


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(args: argparse.Namespace) -> list[dict]:
    """Every figure of every model of ``args.models``, in this process;
    timings interleaved across models. ``args``: the benchmark's parsed
    arguments (``models``, ``input_size``, ``num_keypoints``,
    ``batch_sizes``, ``train_batch_size``, ``warmup``, ``repeats``,
    ``threads``, ``device``, ``amp``, ``channels_last``, ``flops``)."""
    torch.set_num_threads(args.threads)
    args.memory_format = torch.channels_last if args.channels_last \
        else torch.contiguous_format
    args.autocast = (lambda: torch.autocast(
        args.device.split(':')[0], dtype=torch.bfloat16)) \
        if args.amp == 'bf16' else nullcontext
    models = []
    for name in args.models:
        _progress(f'building {name} ...')
        models.append(ModelUnderTest(name, args))
    if args.amp == 'bf16':
        allow_bf16_to_numpy()
    results = [model.result for model in models]

    def images(batch: int) -> torch.Tensor:
        return torch.randn(batch, 3, args.input_size, args.input_size,
                           device=args.device).contiguous(
                               memory_format=args.memory_format)

    for model in models:
        model.model.eval()
    with torch.inference_mode(), args.autocast():
        for batch in args.batch_sizes[:-1]:
            _progress(f'inference, batch {batch} ...')
            inputs = images(batch)
            times = interleaved([partial(m.forward, inputs) for m in models],
                                args.warmup, args.repeats)
            for result, model_times in zip(results, times):
                result.setdefault('infer', {})[batch] = model_times
        # the largest batch: whole forward and backbone alone, interleaved
        batch = args.batch_sizes[-1]
        _progress(f'inference and backbone alone, batch {batch} ...')
        inputs = images(batch)
        tasks = []
        for model in models:
            tasks += [partial(model.forward, inputs),
                      partial(model.backbone, inputs)]
        times = interleaved(tasks, args.warmup, args.repeats)
        for index, result in enumerate(results):
            full, backbone = times[2 * index], times[2 * index + 1]
            result.setdefault('infer', {})[batch] = full
            result['head_share'] = dict(full=full, backbone=backbone)
        for model, result in zip(models, results):
            result['infer_memory_mib'], result['memory_method'] = \
                peak_memory_mib(partial(model.forward, inputs), args.device)

    if args.train_batch_size > 0:
        _progress(f'training, batch {args.train_batch_size} ...')
        inputs = images(args.train_batch_size)
        for model in models:
            model.start_training(inputs, args)
        times = interleaved([m.train_step for m in models], args.warmup,
                            args.repeats)
        for model, result, model_times in zip(models, results, times):
            result['train'] = model_times
            # after the timed steps: Adam's state already exists
            result['train_memory_mib'], _ = peak_memory_mib(
                model.train_step, args.device)
            model.stop_training()
    return results
