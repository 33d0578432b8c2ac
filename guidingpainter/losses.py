"""GuidingPainter's four losses (paper Eq. 10-13) with the official code's normalisation.

All return scalar tensors; weighting (Eq. 14, λ_rec 30 / λ_adv 0.2 / λ_tv 5 / λ_smth 1) is the model's job.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

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
    return sum(d.abs().mean() for d in _neighbour_diffs(logits, diagonals=n == 4)) / n


def smoothness_loss(logits: torch.Tensor, kind: str = "eight_l1") -> torch.Tensor:
    """Eq. (10) on the raw logits S_logit [B,Nc,H,W].

    eight_l1 (official default): 0.25 · Σ over {vertical, horizontal, two diagonals} of mean |Δ|.
    four_l1: 0.5 · (mean |Δ_vertical| + mean |Δ_horizontal|).
    eight_l2: as eight_l1 with squared differences.
    The code means over pixel pairs instead of summing as Eq. (10) writes; only the scale differs.
    """
    if kind in ("eight_l1", "four_l1"):
        return _mean_abs_diffs(logits, 4 if kind == "eight_l1" else 2)
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


def nested_total_variance_loss(color: torch.Tensor, regions: torch.Tensor, pmf: torch.Tensor) -> torch.Tensor:
    """Eq. (11) under the hint prefix, in expectation over G (a deviation, docs/recipes.md).

    For n hinted regions, the first n keep their own mean c̄_i and all later ones are merged into one
    "rest" region with its own mean: the flat fill a user gets from the first n hints. The loss is
    Σ_n G(n)·TV_n, exactly over n = 0..Nc. Splitting a part off only pays in an early channel, which is the
    ordering pressure the paper expects from training on the first Nh channels.

    Written from per-region sums (area A, Σy, Σy²): SSE_i = Σy² − |Σy|²/A. Its gradient in S_i(x) is
    (y(x) − c̄_i)² — a pixel is pulled to the region whose mean is nearest (a k-means step) — where the
    paper's form gives 2(ŷ − y)·c̄_i, which depends on the sign of the colour values.
    color Y [B,3,H,W] in [-1,1]; regions S [B,K,H,W] one-hot (ST gradients); pmf G [K+1] → scalar.
    """
    color = color.float()
    regions = regions.float()
    b = regions.shape[0]
    area = regions.sum(dim=(2, 3))  # [B,K]
    sum1 = torch.einsum("bkhw,bchw->bkc", regions, color)  # [B,K,3]
    sum2 = torch.einsum("bkhw,bchw->bkc", regions, color * color)

    # An empty region has no mean; to first order it is a region of the image mean m (detached), so its
    # gradient (y − m)² neither pulls pixels in nor pushes them away. (Taking c̄ = 0, as Eq. 6's code does,
    # would push away every pixel far from mid-grey and empty the early channels for good.)
    mean = (color.sum(dim=(2, 3)) / (color.shape[-1] * color.shape[-2])).detach()[:, None, :]  # [B,1,3]

    def sse(a: torch.Tensor, s1: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
        own = s2 - s1.pow(2) / a.clamp_min(1e-6)[..., None]
        empty = s2 - 2 * mean * s1 + a[..., None] * mean.pow(2)  # Σ S·(y − m)²: 0 in value
        return torch.where((a > 0.5)[..., None], own, empty).sum(-1)

    zero = area.new_zeros(b, 1)
    cum_a = torch.cat([zero, area.cumsum(1)], 1)  # [B,K+1]: area of the first n regions, n = 0..K
    cum_1 = torch.cat([zero[..., None].expand(b, 1, 3), sum1.cumsum(1)], 1)
    cum_2 = torch.cat([zero[..., None].expand(b, 1, 3), sum2.cumsum(1)], 1)
    own = torch.cat([zero, sse(area, sum1, sum2).cumsum(1)], 1)  # Σ_{i≤n} SSE_i
    rest = sse(cum_a[:, -1:] - cum_a, cum_1[:, -1:] - cum_1, cum_2[:, -1:] - cum_2)
    per_n = (own + rest) / (3 * color.shape[-1] * color.shape[-2])  # TV_n, [B,K+1]
    return (per_n * pmf.to(per_n)[None]).sum(1).mean()


def usage_loss(logits: torch.Tensor, tau: float) -> torch.Tensor:
    """−H(p̄)/log Nc, p̄ = per-image mean over pixels of softmax(S_logit/τ) [B,Nc]: in [−1, 0], lowest when
    the channels are used evenly. A deviation (docs/recipes.md): without it f merges parts that are still
    worth a hint, because a channel nobody uses gets no gradient and never comes back.
    logits [B,Nc,H,W] → scalar."""
    usage = torch.softmax(logits.float() / tau, dim=1).mean(dim=(2, 3))  # [B,Nc]
    entropy = -(usage * usage.clamp_min(1e-12).log()).sum(1)
    return -(entropy / math.log(logits.shape[1])).mean()


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. (12): mean |Ŷ − Y| over B·3·H·W."""
    return (pred.float() - target.float()).abs().mean()


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. (13), LSGAN form (supplement C): mean (D(X, Ŷ) − 1)²."""
    return lsgan_loss(fake_logits.float(), real=True)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """LSGAN discriminator loss: 0.5 · [mean (D(X,Y) − 1)² + mean D(X,Ŷ)²]."""
    return 0.5 * (lsgan_loss(real_logits.float(), real=True) + lsgan_loss(fake_logits.float(), real=False))
