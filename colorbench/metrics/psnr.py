"""Per-image image metrics: PSNR exactly as the paper's code computes it (docs/protocol.md), and SSIM.

FID lives in `colorbench.metrics.fid` (it needs weights and a feature cache).
"""

from __future__ import annotations

import torch

PSNR_IDENTICAL = 100.0  # dB reported when MSE = 0 (docs/protocol.md E2.2); the official code has no guard


def to_uint8(image: torch.Tensor) -> torch.Tensor:
    """[B,3,H,W] in [-1,1] → uint8 [B,3,H,W]: (y+1)·127.5 rounded to the nearest level, clamped to 0..255.

    The exact inverse of the datasets' uint8 → [-1,1] mapping (`data.base.u8_to_tensor`, v/127.5 − 1): a
    ground truth goes back to the dataset's own bytes, so metrics compare outputs with the dataset's
    images. The official `calculate_psnr` truncates instead, which turns about 4 % of a toon image's
    channel values v into v − 1 (its float round trip lands just below v).
    """
    return (image.float() + 1.0).mul(127.5).round().clamp(0.0, 255.0).to(torch.uint8)


def psnr_uint8(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR [B] float64 of uint8 images [B,3,H,W]: 20·log10(255/√MSE), MSE over all values."""
    diff = pred.to(torch.float64) - target.to(torch.float64)
    mse = diff.pow(2).flatten(1).mean(dim=1)
    out = 20.0 * torch.log10(255.0 / mse.sqrt())
    return torch.where(mse > 0, out, torch.full_like(out, PSNR_IDENTICAL))


def psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR [B] float64 of [B,3,H,W] images in [-1,1] (quantised first, see `to_uint8`)."""
    return psnr_uint8(to_uint8(pred), to_uint8(target))
