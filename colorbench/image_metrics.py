"""The built-in metrics: PSNR and FID (the paper's), SSIM, CIEDE2000 ΔE and colourfulness, as vectorised torch.

Each per-image function maps uint8 [B,3,H,W] prediction and ground truth (0..255) to float64 per image, and
is tested against its reference (scikit-image for SSIM and ΔE2000, a hand-worked example for CF). They are
registered with `register_metric` and declared as `colorbench.metrics` entry points in pyproject.toml, the
mechanism a third-party metric uses.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from colorbench.lab import rgb_to_lab
from colorbench.metric_registry import metric, register_metric
from colorbench.metrics import psnr_uint8

SSIM_WIN = 7  # scikit-image's default window (uniform filter, gaussian_weights=False)
SSIM_K1, SSIM_K2 = 0.01, 0.03
CF_MEAN_WEIGHT = 0.3  # Hasler & Süsstrunk 2003, Eq. (the M^(3) metric): σ_rgyb + 0.3·μ_rgyb


@register_metric("psnr", higher_is_better=True, headers=("PSNR",),
                 description="8-bit PSNR as the official code (dB); always computed: NRI and the curves use it")
def psnr(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """PSNR [B] float64 in dB of uint8 [B,3,H,W] images (colorbench.metrics.psnr_uint8)."""
    return psnr_uint8(pred, gt)


# Dataset-level: computed from cached Inception features (colorbench.fid, protocols.fid_sets), not here.
fid = metric("fid", higher_is_better=False, dataset_level=True, needs_weights=True, headers=("FID",),
             description="Fréchet Inception distance to the test ground truth (torch-fidelity; "
                         "needs the Inception weights, see --fid-weights)")(None)


def _box_sums(x: torch.Tensor) -> torch.Tensor:
    """Sums over every full SSIM_WIN² window of x [B,C,H,W] → [B,C,H−6,W−6], separably.

    Inputs are integers below 2^16 (values and products of uint8), so every partial sum (at most 49·255²
    < 2^24) is exact in float32: the sums equal float64 ones bit for bit at half the memory traffic.
    """
    x = F.avg_pool2d(x, (SSIM_WIN, 1), stride=1, divisor_override=1)
    return F.avg_pool2d(x, (1, SSIM_WIN), stride=1, divisor_override=1)


@register_metric("ssim", higher_is_better=True, headers=("SSIM",), tolerance=0.005,
                 description="structural similarity to the ground truth, -1..1 (scikit-image defaults, data "
                             "range 255, mean over channels)")
def ssim(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """SSIM [B] float64 of uint8 [B,3,H,W] images (H, W ≥ 7), equal to scikit-image's
    `structural_similarity(p, g, channel_axis=-1, data_range=255)`: 7×7 uniform windows, sample covariance,
    the mean over windows that lie fully inside the image (scikit-image crops the 3-pixel border)."""
    if min(pred.shape[-2:]) < SSIM_WIN:
        raise ValueError(f"SSIM needs images of at least {SSIM_WIN}×{SSIM_WIN} pixels, got {tuple(pred.shape[-2:])}")
    x, y = pred.float(), gt.float()
    b, c = x.shape[:2]
    sums = _box_sums(torch.cat([x, y, x * x, y * y, x * y], dim=1)).double() / (SSIM_WIN * SSIM_WIN)
    ux, uy, uxx, uyy, uxy = sums.split(c, dim=1)
    cov_norm = SSIM_WIN**2 / (SSIM_WIN**2 - 1.0)  # scikit-image's use_sample_covariance=True
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    c1, c2 = (SSIM_K1 * 255.0) ** 2, (SSIM_K2 * 255.0) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.reshape(b, -1).mean(dim=1)


def _polar_2pi(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(radius, angle in [0, 2π)) as scikit-image's _cart2polar_2pi."""
    t = torch.atan2(y, x)
    return torch.hypot(x, y), torch.where(t < 0, t + 2 * math.pi, t)


def ciede2000(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """CIEDE2000 colour difference [B,H,W] of Lab images [B,3,H,W] (kL = kC = kH = 1), a port of
    scikit-image's `deltaE_ciede2000` (same branch rules for hue wrap-around and zero chroma)."""
    L1, a1, b1 = lab1.unbind(1)
    L2, a2, b2 = lab2.unbind(1)
    cbar = 0.5 * (torch.hypot(a1, b1) + torch.hypot(a2, b2))
    c7 = cbar**7
    scale = 1 + 0.5 * (1 - torch.sqrt(c7 / (c7 + 25.0**7)))
    C1, h1 = _polar_2pi(a1 * scale, b1)
    C2, h2 = _polar_2pi(a2 * scale, b2)

    tmp = (0.5 * (L1 + L2) - 50) ** 2
    l_term = (L2 - L1) / (1 + 0.015 * tmp / torch.sqrt(20 + tmp))
    cbar = 0.5 * (C1 + C2)
    c_term = (C2 - C1) / (1 + 0.045 * cbar)

    h_diff, h_sum, cc = h2 - h1, h1 + h2, C1 * C2
    zero = cc == 0.0
    # torch.where, not arithmetic on masks: bool × Python float is float32 and would round the hue to 1e-7.
    tau = 2 * math.pi
    dh = torch.where(h_diff > math.pi, h_diff - tau, torch.where(h_diff < -math.pi, h_diff + tau, h_diff))
    dh = torch.where(zero, torch.zeros_like(dh), dh)
    dh_term = 2 * torch.sqrt(cc) * torch.sin(dh / 2)
    wrap = ~zero & (h_diff.abs() > math.pi)
    hbar = torch.where(wrap, torch.where(h_sum < tau, h_sum + tau, h_sum - tau), h_sum)
    hbar = torch.where(zero, hbar * 2, hbar) * 0.5
    t = (1 - 0.17 * torch.cos(hbar - math.radians(30)) + 0.24 * torch.cos(2 * hbar)
         + 0.32 * torch.cos(3 * hbar + math.radians(6)) - 0.20 * torch.cos(4 * hbar - math.radians(63)))
    h_term = dh_term / (1 + 0.015 * cbar * t)

    c7 = cbar**7
    rc = 2 * torch.sqrt(c7 / (c7 + 25.0**7))
    dtheta = math.radians(30) * torch.exp(-(((torch.rad2deg(hbar) - 275) / 25) ** 2))
    r_term = -torch.sin(2 * dtheta) * rc * c_term * h_term
    return torch.sqrt((l_term**2 + c_term**2 + h_term**2 + r_term).clamp_min(0))


@register_metric("deltae", higher_is_better=False, headers=("ΔE00",), tolerance=0.25,
                 description="mean CIEDE2000 colour difference to the ground truth over pixels, in Lab "
                             "(≈1 = just noticeable)")
def deltae(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean ΔE2000 [B] float64 over pixels of uint8 [B,3,H,W] images, in CIE Lab (D65; colorbench.lab, whose
    sRGB → XYZ → Lab constants are scikit-image's `rgb2lab`)."""
    lab_p = rgb_to_lab(pred.double() / 255.0)
    lab_g = rgb_to_lab(gt.double() / 255.0)
    return ciede2000(lab_p, lab_g).flatten(1).mean(dim=1)


def colourfulness(image: torch.Tensor) -> torch.Tensor:
    """Hasler & Süsstrunk (2003) colourfulness [B] float64 of uint8 [B,3,H,W] on 0..255 values:
    rg = R − G, yb = (R + G)/2 − B, CF = √(σ_rg² + σ_yb²) + 0.3·√(μ_rg² + μ_yb²), σ the population std."""
    r, g, b = image.double().flatten(2).unbind(1)
    rg, yb = r - g, 0.5 * (r + g) - b
    spread = torch.sqrt(rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False))
    return spread + CF_MEAN_WEIGHT * torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2)


@register_metric("cf", higher_is_better=(None, False), columns=("cf", "dcf"), headers=("CF", "|ΔCF|"), tolerance=1.0,
                 description="colourfulness of the output (Hasler & Süsstrunk 2003; no direction) and its "
                             "absolute difference to the ground truth's (lower is better)")
def cf(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """[B,2] float64: CF of the prediction and |CF(pred) − CF(gt)|, uint8 [B,3,H,W] inputs."""
    cf_pred = colourfulness(pred)
    return torch.stack([cf_pred, (cf_pred - colourfulness(gt)).abs()], dim=1)
