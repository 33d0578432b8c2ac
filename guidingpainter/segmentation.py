"""Segmentation network f (paper §3.2, Eq. 1): U-Net logits and the straight-through Gumbel one-hot.

The ST estimator is written out here (not torch's `gumbel_softmax`) so that its noise comes from an
explicit torch.Generator, as every random choice in colorbench must.
"""

from __future__ import annotations

import torch
from torch import nn

from colorbench.nn import UNet

MIN_TAU = 0.1  # supplement C: τ = 0.1^(epoch/epochs), so τ ends just above 0.1


class SegmentationNet(nn.Module):
    """f: sketch X [B,1,H,W] in [-1,1] → S_logit [B,Nc,H,W] (raw logits, Table 5 U-Net with Cout = Nc)."""

    def __init__(self, nc: int, width: float, order_bias: float = 0.0, logit_bound: float = 0.0,
                 norm: str = "batch") -> None:
        super().__init__()
        self.nc = nc
        self.unet = UNet(1, nc, width, norm)
        # logit_bound b > 0: logits b·tanh(raw/b) (a deviation, docs/recipes.md). The ST-Gumbel forward samples
        # channel j with probability softmax(logits)_j, so bounded logits keep f sampling other channels
        # (≥ e^{−2b} each) and a part can still split off late in training; the argmax is unchanged.
        self.logit_bound = float(logit_bound)
        # A fixed prior −order_bias·i on channel i (0: the paper): a pixel stays in the earliest channel unless
        # f moves it, so regions fill channels front to back (a deviation, docs/recipes.md).
        self.register_buffer("order_prior", -float(order_bias) * torch.arange(nc, dtype=torch.float32).view(1, nc, 1, 1),
                             persistent=False)

    def forward(self, sketch: torch.Tensor) -> torch.Tensor:
        raw = self.unet(sketch)
        if self.logit_bound > 0:
            raw = self.logit_bound * torch.tanh(raw / self.logit_bound)
        return raw + self.order_prior


def temperature(progress: float, min_tau: float = MIN_TAU) -> float:
    """Exponential schedule of supplement C: τ = min_tau^progress, progress = epoch/epochs in [0,1)."""
    return float(min_tau ** max(0.0, progress))


def gumbel_noise(shape: torch.Size | tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """i.i.d. Gumbel(0,1) samples, float32, drawn on the generator's device then moved to `device`."""
    u = torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float32)
    # Clamp away from 0 and 1 so −log(−log u) stays finite in float32.
    u = u.clamp(1e-10, 1.0 - 1e-7)
    return (-torch.log(-torch.log(u))).to(device)


def one_hot_argmax(scores: torch.Tensor) -> torch.Tensor:
    """[B,K,H,W] scores → float32 one-hot over channels of their argmax (ties to the first channel)."""
    # The argmax over a contiguous last axis: 2.5× faster on CPU than over the strided channel axis (6.4 →
    # 2.5 ms for [8,30,64,64]); f's logits are channels-last already (colorbench.nn.LAYOUT), so no copy.
    last = scores.permute(0, 2, 3, 1).contiguous()
    index = last.argmax(dim=-1, keepdim=True)
    # Scattered straight into float32 (F.one_hot builds int64 first: 4× slower at [8,30,128,128]), in the
    # channels-last layout g's input wants.
    hard = torch.zeros(last.shape, dtype=torch.float32, device=scores.device).scatter_(-1, index, 1.0)
    return hard.permute(0, 3, 1, 2)


def st_gumbel(logits: torch.Tensor, tau: float, generator: torch.Generator | None, noise_scale: float = 1.0) -> torch.Tensor:
    """Eq. (1) discretisation: straight-through Gumbel over channels.

    logits [B,Nc,H,W] → S [B,Nc,H,W] whose forward value is exactly one-hot (argmax of logits + g)
    and whose gradient is that of softmax((logits + g)/τ). generator None → no noise (plain argmax
    forward, softmax(logits/τ) gradient). noise_scale multiplies g (1.0: the paper).
    """
    logits = logits.float()  # the softmax and the noise stay in float32 under AMP
    if generator is None or noise_scale == 0:
        scores = logits
    else:
        scores = logits + noise_scale * gumbel_noise(logits.shape, generator, logits.device)
    soft = torch.softmax(scores / tau, dim=1)
    hard = one_hot_argmax(scores)
    # Parenthesised so the forward value is exactly one-hot ((hard + soft) − soft rounds to 0.99999994).
    return hard + (soft - soft.detach())


def sort_by_area(regions: torch.Tensor) -> torch.Tensor:
    """Regions [B,K,H,W] (one-hot, may carry ST gradients) with each image's channels reordered by area,
    largest first (ties keep channel order); empty channels go last. Gradients follow the permutation."""
    area = regions.detach().sum(dim=(2, 3))  # [B,K]
    order = torch.sort(area, dim=1, descending=True, stable=True).indices
    return regions.gather(1, order[:, :, None, None].expand_as(regions))
