"""RTUG (Zhang et al. 2017, Real-Time User-Guided Colorization) adapted to sketches: "RTUG-sketch".

Kept: the network sees [input, hint colours, hint mask] with mask−0.5; works in
CIE Lab with RTUG's normalisation ((L−50)/100, a/110, b/110) so its L1 loss weighs colour errors as RTUG
does; trained by regression (L1 ×10 as the PyTorch re-implementation, or smooth-L1 as the paper) on
point hints from its own sampler (geometric count p = 1/8, P×P patches with P ∈ 1..9 carrying the patch
mean colour, Gaussian-centred locations: `colorbench.hints.sample_point_hints_train`); Adam(1e-4, 0.9, 0.999).
Changed: a sketch has no luminance, so the input channel is the sketch (as L_norm = x/2)
and the head regresses all three Lab channels (tanh), not only ab; hints carry L too (Lab of the hint's
RGB mean). One regression stage instead of the 4-stage class→regression script, no 529-bin class head,
no grey-image filter (sketch datasets keep grey images, like GuidingPainter). The network is the
benchmark's one U-Net (Table 5) instead of the "siggraph" VGG-style generator.
Grayscale input (config input="grayscale", paper supplement B / Table 4): RTUG as published — the input is
L_norm, the hints are ab only, the head regresses ab (2 ch, tanh), and the output is that ab with the input L
(colorbench.color.grayscale).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from colorbench.api import HintKind, Hints
from colorbench.baselines._shared import autocast
from colorbench.color.grayscale import GRAYSCALE, INPUT_MODES, ab_target, hint_ab, luminance_input, recombine
from colorbench.color.lab import AB_NORM, denormalize_lab, lab_to_signed, normalize_lab, signed_to_lab
from colorbench.hints import lab_hints, sample_point_hints_train
from colorbench.model import ColorizerModel, TrainContext, end_iteration, optimizer_step
from colorbench.nn import UNet, init_weights

LOSSES = ("l1", "smooth_l1")
MASK_CENT = 0.5  # RTUG feeds mask − 0.5 ∈ {−0.5, +0.5}


class RTUG(ColorizerModel):
    """U-Net([sketch, hint Lab, mask], 5 ch → Lab 3 ch) + tanh, point hints."""

    name = "rtug"
    display_name = "RTUG"
    hint_kind = HintKind.POINT
    labels = ("RTUG-sketch",)

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "width": 0.25,
            "loss": "l1",
            "lambda_reg": 10.0,  # RTUG's L1 weight (in normalised Lab units)
            "hint_p": 0.125,  # geometric stop probability of the training sampler
            "max_points": 64,  # the training sampler's cap (RTUG's count is unbounded; P(>64) ≈ 2e-4)
            "input": "sketch",  # sketch | grayscale (L → ab, supplement B)
        }

    @classmethod
    def config_choices(cls) -> dict[str, tuple[str, ...]]:
        return {"loss": LOSSES}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        if self.config["loss"] not in LOSSES:
            raise ValueError(f"rtug: loss must be one of {LOSSES}, got {self.config['loss']!r}")
        if self.config["input"] not in INPUT_MODES:
            raise ValueError(f"rtug: input must be one of {', '.join(INPUT_MODES)}, got {self.config['input']!r}")
        self.grayscale = self.config["input"] == GRAYSCALE
        if not 0.0 < float(self.config["hint_p"]) <= 1.0:
            raise ValueError(f"rtug: config hint_p (--hint-p) {self.config['hint_p']!r} must be in (0, 1]")
        if int(self.config["max_points"]) != self.config["max_points"] or self.config["max_points"] < 0:
            raise ValueError(f"rtug: config max_points (--max-points) {self.config['max_points']!r} must be a whole "
                             "number >= 0")
        if float(self.config["lambda_reg"]) < 0:
            raise ValueError(f"rtug: config lambda_reg (--lambda-reg) {self.config['lambda_reg']!r} must be >= 0")
        channels = 2 if self.grayscale else 3  # ab, or all of Lab for a sketch (no luminance to keep)
        self.net = UNet(1 + channels + 1, channels, float(self.config["width"]))
        init_weights(self)

    def network_input(self, sketch: torch.Tensor, hints: Hints) -> torch.Tensor:
        """[B,5,H,W]: sketch/2 (as L_norm), hint colour in normalised Lab (0 where no hint), mask − 0.5.
        Grayscale: [B,4,H,W], L_norm = X/2 = (L−50)/100 exactly, the hints' ab/110, mask − 0.5."""
        mask = hints.mask.to(sketch)
        if self.grayscale:
            return torch.cat([sketch / 2.0, hint_ab(hints, sketch), mask - MASK_CENT], dim=1)
        hint_lab = normalize_lab(signed_to_lab(hints.color.to(sketch))) * mask
        return torch.cat([sketch / 2.0, hint_lab, mask - MASK_CENT], dim=1)

    def predict_lab(self, sketch: torch.Tensor, hints: Hints) -> torch.Tensor:
        """Normalised Lab prediction [B,3,H,W] in (-1,1) (L_norm = (L−50)/100, a/110, b/110); grayscale: ab/110
        [B,2,H,W]."""
        return torch.tanh(self.net(self.network_input(sketch, hints)))

    def colorize(self, sketch: torch.Tensor, hints: Hints) -> torch.Tensor:
        """sketch [B,1,H,W] in [-1,1], point hints → RGB [B,3,H,W] in [-1,1] (Lab → sRGB, clipped); grayscale:
        X = L/50 − 1 and the predicted ab recombined with the input L."""
        if self.grayscale:
            return recombine(sketch, self.predict_lab(sketch, hints))
        return lab_to_signed(denormalize_lab(self.predict_lab(sketch, hints)))

    def configure_optimizers(self, lr: float, betas: tuple[float, float]) -> dict[str, torch.optim.Optimizer]:
        return {"G": torch.optim.Adam(self.net.parameters(), lr=lr, betas=betas)}

    def training_defaults(self) -> dict[str, Any]:
        return {"lr": 1e-4, "betas": (0.9, 0.999)}

    def regression_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """λ · mean over pixels of Σ_channels |pred − target| (normalised Lab units)."""
        if self.config["loss"] == "l1":
            per_value = (pred - target).abs()
        else:
            # Paper's Huber with δ = 1 in ab units, i.e. β = 1/110 in normalised units.
            per_value = F.smooth_l1_loss(pred, target, reduction="none", beta=1.0 / AB_NORM)
        return float(self.config["lambda_reg"]) * per_value.sum(dim=1).mean()

    def train_step(
        self, batch: dict[str, torch.Tensor], optimizers: dict[str, torch.optim.Optimizer], ctx: TrainContext
    ) -> dict[str, float]:
        """Simulate point hints from the GT (ctx.generator), regress the GT's normalised Lab."""
        sketch = batch["sketch"].to(ctx.device)
        color = batch["color"].to(ctx.device)
        # Grayscale: patch means of Lab (the reference's mean ab), as the test-time hints (simulate(space="lab")).
        hints = sample_point_hints_train(signed_to_lab(color) if self.grayscale else color, ctx.generator,
                                         p=float(self.config["hint_p"]), max_points=int(self.config["max_points"]))
        if self.grayscale:
            hints = lab_hints(hints)
        with torch.no_grad():
            target = ab_target(color) if self.grayscale else normalize_lab(signed_to_lab(color))
            if self.grayscale:
                sketch = luminance_input(color)  # the dataset's X already; recomputed so any batch trains right
        inputs = self.network_input(sketch, hints)  # Lab conversion stays in float32 under AMP
        with autocast(ctx):
            pred = torch.tanh(self.net(inputs))
        loss = self.regression_loss(pred.float(), target)
        optimizer_step(loss, optimizers["G"], ctx)
        end_iteration(ctx)
        return {"loss": float(loss.detach()), "hint_pixels": float(hints.mask.sum((1, 2, 3)).mean())}
