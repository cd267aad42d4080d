"""The two training recipes of the speed study, applied to a benchmark
model: ``fp32`` (the paper's: float32, contiguous tensors, RePFormer's
dropout 0.1 on the attention weights) and ``fast`` (bf16 autocast,
channels-last convolutions, no attention-weight dropout)."""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

import torch

from ..engine.hooks import to_channels_last
from .models import build_model, make_data_samples

MODELS = {'RePFormer-R18-d128': 'repformer_r18_d128',
          'HRNetV2-W18': 'hrnetv2_w18', 'RTMPose-m': 'rtmpose_m'}
RECIPES = ('fp32', 'fast')


@dataclass
class Case:
    """One model at one size with one recipe, ready to time."""
    model_name: str
    size: int
    recipe: str
    train_times: list[float] = field(default_factory=list)
    infer_times: list[float] = field(default_factory=list)

    def build(self, args) -> None:
        torch.manual_seed(0)
        self.model, cfg = build_model(MODELS[self.model_name], self.size, 68)
        fast = self.recipe == 'fast'
        if fast:
            for module in self.model.modules():
                if isinstance(module, torch.nn.MultiheadAttention):
                    module.dropout = 0.  # attn_dropout=0 (RePFormer only)
            to_channels_last(self.model)
        self.autocast = (lambda: torch.autocast(
            'cpu', dtype=torch.bfloat16)) if fast else nullcontext
        self.train_images = torch.randn(args.train_batch, 3, self.size,
                                        self.size)
        self.infer_images = torch.randn(args.infer_batch, 3, self.size,
                                        self.size)
        self.samples = make_data_samples(cfg.head.decoder, args.train_batch,
                                         68, self.size)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-4)

    def train_step(self) -> None:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            losses = self.model.loss(self.train_images, self.samples)
        loss, _ = self.model.parse_losses(losses)
        loss.backward()
        self.optimizer.step()

    def infer(self) -> None:
        self.model.eval()
        with torch.inference_mode(), self.autocast():
            self.model._forward(self.infer_images)


