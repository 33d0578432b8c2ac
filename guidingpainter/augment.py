"""Training augmentation of the official GuidingPainter code, on tensors, from a torch.Generator.

1. colour image only: brightness/contrast (±0.2, p=0.5), then hue/saturation/value shift (±20 of 180,
   ±30 of 255, ±20 of 255, p=0.5): the target is jittered relative to the unchanged sketch;
2. jointly: one of {RandomResizedCrop(scale 0.08-1, ratio 3/4-4/3) with nearest / bilinear / bicubic /
   area / antialiased-bicubic (stands in for cv2's Lanczos4) interpolation, plain resize (identity here)};
3. jointly: horizontal flip, p=0.5.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

CROP_MODES = ("nearest", "bilinear", "bicubic", "area", "lanczos", "none")


def _uniform(generator: torch.Generator, n: int, low: float, high: float) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=generator.device).cpu() * (high - low) + low


def _coin(generator: torch.Generator, n: int, prob: float = 0.5) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=generator.device).cpu() < prob


def rgb_to_hsv(rgb: torch.Tensor) -> torch.Tensor:
    """[B,3,H,W] RGB in [0,1] → HSV in [0,1] (hue as a fraction of a turn)."""
    r, g, b = rgb.unbind(1)
    maxc, _ = rgb.max(dim=1)
    minc, _ = rgb.min(dim=1)
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    hue = torch.where(
        maxc == r, ((g - b) / safe) % 6.0, torch.where(maxc == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0)
    )
    hue = torch.where(delta > 0, hue / 6.0, torch.zeros_like(hue))
    sat = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), torch.zeros_like(maxc))
    return torch.stack([hue, sat, maxc], dim=1)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """Inverse of `rgb_to_hsv`: [B,3,H,W] HSV in [0,1] → RGB in [0,1]."""
    h, s, v = hsv.unbind(1)

    def channel(n: float) -> torch.Tensor:  # closed form f(n) = v − v·s·clamp(min(k, 4−k), 0, 1)
        k = (n + h * 6.0) % 6.0
        return v - v * s * torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)

    return torch.stack([channel(n) for n in (5.0, 3.0, 1.0)], dim=1)


def jitter_colors(color: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Step 1 on colour Y [B,3,H,W] in [-1,1] → jittered Y in [-1,1]."""
    b = color.shape[0]
    y = (color + 1.0) / 2.0
    view = (b, 1, 1, 1)
    # Brightness/contrast: y·α + β with α = 1 ± 0.2, β = ± 0.2 (albumentations, brightness_by_max).
    use_bc = _coin(generator, b).to(y.device).view(view)
    alpha = (1.0 + _uniform(generator, b, -0.2, 0.2)).to(y.device).view(view)
    beta = _uniform(generator, b, -0.2, 0.2).to(y.device).view(view)
    y = torch.where(use_bc, (y * alpha + beta).clamp(0.0, 1.0), y)
    # HSV shift in OpenCV units: hue ±20 of 180, saturation ±30 of 255, value ±20 of 255.
    use_hsv = _coin(generator, b).to(y.device).view(view)
    dh = (_uniform(generator, b, -20.0, 20.0) / 180.0).to(y.device).view(b, 1, 1)
    ds = (_uniform(generator, b, -30.0, 30.0) / 255.0).to(y.device).view(b, 1, 1)
    dv = (_uniform(generator, b, -20.0, 20.0) / 255.0).to(y.device).view(b, 1, 1)
    h, s, v = rgb_to_hsv(y).unbind(1)
    shifted = hsv_to_rgb(torch.stack([(h + dh) % 1.0, (s + ds).clamp(0, 1), (v + dv).clamp(0, 1)], dim=1))
    y = torch.where(use_hsv, shifted, y)
    return y * 2.0 - 1.0


def crop_box(generator: torch.Generator, height: int, width: int, scale: tuple[float, float] = (0.08, 1.0),
             ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> tuple[int, int, int, int]:
    """RandomResizedCrop's box (top, left, h, w): 10 tries at random area/aspect, else a centred crop."""
    area = height * width
    for _ in range(10):
        target = area * float(_uniform(generator, 1, *scale))
        aspect = math.exp(float(_uniform(generator, 1, math.log(ratio[0]), math.log(ratio[1]))))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator, device=generator.device))
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator, device=generator.device))
            return top, left, h, w
    # Fallback as torchvision: the whole image clipped to the allowed aspect range, centred.
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif aspect > ratio[1]:
        h, w = height, round(height * ratio[1])
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def _resize(image: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    if mode in ("bilinear", "bicubic"):
        return F.interpolate(image, size=size, mode=mode, align_corners=False)
    if mode == "lanczos":
        return F.interpolate(image, size=size, mode="bicubic", align_corners=False, antialias=True)
    return F.interpolate(image, size=size, mode=mode)


def crop_and_flip(sketch: torch.Tensor, color: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Steps 2-3 applied identically to sketch [B,1,H,W] and colour [B,3,H,W]; sizes are kept."""
    b, _, height, width = sketch.shape
    joint = torch.cat([sketch, color], dim=1)
    modes = torch.randint(0, len(CROP_MODES), (b,), generator=generator, device=generator.device).cpu()
    out = []
    for i in range(b):
        image = joint[i : i + 1]
        mode = CROP_MODES[int(modes[i])]
        if mode != "none":
            top, left, h, w = crop_box(generator, height, width)
            image = _resize(image[:, :, top : top + h, left : left + w], (height, width), mode)
        out.append(image)
    joint = torch.cat(out, dim=0).clamp(-1.0, 1.0)  # bicubic overshoots
    flip = _coin(generator, b).to(joint.device).view(b, 1, 1, 1)
    joint = torch.where(flip, joint.flip(-1), joint)
    return joint[:, :1], joint[:, 1:]


def augment_batch(sketch: torch.Tensor, color: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The full training augmentation: sketch [B,1,H,W], colour [B,3,H,W] in [-1,1] → same shapes."""
    color = jitter_colors(color, generator)
    return crop_and_flip(sketch, color, generator)
