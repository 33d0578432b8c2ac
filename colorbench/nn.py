"""The one U-Net (paper Table 5) and the one PatchGAN discriminator, shared by every model.

Widths scale with a multiplier `width` (paper = 1.0 → 64 base channels); depth, strides and heads never
change, so a CPU-sized model is the paper's architecture made narrower.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# Both nets keep weights and activations channels-last: oneDNN's convolutions (and their backward) are
# ~12 % faster per GuidingPainter training step on this CPU (benchmarks/README.md) and it is the layout
# tensor cores want under AMP. Loading a state dict copies into these tensors, so the layout survives it.
LAYOUT = torch.channels_last


def channels(base: int, width: float) -> int:
    """base·width, at least 4 channels (BatchNorm needs a few)."""
    return max(4, round(base * width))


NORMS = ("batch", "group")  # batch: Table 5 (BatchNorm); group: GroupNorm, no batch statistics (a deviation)


def norm_layer(kind: str, c: int) -> nn.Module:
    """The normalisation after each U-Net conv: BatchNorm2d (paper) or GroupNorm of ~4 channels per group.

    GroupNorm normalises each image by itself, so training and inference see the same statistics and an
    image's output never depends on its batch; what it does to GuidingPainter is measured in
    docs/recipes.md ("GuidingPainter's seed sensitivity").
    """
    if kind == "batch":
        return nn.BatchNorm2d(c)
    if kind == "group":
        return nn.GroupNorm(math.gcd(c, max(1, min(32, c // 4))), c)
    raise ValueError(f"unknown norm {kind!r}; known: {', '.join(NORMS)}")


def max_pool2(x: torch.Tensor) -> torch.Tensor:
    """2×2 max pooling with stride 2, [B,C,H,W] → [B,C,H/2,W/2].

    Without autograd it is the element-wise max of the four strided quarter-images: the same values as
    F.max_pool2d, ~10× faster than its CPU kernel (which also builds argmax indices; 12 % of a U-Net
    forward). With autograd (or odd sizes) it is F.max_pool2d, whose gradient goes to the first maximum.
    """
    if (torch.is_grad_enabled() and x.requires_grad) or x.shape[-1] % 2 or x.shape[-2] % 2:
        return F.max_pool2d(x, 2)
    top = torch.maximum(x[..., 0::2, 0::2], x[..., 0::2, 1::2])
    return torch.maximum(top, torch.maximum(x[..., 1::2, 0::2], x[..., 1::2, 1::2]))


class DoubleConv(nn.Module):
    """(Conv3×3 → BN → ReLU) × 2, Table 5's building block (BN: `norm_layer(norm, ·)`)."""

    def __init__(self, cin: int, cout: int, mid: int | None = None, norm: str = "batch") -> None:
        super().__init__()
        mid = mid or cout
        self.block = nn.Sequential(
            nn.Conv2d(cin, mid, 3, padding=1),
            norm_layer(norm, mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 3, padding=1),
            norm_layer(norm, cout),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Up(nn.Module):
    """Bilinear ×2 (align_corners=True), pad to the skip's size, concat [skip, up], DoubleConv(mid=in/2)."""

    def __init__(self, cin: int, cout: int, norm: str = "batch") -> None:
        super().__init__()
        self.conv = DoubleConv(cin, cout, mid=cin // 2, norm=norm)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        dy, dx = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
        if dy or dx:  # odd sizes: pad so the skip connection lines up
            x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class UNet(nn.Module):
    """Table 5: E1..E4 and D0 encoder (maxpool down), D1..D4 decoder (bilinear up + skip), 1×1 out.

    x [B,cin,H,W] → [B,cout,H,W] raw (no activation). H and W should be divisible by 16. `norm` is one of
    NORMS (paper: "batch").
    """

    def __init__(self, cin: int, cout: int, width: float = 1.0, norm: str = "batch") -> None:
        super().__init__()
        c1, c2, c3, c4 = (channels(b, width) for b in (64, 128, 256, 512))
        self.e1 = DoubleConv(cin, c1, norm=norm)
        self.e2 = DoubleConv(c1, c2, norm=norm)
        self.e3 = DoubleConv(c2, c3, norm=norm)
        self.e4 = DoubleConv(c3, c4, norm=norm)
        self.d0 = DoubleConv(c4, c4, norm=norm)  # bottleneck: 512 → 512 (Table 5, bilinear variant)
        self.d1 = Up(2 * c4, c3, norm)
        self.d2 = Up(2 * c3, c2, norm)
        self.d3 = Up(2 * c2, c1, norm)
        self.d4 = Up(2 * c1, c1, norm)
        self.out = nn.Conv2d(c1, cout, 1)
        self.to(memory_format=LAYOUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.e1(x.contiguous(memory_format=LAYOUT))
        x2 = self.e2(max_pool2(x1))
        x3 = self.e3(max_pool2(x2))
        x4 = self.e4(max_pool2(x3))
        x5 = self.d0(max_pool2(x4))
        y = self.d1(x5, x4)
        y = self.d2(y, x3)
        y = self.d3(y, x2)
        y = self.d4(y, x1)
        return self.out(y)


class PatchGAN(nn.Module):
    """pix2pix "basic" 70×70 PatchGAN on concat(condition, image); outputs a logit map [B,1,h,w].

    For a 256² input the map is 30×30. Convs followed by BN carry no bias.
    """

    def __init__(self, cin: int, width: float = 1.0, n_layers: int = 3) -> None:
        super().__init__()
        ndf = channels(64, width)
        layers: list[nn.Module] = [nn.Conv2d(cin, ndf, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        mult = 1
        for i in range(1, n_layers + 1):
            prev, mult = mult, min(2**i, 8)
            stride = 2 if i < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=False),
                nn.BatchNorm2d(ndf * mult),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        self.to(memory_format=LAYOUT)

    def forward(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([condition, image], dim=1).contiguous(memory_format=LAYOUT))


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """Paper supplement C: conv weights N(0, 0.02), biases 0; BN (or GroupNorm) γ ~ N(1, 0.02), β = 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def lsgan_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss: mean (D − 1)² for real targets, mean D² for fake."""
    target = 1.0 if real else 0.0
    return ((logits - target) ** 2).mean()


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    """Freeze D during the G step so its parameters never collect generator gradients."""
    for p in module.parameters():
        p.requires_grad_(flag)
