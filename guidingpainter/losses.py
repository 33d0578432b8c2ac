"""GuidingPainter's four losses (paper Eq. 10-13) with the official code's normalisation.

All return scalar tensors; weighting (Eq. 14, λ_rec 30 / λ_adv 0.2 / λ_tv 5 / λ_smth 1) is the model's job.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from colorbench.hints import flat_fill
from colorbench.nn import lsgan_loss

SMOOTHNESS_KINDS = ("eight_l1", "four_l1", "eight_l2")


def _neighbour_diffs(logits: torch.Tensor, diagonals: bool) -> list[torch.Tensor]:
    """Differences between each pixel and its right / lower (and both lower-diagonal) neighbours.

    Each unordered neighbour pair appears once, so these four directions cover the 8-neighbourhood.
    """
    diffs = [logits[:, :, 1:, :] - logits[:, :, :-1, :], logits[:, :, :, 1:] - logits[:, :, :, :-1]]
    if diagonals:
        diffs.append(logits[:, :, 1:, 1:] - logits[:, :, :-1, :-1])
        diffs.append(logits[:, :, 1:, :-1] - logits[:, :, :-1, 1:])
    return diffs


def smoothness_loss(logits: torch.Tensor, kind: str = "eight_l1") -> torch.Tensor:
    """Eq. (10) on the raw logits S_logit [B,Nc,H,W].

    eight_l1 (official default): 0.25 · Σ over {vertical, horizontal, two diagonals} of mean |Δ|.
    four_l1: 0.5 · (mean |Δ_vertical| + mean |Δ_horizontal|).
    eight_l2: as eight_l1 with squared differences.
    The code means over pixel pairs instead of summing as Eq. (10) writes; only the scale differs.
    """
    if kind == "eight_l1":
        diffs = _neighbour_diffs(logits, diagonals=True)
        return sum(d.abs().mean() for d in diffs) / len(diffs)
    if kind == "four_l1":
        diffs = _neighbour_diffs(logits, diagonals=False)
        return sum(d.abs().mean() for d in diffs) / len(diffs)
    if kind == "eight_l2":
        diffs = _neighbour_diffs(logits, diagonals=True)
        return sum(d.pow(2).mean() for d in diffs) / len(diffs)
    raise ValueError(f"unknown smoothness loss {kind!r}; use one of {', '.join(SMOOTHNESS_KINDS)}")


def total_variance_loss(color: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Eq. (11) as the official code: mean over B·3·H·W of (Σ_i c̄_i S_i − Y)², over all Nc regions.

    Because S is one-hot, Σ_i ‖(Y − c̄_i) ⊙ S_i‖²_F = ‖Σ_i c̄_i S_i − Y‖²_F; the mean only rescales it.
    color Y [B,3,H,W] in [-1,1], regions S [B,Nc,H,W] one-hot (gradients reach f through c̄ and S).
    """
    color = color.float()
    return F.mse_loss(flat_fill(color, regions.float()), color)


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. (12): mean |Ŷ − Y| over B·3·H·W."""
    return (pred.float() - target.float()).abs().mean()


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. (13), LSGAN form (supplement C): mean (D(X, Ŷ) − 1)²."""
    return lsgan_loss(fake_logits.float(), real=True)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """LSGAN discriminator loss: 0.5 · [mean (D(X,Y) − 1)² + mean D(X,Ŷ)²]."""
    return 0.5 * (lsgan_loss(real_logits.float(), real=True) + lsgan_loss(fake_logits.float(), real=False))
