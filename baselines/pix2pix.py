"""Pix2Pix (Isola et al. 2017) as an automatic sketch → colour baseline.

Kept: U-Net generator + 70×70 PatchGAN on concat(sketch, image), G loss = cGAN + λ_L1·L1 with λ_L1 = 100,
D loss halved, the vanilla (BCE) GAN objective of the reference code, Adam(2e-4, β1 = 0.5), N(0, 0.02) init.
Changed: the generator is the benchmark's one U-Net (paper Table 5, bilinear up-sampling, no dropout)
instead of `unet_256`, so all models share one backbone and one width multiplier; with no dropout there
is no test-time noise, and the benchmark evaluates every model in eval mode (BN running statistics),
whereas the reference `test.py` keeps train-mode BN unless `--eval` is given. Hints are ignored.
Grayscale input (config input="grayscale", paper supplement B): L → ab (2 ch, tanh) recombined with the input L
(colorbench.color.grayscale), Pix2Pix's own L → ab colorization setting.
"""

from __future__ import annotations

from typing import Any

import torch

from colorbench.api import HintKind, Hints
from colorbench.baselines._shared import GAN_MODES, autocast, conditional_gan_step, gan_optimizers
from colorbench.color.grayscale import GRAYSCALE, INPUT_MODES, recombine
from colorbench.model import ColorizerModel, TrainContext
from colorbench.nn import PatchGAN, UNet, init_weights


class Pix2Pix(ColorizerModel):
    """G: U-Net(sketch 1 ch → RGB 3 ch) + tanh; D: PatchGAN(sketch ⊕ image, 4 ch)."""

    name = "pix2pix"
    display_name = "Pix2Pix"
    hint_kind = HintKind.NONE
    labels = ("Pix2Pix-UNet5",)  # Table-5 U-Net generator instead of unet_256
    training_only = ("discriminator.",)  # D is not needed to colorize

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"width": 0.25, "lambda_l1": 100.0, "gan_mode": "vanilla",
                "input": "sketch"}  # sketch | grayscale (L → ab)

    @classmethod
    def config_choices(cls) -> dict[str, tuple[str, ...]]:
        return {"gan_mode": GAN_MODES}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        if self.config["gan_mode"] not in GAN_MODES:
            raise ValueError(f"pix2pix: gan_mode must be one of {GAN_MODES}, got {self.config['gan_mode']!r}")
        if self.config["input"] not in INPUT_MODES:
            raise ValueError(f"pix2pix: input must be one of {', '.join(INPUT_MODES)}, got {self.config['input']!r}")
        self.grayscale = self.config["input"] == GRAYSCALE
        width = float(self.config["width"])
        self.generator = UNet(1, 2 if self.grayscale else 3, width)
        self.discriminator = PatchGAN(1 + 3, width)
        init_weights(self)

    def generate(self, sketch: torch.Tensor) -> torch.Tensor:
        """sketch [B,1,H,W] in [-1,1] → [B,3,H,W] in [-1,1]; grayscale: X = L/50 − 1 → ab recombined with L."""
        if self.grayscale:
            return recombine(sketch, torch.tanh(self.generator(sketch)))
        return torch.tanh(self.generator(sketch))

    def colorize(self, sketch: torch.Tensor, hints: Hints) -> torch.Tensor:
        """Automatic: `hints` are ignored. sketch [B,1,H,W] in [-1,1] → [B,3,H,W] in [-1,1]."""
        return self.generate(sketch)

    def configure_optimizers(self, lr: float, betas: tuple[float, float]) -> dict[str, torch.optim.Optimizer]:
        return gan_optimizers(self.generator, self.discriminator, lr, betas)

    def training_defaults(self) -> dict[str, Any]:
        return {"lr": 2e-4, "betas": (0.5, 0.999)}

    def train_step(
        self, batch: dict[str, torch.Tensor], optimizers: dict[str, torch.optim.Optimizer], ctx: TrainContext
    ) -> dict[str, float]:
        """D step on (real, detached fake), then G step on cGAN + λ_L1·L1. Nothing random here."""
        sketch = batch["sketch"].to(ctx.device)
        color = batch["color"].to(ctx.device)
        mode = self.config["gan_mode"]
        with autocast(ctx):
            fake = self.generate(sketch)
        lambda_l1 = float(self.config["lambda_l1"])  # the cGAN term keeps pix2pix's fixed weight 1
        return conditional_gan_step(self.discriminator, optimizers, sketch, color, fake, mode, ctx, lambda_l1)
