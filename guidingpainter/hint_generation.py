"""Hint generation h (paper §3.3, Eq. 2-8) for training: which regions are hinted, then U = (C, M).

The arithmetic of Eq. (4)-(8) lives in colorbench.hints (shared with the evaluation simulator); this
module only decides the activation vector m per sample, for the three training regimes.
"""

from __future__ import annotations

import torch

from colorbench.api import Hints
from colorbench.hints import BoundedGeometric, prefix_mask, region_hints

ACTIVATIONS = ("geometric", "fixed", "bernoulli")


NH_PER = ("sample", "batch")


def sample_activation(
    mode: str, batch: int, nc: int, p: float, generator: torch.Generator, device: torch.device,
    nh_per: str = "sample",
) -> torch.Tensor:
    """m [B,Nc] float in {0,1}, one row per sample.

    geometric: Nh ~ G (Eq. 3), m_i = 1 iff i <= Nh (Eq. 4); one Nh per sample (nh_per="sample", the
               official code) or one for the whole mini-batch (nh_per="batch", the paper's text, §3.3).
    fixed:     Nh = Nc for every sample (Fig. 4b control: the ordering pressure is switched off).
    bernoulli: each m_i ~ Bernoulli(p) independently (supplement D.2 second phase: any subset of
               regions, in any order, may be hinted).
    """
    if mode == "geometric":
        if nh_per not in NH_PER:
            raise ValueError(f"unknown nh_per {nh_per!r}; use one of {', '.join(NH_PER)}")
        draws = batch if nh_per == "sample" else 1
        nh = BoundedGeometric(nc, p).sample(generator, draws).to(device).expand(batch)
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
