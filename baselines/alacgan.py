"""AlacGAN (Ci et al. 2018) made trainable offline: "AlacGAN-lite".

Kept: the generator sees [sketch, hint colours, hint mask] with hints as sparse pixels at quarter
resolution (4×4 cells at full resolution; its public code's `mask_gen`, not drawn strokes): in training
the first half of each batch gets cells whose U(0,1) ≥ t, t ~ TruncNormal(1, 0.005) on [0,1] per sample
(density ≈ 0.4 %), the second half none; hint colour = the GT averaged over the cell (the same colour
the benchmark's stroke simulator gives at test time). Sketch intensity jitter x·r + (1−r), r ~ U(0.7,1)
(train only). Adam(1e-4, β = (0.5, 0.9)). Conditional adversarial training, one D step per G step.
Changed, and why:
- Adversarial loss: LSGAN instead of WGAN-GP. The benchmark's one PatchGAN has BatchNorm, which mixes
  samples and so invalidates WGAN-GP's per-sample gradient penalty; LSGAN is also what GuidingPainter
  uses with the same D, so the generators are compared under the same critic.
- Content loss: the frozen VGG16 relu2_2 perceptual MSE cannot be downloaded here; it is replaced by
  L1 on pixels (λ_content = 100 against λ_adv = 1, pix2pix's balance: the original's 1e-4 adversarial
  weight is tied to the WGAN critic's scale and has no meaning for LSGAN).
- Illustration2Vec (frozen, pretrained sketch features fed to G and D) is dropped: without its weights
  it would be a randomly initialised extra encoder, and the U-Net's own encoder already learns sketch
  features end to end. D is conditioned on the sketch directly (PatchGAN on sketch ⊕ image).
- Hint density scaled to the resolution (`hint_density = "scaled"`): σ × 512/size, so the hinted-cell
  count grows with the image side (~65 cells per hinted sample at 512 px, ~8 at 64 px). At the original
  density a 64-px image has 256 cells and gets ~1: 42 % of hinted samples drew none and ~71 % of all
  training samples never saw a hint, so the generator learned to ignore them.
- Generator and D are the benchmark's one U-Net (Table 5) and PatchGAN instead of the ResNeXt
  tunnels and the 512-px ResNeXt critic; the hint colours' separate random crop is not simulated.
Grayscale input (config input="grayscale", paper supplement B): G on [L, hint ab, mask] → ab (2 ch, tanh),
recombined with the input L (colorbench.color.grayscale); the same cell hints; no line-intensity jitter (L has no lines).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from colorbench.api import HintKind, Hints
from colorbench.baselines._shared import GAN_MODES, autocast, conditional_gan_step, gan_optimizers
from colorbench.color.grayscale import GRAYSCALE, INPUT_MODES, hint_ab, recombine
from colorbench.color.lab import signed_to_lab
from colorbench.hints import lab_hints
from colorbench.model import ColorizerModel, TrainContext
from colorbench.nn import PatchGAN, UNet, init_weights

HINT_DENSITIES = ("scaled", "original")
REFERENCE_SIZE = 512  # the public code's training resolution, where hint_sigma = 0.005 was chosen


def sample_cell_hints_train(
    color: torch.Tensor, generator: torch.Generator, cell: int = 4, sigma: float = 0.005
) -> Hints:
    """AlacGAN's training hints (its `mask_gen`), at full resolution.

    color [B,3,H,W] in [-1,1]. The first ⌈B/2⌉ samples each draw t ~ TruncNormal(1, σ) on [0,1] and
    activate every quarter-resolution cell whose U(0,1) ≥ t; the rest get no hints. An active cell is a
    cell×cell block of mask 1 painted with the GT's mean over the block. → Hints (C [B,3,H,W], M [B,1,H,W]).
    """
    b, _, h, w = color.shape
    gh, gw = h // cell, w // cell
    gdev = generator.device
    # Inverse-CDF draw of the truncated normal: u ~ U(Φ(−1/σ), Φ(0)) gives t = 1 + σ·Φ⁻¹(u) ∈ [0, 1].
    low = 0.5 * math.erfc(1.0 / (sigma * math.sqrt(2.0)))
    u = low + (0.5 - low) * torch.rand(b, generator=generator, device=gdev, dtype=torch.float64)
    threshold = 1.0 + sigma * torch.special.ndtri(u.clamp_min(1e-300))
    draws = torch.rand(b, 1, gh, gw, generator=generator, device=gdev, dtype=torch.float64)
    active = draws >= threshold.view(b, 1, 1, 1)
    active[(b + 1) // 2 :] = False  # second half of the batch: no hints at all
    small_mask = active.to(color.device, color.dtype)
    small_color = F.adaptive_avg_pool2d(color, (gh, gw))
    mask = F.pad(F.interpolate(small_mask, scale_factor=cell, mode="nearest"), [0, w - gw * cell, 0, h - gh * cell])
    hint = F.pad(
        F.interpolate(small_color * small_mask, scale_factor=cell, mode="nearest"),
        [0, w - gw * cell, 0, h - gh * cell],
    )
    return Hints(hint, mask)


def jitter_sketch(sketch: torch.Tensor, generator: torch.Generator, low: float = 0.7) -> torch.Tensor:
    """AlacGAN's line-intensity jitter x01·r + (1−r), r ~ U(low, 1) per sample; in [-1,1] units r·x + 1 − r."""
    r = low + (1.0 - low) * torch.rand(sketch.shape[0], 1, 1, 1, generator=generator, device=generator.device)
    r = r.to(sketch)
    return r * sketch + (1.0 - r)


class AlacGAN(ColorizerModel):
    """G: U-Net([sketch, hint RGB, mask], 5 ch → RGB 3 ch) + tanh; D: PatchGAN(sketch ⊕ image)."""

    name = "alacgan"
    display_name = "AlacGAN"
    hint_kind = HintKind.STROKE
    labels = ("AlacGAN-lite",)
    training_only = ("discriminator.",)  # D is not needed to colorize

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "width": 0.25,
            "gan_mode": "lsgan",
            "lambda_content": 100.0,
            "lambda_adv": 1.0,
            "hint_cell": 4,
            "hint_sigma": 0.005,  # at the original 512 px
            "hint_density": "scaled",  # scaled: σ × 512/size (deviation, see docstring) | original
            "jitter_low": 0.7,
            "input": "sketch",  # sketch | grayscale (L → ab)
        }

    @classmethod
    def config_choices(cls) -> dict[str, tuple[str, ...]]:
        return {"gan_mode": GAN_MODES, "hint_density": HINT_DENSITIES}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        if self.config["hint_density"] not in HINT_DENSITIES:
            raise ValueError(f"alacgan: hint_density must be one of {HINT_DENSITIES}, got {self.config['hint_density']!r}")
        if self.config["gan_mode"] not in GAN_MODES:
            raise ValueError(f"alacgan: gan_mode must be one of {GAN_MODES}, got {self.config['gan_mode']!r}")
        if self.config["input"] not in INPUT_MODES:
            raise ValueError(f"alacgan: input must be one of {', '.join(INPUT_MODES)}, got {self.config['input']!r}")
        self.grayscale = self.config["input"] == GRAYSCALE
        width = float(self.config["width"])
        self.generator = UNet(1 + 2 + 1, 2, width) if self.grayscale else UNet(1 + 3 + 1, 3, width)
        self.discriminator = PatchGAN(1 + 3, width)
        init_weights(self)

    def generate(self, sketch: torch.Tensor, hints: Hints) -> torch.Tensor:
        """sketch [B,1,H,W] in [-1,1], hints (C, M) → [B,3,H,W] in [-1,1]; grayscale: X = L/50 − 1 and the hints'
        ab → ab recombined with the input L."""
        mask = hints.mask.to(sketch)
        if self.grayscale:
            inputs = torch.cat([sketch, hint_ab(hints, sketch), mask], dim=1)
            return recombine(sketch, torch.tanh(self.generator(inputs)))
        inputs = torch.cat([sketch, hints.color.to(sketch) * mask, mask], dim=1)
        return torch.tanh(self.generator(inputs))

    def colorize(self, sketch: torch.Tensor, hints: Hints) -> torch.Tensor:
        return self.generate(sketch, hints)

    def hint_sigma(self, size: int) -> float:
        """σ of the training threshold for images `size` px wide: the mean hinted-cell density is ≈ 0.8·σ."""
        sigma = float(self.config["hint_sigma"])
        return sigma * REFERENCE_SIZE / size if self.config["hint_density"] == "scaled" else sigma

    def configure_optimizers(self, lr: float, betas: tuple[float, float]) -> dict[str, torch.optim.Optimizer]:
        return gan_optimizers(self.generator, self.discriminator, lr, betas)

    def training_defaults(self) -> dict[str, Any]:
        return {"lr": 1e-4, "betas": (0.5, 0.9)}

    def train_step(
        self, batch: dict[str, torch.Tensor], optimizers: dict[str, torch.optim.Optimizer], ctx: TrainContext
    ) -> dict[str, float]:
        """Jitter the sketch, simulate cell hints (ctx.generator), D step, then G step (adv + L1 content)."""
        sketch = batch["sketch"].to(ctx.device)
        color = batch["color"].to(ctx.device)
        if not self.grayscale:
            sketch = jitter_sketch(sketch, ctx.generator, float(self.config["jitter_low"]))
        # Grayscale: cell means of Lab, as the test-time hints (simulate(space="lab")).
        hints = sample_cell_hints_train(signed_to_lab(color) if self.grayscale else color, ctx.generator,
                                        int(self.config["hint_cell"]), self.hint_sigma(color.shape[-1]))
        if self.grayscale:
            hints = lab_hints(hints)
        mode = self.config["gan_mode"]
        with autocast(ctx):
            fake = self.generate(sketch, hints)
        # The content loss is L1 on pixels (module docstring), hence it is passed, and reported, as "l1".
        return conditional_gan_step(
            self.discriminator,
            optimizers,
            sketch,
            color,
            fake,
            mode,
            ctx,
            lambda_l1=float(self.config["lambda_content"]),
            lambda_adv=float(self.config["lambda_adv"]),
        )
