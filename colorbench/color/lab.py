"""sRGB ↔ CIE Lab in torch (differentiable), with the constants of RTUG/CIC's code.

Also the normalisation RTUG and CIC feed their networks: L_norm = (L−50)/100, a/110, b/110.
"""

from __future__ import annotations

import torch

# sRGB (D65) → XYZ, as the hand-written chain in colorization-pytorch.
_RGB2XYZ = torch.tensor(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=torch.float64,
)
_XYZ2RGB = torch.linalg.inv(_RGB2XYZ)
WHITE = (0.95047, 1.0, 1.08883)
L_CENT, L_NORM, AB_NORM = 50.0, 100.0, 110.0
_EPS = 0.008856  # CIE knee of f(t); 7.787 is its linear-segment slope
_TINY = 1e-8  # keeps pow() finite and its gradient bounded near 0


def _channel_matmul(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply a 3×3 colour matrix over dim 1 of x [B,3,H,W]."""
    return torch.einsum("ij,bjhw->bihw", matrix.to(x), x)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """rgb [B,3,H,W] in [0,1] (sRGB) → Lab [B,3,H,W]: L in [0,100], a,b roughly in [-110,110]."""
    c = rgb.clamp(0.0, 1.0)
    linear = torch.where(c > 0.04045, ((c + 0.055) / 1.055).clamp_min(_TINY) ** 2.4, c / 12.92)
    xyz = _channel_matmul(_RGB2XYZ, linear)
    white = torch.tensor(WHITE, dtype=xyz.dtype, device=xyz.device).view(1, 3, 1, 1)
    t = xyz / white
    f = torch.where(t > _EPS, t.clamp_min(_TINY) ** (1.0 / 3.0), 7.787 * t + 16.0 / 116.0)
    fx, fy, fz = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    return torch.cat([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)


def lab_to_rgb_unclipped(lab: torch.Tensor) -> torch.Tensor:
    """Lab [B,3,H,W] → sRGB [B,3,H,W] *before* clipping: values outside [0,1] mean out of gamut."""
    L, a, b = lab[:, 0:1], lab[:, 1:2], lab[:, 2:3]
    fy = (L + 16.0) / 116.0
    f = torch.cat([fy + a / 500.0, fy, fy - b / 200.0], dim=1)
    t = torch.where(f**3 > _EPS, f**3, (f - 16.0 / 116.0) / 7.787)
    white = torch.tensor(WHITE, dtype=lab.dtype, device=lab.device).view(1, 3, 1, 1)
    linear = _channel_matmul(_XYZ2RGB, t * white)
    pos = linear.clamp_min(_TINY)
    return torch.where(linear > 0.0031308, 1.055 * pos ** (1.0 / 2.4) - 0.055, 12.92 * linear)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab [B,3,H,W] → sRGB [B,3,H,W] in [0,1] (out-of-gamut colours clipped per channel)."""
    return lab_to_rgb_unclipped(lab).clamp(0.0, 1.0)


def normalize_lab(lab: torch.Tensor) -> torch.Tensor:
    """Lab → RTUG's network units: ((L−50)/100, a/110, b/110); L_norm in [-0.5,0.5], ab in ~[-1,1]."""
    return torch.cat([(lab[:, 0:1] - L_CENT) / L_NORM, lab[:, 1:3] / AB_NORM], dim=1)


def denormalize_lab(norm: torch.Tensor) -> torch.Tensor:
    """Inverse of `normalize_lab`; L is clamped to [0,100] since a tanh head can overshoot it."""
    L = (norm[:, 0:1] * L_NORM + L_CENT).clamp(0.0, 100.0)
    return torch.cat([L, norm[:, 1:3] * AB_NORM], dim=1)


def signed_to_lab(image: torch.Tensor) -> torch.Tensor:
    """colorbench colour [B,3,H,W] in [-1,1] → Lab [B,3,H,W]."""
    return rgb_to_lab((image + 1.0) / 2.0)


def lab_to_signed(lab: torch.Tensor) -> torch.Tensor:
    """Lab [B,3,H,W] → colorbench colour [B,3,H,W] in [-1,1] (clipped to the sRGB gamut)."""
    return lab_to_rgb(lab) * 2.0 - 1.0
