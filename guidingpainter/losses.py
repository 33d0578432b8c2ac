"""GuidingPainter's four losses (paper Eq. 10-13) with the official code's normalisation.

All return scalar tensors; weighting (Eq. 14, λ_rec 30 / λ_adv 0.2 / λ_tv 5 / λ_smth 1) is the model's job.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from colorbench.hints import flat_fill
from colorbench.nn import lsgan_loss

SMOOTHNESS_KINDS = ("eight_l1", "four_l1", "eight_l2")


_ALL = slice(None)
# (later, earlier) pixel index pairs, Δ = logits[later] − logits[earlier]: vertical, horizontal and the two
# lower diagonals. Each unordered neighbour pair appears once, so the four cover the 8-neighbourhood.
_DIRECTIONS = (
    ((_ALL, _ALL, slice(1, None), _ALL), (_ALL, _ALL, slice(None, -1), _ALL)),
    ((_ALL, _ALL, _ALL, slice(1, None)), (_ALL, _ALL, _ALL, slice(None, -1))),
    ((_ALL, _ALL, slice(1, None), slice(1, None)), (_ALL, _ALL, slice(None, -1), slice(None, -1))),
    ((_ALL, _ALL, slice(1, None), slice(None, -1)), (_ALL, _ALL, slice(None, -1), slice(1, None))),
)


def _neighbour_diffs(logits: torch.Tensor, diagonals: bool) -> list[torch.Tensor]:
    """Δ between each pixel and its lower / right (and both lower-diagonal) neighbours, as _DIRECTIONS."""
    return [logits[later] - logits[earlier] for later, earlier in _DIRECTIONS[: 4 if diagonals else 2]]


def _mean_abs_diffs(logits: torch.Tensor, n: int) -> torch.Tensor:
    """(1/n) Σ over the first n directions of mean |Δ| (n = 4: eight_l1, 2: four_l1)."""
    return sum(d.abs_().mean() for d in _neighbour_diffs(logits, diagonals=n == 4)) / n


class _MeanAbsDiffs(torch.autograd.Function):
    """Eq. (10)'s L1 forms, (1/n) Σ over the first n directions of mean |Δ|, with a hand-written backward.

    Autograd's backward of the plain expression materialises a zero-filled full-size gradient per slice
    (2n of them) and adds them up: ~40 passes over [B,Nc,H,W]. This one adds ±g/(n·N) straight into one
    buffer: ~9 → 3.5 ms forward + backward at [8,30,64,64], ~40 → ~20 ms at 128 px (one thread), ~3 % of
    a training step. The forward is the same expression and the backward the same float operations in
    the order autograd accumulates them (last direction first, its `earlier` slice first, all before a
    path into the logits built earlier, as train_step's ST-Gumbel one), so the gradients are bit for
    bit those of the plain expression (tests/test_guidingpainter_parts.py) and the zoo still rebuilds.
    """

    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, n: int) -> torch.Tensor:
        ctx.n = n
        ctx.save_for_backward(logits)
        return _mean_abs_diffs(logits, n)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (logits,) = ctx.saved_tensors
        per_direction = grad / ctx.n  # the backward of "/ n"
        out = torch.zeros_like(logits)
        for later, earlier in reversed(_DIRECTIONS[: ctx.n]):
            step = torch.sign(logits[later] - logits[earlier])  # |Δ|' (0 at Δ = 0, as autograd's sgn)
            step.mul_(per_direction / step.numel())  # the backward of the mean: g/N per element
            out[earlier] -= step
            out[later] += step
        return out, None


def smoothness_loss(logits: torch.Tensor, kind: str = "eight_l1") -> torch.Tensor:
    """Eq. (10) on the raw logits S_logit [B,Nc,H,W].

    eight_l1 (official default): 0.25 · Σ over {vertical, horizontal, two diagonals} of mean |Δ|.
    four_l1: 0.5 · (mean |Δ_vertical| + mean |Δ_horizontal|).
    eight_l2: as eight_l1 with squared differences.
    The code means over pixel pairs instead of summing as Eq. (10) writes; only the scale differs.
    """
    if kind in ("eight_l1", "four_l1"):
        n = 4 if kind == "eight_l1" else 2
        if torch.is_grad_enabled() and logits.requires_grad:
            return _MeanAbsDiffs.apply(logits, n)
        return _mean_abs_diffs(logits, n)
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
