"""Hint generation h (paper §3.3, Eq. 2-8) for training: which regions are hinted, then U = (C, M).

The arithmetic of Eq. (4)-(8) lives in colorbench.hints (shared with the evaluation simulator); this
module only decides the activation vector m per sample, for the three training regimes.
"""

from __future__ import annotations

import torch

from colorbench.api import Hints
from colorbench.hints import BoundedGeometric, prefix_mask, region_hints

ACTIVATIONS = ("geometric", "fixed", "bernoulli")


def sample_activation(
    mode: str, batch: int, nc: int, p: float, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """m [B,Nc] float in {0,1}, one row per sample.

    geometric: Nh ~ G (Eq. 3) per sample, as the official code (the paper says per mini-batch),
               m_i = 1 iff i <= Nh (Eq. 4).
    fixed:     Nh = Nc for every sample (Fig. 4b control: the ordering pressure is switched off).
    bernoulli: each m_i ~ Bernoulli(p) independently (supplement D.2 second phase: any subset of
               regions, in any order, may be hinted).
    """
    if mode == "geometric":
        nh = BoundedGeometric(nc, p).sample(generator, batch).to(device)
        return prefix_mask(nh, nc)
    if mode == "fixed":
        return torch.ones(batch, nc, device=device)
    if mode == "bernoulli":
        draw = torch.rand(batch, nc, generator=generator, device=generator.device) < p
        return draw.float().to(device)
    raise ValueError(f"unknown hint activation {mode!r}; use one of {', '.join(ACTIVATIONS)}")


def generate_hints(color: torch.Tensor, regions: torch.Tensor, active: torch.Tensor) -> Hints:
    """U = h(S, Y, m) (Eq. 2): C = Σ m_i c̄_i S_i, M = Σ m_i S_i with c̄_i the mean of Y over S_i.

    color Y [B,3,H,W] in [-1,1]; regions S [B,Nc,H,W] one-hot (may carry ST gradients); active m [B,Nc].
    Runs in float32 even under AMP: a region sum over 256² pixels overflows float16.
    """
    return region_hints(color.float(), regions.float(), active)
