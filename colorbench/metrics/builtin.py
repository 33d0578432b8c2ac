"""The built-in metrics: PSNR and FID (the paper's), SSIM, CIEDE2000 ΔE and colourfulness, as vectorised torch.

Each per-image function maps uint8 [B,3,H,W] prediction and ground truth (0..255) to float64 per image, and
is tested against its reference (scikit-image for SSIM and ΔE2000, a hand-worked example for CF). They are
registered with `register_metric` and declared as `colorbench.metrics` entry points in pyproject.toml, the
mechanism a third-party metric uses.
"""

from __future__ import annotations

import math

import torch

from colorbench.color.lab import _RGB2XYZ, WHITE
from colorbench.metrics.psnr import psnr_uint8
from colorbench.metrics.registry import metric, register_metric

SSIM_WIN = 7  # scikit-image's default window (uniform filter, gaussian_weights=False)
SSIM_K1, SSIM_K2 = 0.01, 0.03
CF_MEAN_WEIGHT = 0.3  # Hasler & Süsstrunk 2003, Eq. (the M^(3) metric): σ_rgyb + 0.3·μ_rgyb


@register_metric("psnr", higher_is_better=True, headers=("PSNR",),
                 description="8-bit PSNR as the official code (dB); always computed: NRI and the curves use it")
def psnr(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """PSNR [B] float64 in dB of uint8 [B,3,H,W] images (colorbench.metrics.psnr_uint8)."""
    return psnr_uint8(pred, gt)


# Dataset-level: computed from cached Inception features (colorbench.metrics.fid, protocols.fid_sets), not here.
fid = metric("fid", higher_is_better=False, dataset_level=True, needs_weights=True, headers=("FID",),
             description="Fréchet Inception distance to the test ground truth (torch-fidelity; "
                         "needs the Inception weights, see --fid-weights)")(None)


def _window_sums(x: torch.Tensor) -> torch.Tensor:
    """Sums over every full SSIM_WIN² window of int32 x [B,C,H,W] → int32 [B,C,H−6,W−6], separably by shifted
    adds (6× faster than avg_pool2d's CPU kernel). Integer arithmetic: every sum is exact (49·255² < 2^31)."""
    h, w = x.shape[-2:]
    rows = x[..., : w - SSIM_WIN + 1].clone()
    for k in range(1, SSIM_WIN):
        rows += x[..., k : w - SSIM_WIN + 1 + k]
    out = rows[..., : h - SSIM_WIN + 1, :].clone()
    for k in range(1, SSIM_WIN):
        out += rows[..., k : h - SSIM_WIN + 1 + k, :]
    return out


def ssim_reference(gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ground truth's share of SSIM, computed once per image rather than once per hint level: (y int32
    [B,3,H,W], its window sums Σy int32 [B,3,H−6,W−6], 49·Σy² − (Σy)² int32 (49·48 × its sample variance))."""
    if min(gt.shape[-2:]) < SSIM_WIN:
        raise ValueError(f"SSIM needs images of at least {SSIM_WIN}×{SSIM_WIN} pixels, got {tuple(gt.shape[-2:])}")
    y = gt.to(torch.int32)
    sums = _window_sums(torch.cat([y, y * y], dim=1))
    sy, syy = sums.split(y.shape[1], dim=1)
    return y, sy, SSIM_WIN**2 * syy - sy * sy


def ssim_score(pred: torch.Tensor, y: torch.Tensor, sy: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """SSIM [B] float64 of uint8 pred [B,3,H,W] against a ground truth given as `ssim_reference`.

    Window sums and the variance/covariance numerators 49·Σxy − Σx·Σy are exact integers (all < 2^31); only the
    final ratio is float32 (relative error ~1e-7 per window), averaged in float64."""
    x = pred.to(torch.int32)
    c = x.shape[1]
    sx, sxx, sxy = _window_sums(torch.cat([x, x * x, x * y], dim=1)).split(c, dim=1)
    n = SSIM_WIN**2
    dx, dxy = n * sxx - sx * sx, n * sxy - sx * sy
    c1, c2 = (SSIM_K1 * 255.0) ** 2, (SSIM_K2 * 255.0) ** 2
    # u = Σ/n, and scikit-image's sample covariance v = (n·Σxy − Σx·Σy) / (n·(n − 1)).
    mean_n, cov_n = 1.0 / (n * n), 1.0 / (n * (n - 1))
    num = ((2 * mean_n) * (sx * sy).float() + c1) * ((2 * cov_n) * dxy.float() + c2)
    den = (mean_n * (sx * sx + sy * sy).float() + c1) * (cov_n * (dx + dy).float() + c2)
    return (num / den).flatten(1).sum(dim=1, dtype=torch.float64) / num[0].numel()


@register_metric("ssim", higher_is_better=True, headers=("SSIM",), tolerance=0.005,
                 prepared=(ssim_reference, ssim_score),
                 description="structural similarity to the ground truth, -1..1 (scikit-image defaults, data "
                             "range 255, mean over channels)")
def ssim(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """SSIM [B] float64 of uint8 [B,3,H,W] images (H, W ≥ 7), equal (to ~1e-7) to scikit-image's
    `structural_similarity(p, g, channel_axis=-1, data_range=255)`: 7×7 uniform windows, sample covariance,
    the mean over windows that lie fully inside the image (scikit-image crops the 3-pixel border)."""
    return ssim_score(pred, *ssim_reference(gt))


def _polar_2pi(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(radius, angle in [0, 2π)) as scikit-image's _cart2polar_2pi (√(x²+y²): Lab values cannot overflow, and
    it is 3× faster than hypot)."""
    t = torch.atan2(y, x)
    return torch.sqrt(x * x + y * y), torch.where(t < 0, t + 2 * math.pi, t)


def _pow7(x: torch.Tensor) -> torch.Tensor:
    """x⁷ by three multiplications (pow is the slowest elementwise op on this CPU)."""
    x2 = x * x
    return x2 * x2 * x2 * x


def _sin_small(x: torch.Tensor) -> torch.Tensor:
    """sin x for x in [0, π/3] (ΔE2000's 2Δθ) by its Taylor series to x¹³: relative error < 2e-12, a fraction
    of a sin's cost on this CPU."""
    x2 = x * x
    return x * (1 - x2 / 6 * (1 - x2 / 20 * (1 - x2 / 42 * (1 - x2 / 72 * (1 - x2 / 110 * (1 - x2 / 156))))))


def ciede2000(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """CIEDE2000 colour difference [B,H,W] of Lab images [B,3,H,W] (kL = kC = kH = 1), a port of
    scikit-image's `deltaE_ciede2000` (same branch rules for hue wrap-around and zero chroma)."""
    L1, a1, b1 = lab1.unbind(1)
    L2, a2, b2 = lab2.unbind(1)
    cbar = 0.5 * (torch.sqrt(a1 * a1 + b1 * b1) + torch.sqrt(a2 * a2 + b2 * b2))
    c7 = _pow7(cbar)
    scale = 1 + 0.5 * (1 - torch.sqrt(c7 / (c7 + 25.0**7)))
    C1, h1 = _polar_2pi(a1 * scale, b1)
    C2, h2 = _polar_2pi(a2 * scale, b2)

    tmp = 0.5 * (L1 + L2) - 50
    tmp = tmp * tmp
    l_term = (L2 - L1) / (1 + 0.015 * tmp / torch.sqrt(20 + tmp))
    cbar = 0.5 * (C1 + C2)
    c_term = (C2 - C1) / (1 + 0.045 * cbar)

    h_diff, h_sum, cc = h2 - h1, h1 + h2, C1 * C2
    zero = cc == 0.0
    # torch.where, not arithmetic on masks: bool × Python float is float32 and would round the hue to 1e-7.
    tau = 2 * math.pi
    # 2·√(C1C2)·sin(Δh/2), Δh = h2 − h1 wrapped to [−π, π], without a sin (the slowest op here): from the
    # cross and dot products of the two (a', b) vectors, C1C2·sin Δh and C1C2·cos Δh. Near Δh = 0 it is
    # √2·cross/√(C1C2 + dot), near ±π ±√(2(C1C2 − dot)): each form where it has no cancellation.
    ap1, ap2 = a1 * scale, a2 * scale
    cross, dot = ap1 * b2 - b1 * ap2, ap1 * ap2 + b1 * b2
    near = math.sqrt(2) * cross / torch.sqrt((cc + dot).clamp_min(1e-30))
    # Far from 0 the sign is the wrapped Δh's, from the hues (as scikit-image): near an antipode the sign of
    # `cross` is rounding noise, and ΔE2000 is discontinuous there.
    wrap = ~zero & (h_diff.abs() > math.pi)
    sign = torch.where(wrap, -torch.sign(h_diff), torch.sign(h_diff))
    far = sign * torch.sqrt((2 * (cc - dot)).clamp_min(0))
    dh_term = torch.where(zero, torch.zeros_like(cc), torch.where(dot >= 0, near, far))
    hbar = torch.where(wrap, torch.where(h_sum < tau, h_sum + tau, h_sum - tau), h_sum)
    hbar = torch.where(zero, hbar * 2, hbar) * 0.5
    t = (1 - 0.17 * torch.cos(hbar - math.radians(30)) + 0.24 * torch.cos(2 * hbar)
         + 0.32 * torch.cos(3 * hbar + math.radians(6)) - 0.20 * torch.cos(4 * hbar - math.radians(63)))
    h_term = dh_term / (1 + 0.015 * cbar * t)

    c7 = _pow7(cbar)
    rc = 2 * torch.sqrt(c7 / (c7 + 25.0**7))
    z = (torch.rad2deg(hbar) - 275) / 25
    dtheta = math.radians(30) * torch.exp(-(z * z))
    r_term = -_sin_small(2 * dtheta) * rc * c_term * h_term
    return torch.sqrt((l_term * l_term + c_term * c_term + h_term * h_term + r_term).clamp_min(0))


def lab_uint8(image: torch.Tensor) -> torch.Tensor:
    """CIE Lab float32 [B,3,H,W] of uint8 sRGB [B,3,H,W] (D65, colorbench.color.lab's = scikit-image's constants): the
    sRGB linearisation is a 256-entry table (computed in float64), the rest float32."""
    # index_select on a flat int32 index is ~5× faster than advanced indexing on this CPU.
    lin = _SRGB_LINEAR.to(image.device).index_select(0, image.reshape(-1).int()).view(image.shape)
    t = torch.einsum("ij,bjhw->bihw", _RGB2XYZ_WHITE.to(image.device), lin)
    tc = t.clamp_min(1e-8)
    cube = torch.exp(torch.log(tc) * (1.0 / 3.0))
    cube = cube - (cube * cube * cube - tc) / (3 * cube * cube)  # one Newton step: pow(1/3)'s accuracy, 2× faster
    f = torch.where(t > 0.008856, cube, 7.787 * t + 16.0 / 116.0)
    fx, fy, fz = f.unbind(1)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)


def _linear_table() -> torch.Tensor:
    c = torch.arange(256, dtype=torch.float64) / 255.0
    return torch.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92).float()


_SRGB_LINEAR = _linear_table()  # [256] float32
_RGB2XYZ_WHITE = (_RGB2XYZ / torch.tensor(WHITE, dtype=torch.float64)[:, None]).float()  # white point folded in


def deltae_reference(gt: torch.Tensor) -> tuple[torch.Tensor]:
    """The ground truth's Lab float32 [B,3,H,W], once per image rather than once per hint level."""
    return (lab_uint8(gt),)


def deltae_score(pred: torch.Tensor, lab_gt: torch.Tensor) -> torch.Tensor:
    """Mean ΔE2000 [B] float64 over pixels of uint8 pred [B,3,H,W] against the ground truth's Lab."""
    return ciede2000(lab_uint8(pred), lab_gt).flatten(1).sum(dim=1, dtype=torch.float64) / lab_gt[0, 0].numel()


@register_metric("deltae", higher_is_better=False, headers=("ΔE00",), tolerance=0.25,
                 prepared=(deltae_reference, deltae_score),
                 description="mean CIEDE2000 colour difference to the ground truth over pixels, in Lab "
                             "(≈1 = just noticeable)")
def deltae(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean ΔE2000 [B] float64 over pixels of uint8 [B,3,H,W] images, in CIE Lab (D65; colorbench.color.lab, whose
    sRGB → XYZ → Lab constants are scikit-image's `rgb2lab`), computed in float32 (~1e-5 of scikit-image's)."""
    return deltae_score(pred, *deltae_reference(gt))


def colourfulness(image: torch.Tensor) -> torch.Tensor:
    """Hasler & Süsstrunk (2003) colourfulness [B] float64 of uint8 [B,3,H,W] on 0..255 values:
    rg = R − G, yb = (R + G)/2 − B, CF = √(σ_rg² + σ_yb²) + 0.3·√(μ_rg² + μ_yb²), σ the population std.
    rg, yb and their squares are exact in float32 (multiples of ½ below 2^16); their sums are float64."""
    r, g, b = image.float().flatten(2).unbind(1)
    opp = torch.stack([r - g, 0.5 * (r + g) - b], dim=1)  # [B,2,HW]
    n = opp.shape[-1]
    mean = opp.sum(dim=-1, dtype=torch.float64) / n
    var = ((opp * opp).sum(dim=-1, dtype=torch.float64) / n - mean * mean).clamp_min(0)
    return torch.sqrt(var.sum(dim=1)) + CF_MEAN_WEIGHT * torch.sqrt((mean * mean).sum(dim=1))


def cf_reference(gt: torch.Tensor) -> tuple[torch.Tensor]:
    """The ground truth's CF [B] float64, once per image."""
    return (colourfulness(gt),)


def cf_score(pred: torch.Tensor, cf_gt: torch.Tensor) -> torch.Tensor:
    """[B,2] float64: CF of uint8 pred [B,3,H,W] and |CF(pred) − CF(gt)|."""
    cf_pred = colourfulness(pred)
    return torch.stack([cf_pred, (cf_pred - cf_gt).abs()], dim=1)


@register_metric("cf", higher_is_better=(None, False), columns=("cf", "dcf"), headers=("CF", "|ΔCF|"), tolerance=1.0,
                 prepared=(cf_reference, cf_score),
                 description="colourfulness of the output (Hasler & Süsstrunk 2003; no direction) and its "
                             "absolute difference to the ground truth's (lower is better)")
def cf(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """[B,2] float64: CF of the prediction and |CF(pred) − CF(gt)|, uint8 [B,3,H,W] inputs."""
    return cf_score(pred, *cf_reference(gt))
