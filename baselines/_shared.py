"""Training pieces every baseline shares: autocast and the conditional-GAN steps (the AMP-aware optimiser step
is colorbench.model.optimizer_step, shared with GuidingPainter).

Pix2Pix and AlacGAN-lite both train the one PatchGAN of `colorbench.nn` on concat(sketch, image);
RTUG and CIC only use `autocast`.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from colorbench.model import TrainContext, end_iteration, optimizer_step
from colorbench.nn import PatchGAN, lsgan_loss, set_requires_grad

GAN_MODES = ("lsgan", "vanilla")


def autocast(ctx: TrainContext) -> contextlib.AbstractContextManager:
    """Mixed precision when the trainer asks for it: fp16 on CUDA (AMP), bf16 on a CPU (`train --bf16`)."""
    if ctx.amp:
        return torch.autocast(device_type=ctx.device.type)
    return contextlib.nullcontext()


def gan_loss(logits: torch.Tensor, real: bool, mode: str) -> torch.Tensor:
    """LSGAN (colorbench.nn.lsgan_loss) or the original GAN's BCE-with-logits, against all-real/all-fake."""
    if mode == "lsgan":
        return lsgan_loss(logits, real)
    if mode == "vanilla":
        target = torch.ones_like(logits) if real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target)
    raise ValueError(f"unknown gan_mode {mode!r}; use one of {', '.join(GAN_MODES)}")


def discriminator_step(
    disc: PatchGAN,
    optimizer: torch.optim.Optimizer,
    condition: torch.Tensor,
    real: torch.Tensor,
    fake: torch.Tensor,
    mode: str,
    ctx: TrainContext,
) -> float:
    """One D update: ½·(loss(D(x, y), real) + loss(D(x, ŷ.detach()), fake)) (pix2pix's ½ slows D down).

    condition [B,1,H,W] sketch in [-1,1]; real, fake [B,3,H,W] in [-1,1]. Returns the D loss.
    """
    set_requires_grad(disc, True)
    with autocast(ctx):
        loss = 0.5 * (
            gan_loss(disc(condition, real), True, mode) + gan_loss(disc(condition, fake.detach()), False, mode)
        )
    optimizer_step(loss, optimizer, ctx)
    return float(loss.detach())


def generator_adversarial_loss(disc: PatchGAN, condition: torch.Tensor, fake: torch.Tensor, mode: str) -> torch.Tensor:
    """G's adversarial term: D is frozen first so its parameters collect no generator gradients."""
    set_requires_grad(disc, False)
    return gan_loss(disc(condition, fake), True, mode)


def gan_optimizers(
    generator: torch.nn.Module, discriminator: torch.nn.Module, lr: float, betas: tuple[float, float]
) -> dict[str, torch.optim.Optimizer]:
    """Adam with the same lr and betas for G and D, under the "G" / "D" keys `conditional_gan_step` reads."""
    return {
        "G": torch.optim.Adam(generator.parameters(), lr=lr, betas=betas),
        "D": torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas),
    }


def conditional_gan_step(
    disc: PatchGAN,
    optimizers: dict[str, torch.optim.Optimizer],
    condition: torch.Tensor,
    real: torch.Tensor,
    fake: torch.Tensor,
    mode: str,
    ctx: TrainContext,
    lambda_l1: float,
    lambda_adv: float = 1.0,
) -> dict[str, float]:
    """One D step, then one G step on λ_adv·adv + λ_L1·L1(fake, real); → {"loss", "g_adv", "l1", "d"}."""
    d_loss = discriminator_step(disc, optimizers["D"], condition, real, fake, mode, ctx)
    with autocast(ctx):
        adv = generator_adversarial_loss(disc, condition, fake, mode)
        l1 = (fake - real).abs().mean()
        loss = lambda_adv * adv + lambda_l1 * l1
    optimizer_step(loss, optimizers["G"], ctx)
    end_iteration(ctx)
    return {"loss": float(loss.detach()), "g_adv": float(adv.detach()), "l1": float(l1.detach()), "d": d_loss}
