"""Hint simulation: the bounded geometric Nh law G (Eq. 3) and nested region/point/stroke/none hints.

Every simulator draws the *whole ordered list* of Nc hints of an image once, from a seed derived from
(dataset, image id, tag) only (E5.5); the hints for n are its first n entries. So the
hints for n+1 contain those for n, and one pass over n = 0..Nc serves every protocol, whatever the batch
size, worker count or process count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from colorbench.api import HintKind, Hints
from colorbench.color.lab import lab_to_signed, signed_to_lab
from colorbench.defaults import EVAL
from colorbench.hint_counts import (  # noqa: F401  (re-exported: the hint law lives with its seeds)
    BoundedGeometric,
    image_rng,
    image_seed,
)


# ---------------------------------------------------------------------------------------------
# Region hints, differentiable (Eq. 4-8): used by GuidingPainter's h in training and by the simulator
# ---------------------------------------------------------------------------------------------
def region_means(color: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Eq. (6): c̄_i = mean of Y over S_i, 0 for an empty region.

    color [B,3,H,W] in [-1,1], regions [B,K,H,W] in {0,1} (may carry ST gradients) → [B,K,3].
    """
    area = regions.sum(dim=(2, 3))  # [B,K]
    total = torch.einsum("bkhw,bchw->bkc", regions, color)
    # Empty regions get exactly 0 (never NaN); the 1e-20 of the official code is replaced by a mask.
    return torch.where(area[..., None] > 0, total / area.clamp_min(1e-12)[..., None], torch.zeros_like(total))


def region_hints(color: torch.Tensor, regions: torch.Tensor, active: torch.Tensor) -> Hints:
    """Eq. (4)-(8): S̃_i = m_i S_i, C = Σ c̄_i S̃_i, M = Σ S̃_i.

    color [B,3,H,W], regions [B,K,H,W] (one-hot), active m [B,K] in {0,1} → Hints with regions = S.
    """
    means = region_means(color, regions)  # [B,K,3]
    masked = regions * active[:, :, None, None].to(regions.dtype)  # Eq. (5)
    hint_color = torch.einsum("bkhw,bkc->bchw", masked, means)  # Eq. (7)
    hint_mask = masked.sum(dim=1, keepdim=True)  # Eq. (8)
    return Hints(hint_color, hint_mask, regions)


def prefix_mask(n: torch.Tensor, k: int) -> torch.Tensor:
    """Eq. (4): m_i = 1 if i <= n. n [B] int → [B,k] float."""
    idx = torch.arange(1, k + 1, device=n.device)
    return (idx[None, :] <= n[:, None]).float()


def flat_fill(color: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Σ_i c̄_i S_i over all regions: the image the TV loss compares with Y (Eq. 11). [B,3,H,W]."""
    return torch.einsum("bkhw,bkc->bchw", regions, region_means(color, regions))


# ---------------------------------------------------------------------------------------------
# Nested hint sequences for evaluation
# ---------------------------------------------------------------------------------------------
@dataclass
class HintSequence:
    """The ordered list of a batch's Nc hints; `at(n)` reveals the first n of each image.

    masks:   [B,K,H,W] bool, where hint j covers.
    colors:  [B,K,3] float in [-1,1], the colour hint j paints.
    regions: [B,Nc,H,W] float or None, passed through to the model (region kind only).
    Hints are applied in order; a later hint overwrites an earlier one where they overlap.
    """

    masks: torch.Tensor
    colors: torch.Tensor
    regions: torch.Tensor | None = None

    @property
    def length(self) -> int:
        return self.masks.shape[1]

    def at(self, n: int | torch.Tensor) -> Hints:
        """Hints with the first n[b] entries of image b revealed; n int or [B] int64."""
        b, k, h, w = self.masks.shape
        device = self.masks.device
        n_t = torch.as_tensor(n, device=device).reshape(-1).expand(b) if not torch.is_tensor(n) or n.dim() == 0 else n
        order = torch.arange(1, k + 1, device=device).view(1, k, 1, 1)
        active = self.masks & (order <= n_t.view(b, 1, 1, 1).to(device))
        # Index of the last revealed hint covering each pixel (0 = none): later hints overwrite.
        top = (active.to(torch.int64) * order).amax(dim=1) if k else torch.zeros(b, h, w, dtype=torch.int64, device=device)
        palette = torch.cat([torch.zeros(b, 1, 3, device=device, dtype=self.colors.dtype), self.colors], dim=1)
        color = torch.gather(palette, 1, top.view(b, h * w, 1).expand(b, h * w, 3)).view(b, h, w, 3)
        mask = (top > 0).unsqueeze(1).to(self.colors.dtype)
        return Hints(color.permute(0, 3, 1, 2).contiguous() * mask, mask, self.regions)

    def stacked(self, levels: Sequence[int], with_regions: bool = True) -> Hints:
        """Hints at several uniform levels at once, level-major: rows [L*B] (row l*B+b = image b at levels[l]).

        Equal to concatenating `at(n)` over `levels`, but builds each level from the previous one with one
        [B,H,W] update per revealed hint instead of a pass over all K hints per level (engine hot path).
        `with_regions=False` leaves regions None instead of tiling them L times (L·B·Nc·H·W floats); the
        engine slices `self.regions` per chunk instead. Evaluation only: colours are gathered with `out=`,
        which autograd does not follow (use `at(n)` where gradients must reach the colours).
        """
        b, k, h, w = self.masks.shape
        device = self.masks.device
        top = torch.zeros(b, h, w, dtype=torch.int64, device=device)
        by_level: dict[int, torch.Tensor] = {}
        revealed = 0
        for n in sorted({int(v) for v in levels}):
            while revealed < min(n, k):
                top = torch.where(self.masks[:, revealed], revealed + 1, top)
                revealed += 1
            by_level[n] = top
        # Palette entry 0 is the "no hint" colour 0, so a gather of entry `top` needs no masking afterwards;
        # gathering channel-first straight into the output skips a [L,B,H,W,3] temporary and its permute.
        palette = torch.cat([torch.zeros(b, 1, 3, device=device, dtype=self.colors.dtype), self.colors], dim=1)
        palette_t = palette.transpose(1, 2).contiguous()  # [B,3,K+1]
        n_lv = len(levels)
        color = torch.empty(n_lv, b, 3, h * w, dtype=self.colors.dtype, device=device)
        mask = torch.empty(n_lv, b, 1, h * w, dtype=self.colors.dtype, device=device)
        for li, n in enumerate(levels):
            t = by_level[int(n)].view(b, 1, h * w)
            torch.gather(palette_t, 2, t.expand(b, 3, h * w), out=color[li])
            mask[li].copy_(t > 0)
        regions = None if self.regions is None or not with_regions else self.regions.repeat(n_lv, 1, 1, 1)
        return Hints(color.view(n_lv * b, 3, h, w), mask.view(n_lv * b, 1, h, w), regions)


def region_sequence(color: torch.Tensor, regions: torch.Tensor) -> HintSequence:
    """GuidingPainter's hints (E5.1): hint i = region S_i filled with c̄_i (Eq. 6). Nothing random."""
    return HintSequence(regions > 0.5, region_means(color, regions), regions)


def _patch_mean(color_np: np.ndarray, top: int, left: int, ph: int, pw: int) -> np.ndarray:
    return color_np[:, top : top + ph, left : left + pw].reshape(3, -1).mean(axis=1)


def point_sequence(
    color: torch.Tensor,
    seeds: Sequence[int],
    k: int = EVAL.nc,
    patch_sizes: Sequence[int] = tuple(range(1, 10)),
    regions: torch.Tensor | None = None,
) -> HintSequence:
    """RTUG point hints (E5.2): P ~ U{patch_sizes}, top-left ~ N(centre, range/4) clipped, mean colour.

    With `regions` (equalized mode, paper §4.3) hint j is a P×P patch centred on a seeded random
    pixel of region S_j instead; an empty region gives an empty hint so counts stay comparable.
    color [B,3,H,W] in [-1,1]; one seed per image.
    """
    b, _, h, w = color.shape
    masks = torch.zeros(b, k, h, w, dtype=torch.bool)
    colors = torch.zeros(b, k, 3)
    color_np = color.detach().float().cpu().numpy()
    region_np = None if regions is None else (regions.detach().cpu() > 0.5).numpy()
    for i, seed in enumerate(seeds):
        rng = np.random.Generator(np.random.PCG64(seed))
        for j in range(k):
            p = int(rng.choice(np.asarray(patch_sizes)))
            p = min(p, h, w)
            if region_np is None:
                top = int(np.floor(np.clip(rng.normal((h - p + 1) / 2, (h - p + 1) / 4), 0, h - p)))
                left = int(np.floor(np.clip(rng.normal((w - p + 1) / 2, (w - p + 1) / 4), 0, w - p)))
            else:
                if j >= region_np.shape[1]:
                    continue
                ys, xs = np.nonzero(region_np[i, j])
                if len(ys) == 0:
                    continue
                pick = int(rng.integers(len(ys)))
                top = int(np.clip(ys[pick] - p // 2, 0, h - p))
                left = int(np.clip(xs[pick] - p // 2, 0, w - p))
            masks[i, j, top : top + p, left : left + p] = True
            colors[i, j] = torch.from_numpy(_patch_mean(color_np[i], top, left, p, p))
    return HintSequence(masks.to(color.device), colors.to(color.device))


def stroke_sequence(
    color: torch.Tensor,
    seeds: Sequence[int],
    k: int = EVAL.nc,
    cell: int = 4,
    regions: torch.Tensor | None = None,
) -> HintSequence:
    """AlacGAN hints (E5.3): a seeded permutation of the (H/cell × W/cell) cells; hint j is the j-th
    cell, painted with the area-downsampled GT colour there. With `regions` (equalized) hint j is the
    cell under a seeded random pixel of S_j.
    """
    b, _, h, w = color.shape
    gh, gw = h // cell, w // cell
    small = F.adaptive_avg_pool2d(color.detach().float().cpu(), (gh, gw))  # INTER_AREA equivalent
    masks = torch.zeros(b, k, h, w, dtype=torch.bool)
    colors = torch.zeros(b, k, 3)
    region_np = None if regions is None else (regions.detach().cpu() > 0.5).numpy()
    for i, seed in enumerate(seeds):
        rng = np.random.Generator(np.random.PCG64(seed))
        if region_np is None:
            cells = rng.permutation(gh * gw)[:k]
            picks = [(int(c) // gw, int(c) % gw) for c in cells]
        else:
            picks = []
            for j in range(min(k, region_np.shape[1])):
                ys, xs = np.nonzero(region_np[i, j])
                if len(ys) == 0:
                    picks.append(None)
                    continue
                pick = int(rng.integers(len(ys)))
                picks.append((min(ys[pick] // cell, gh - 1), min(xs[pick] // cell, gw - 1)))
        for j, pick in enumerate(picks):
            if pick is None:
                continue
            cy, cx = pick
            masks[i, j, cy * cell : (cy + 1) * cell, cx * cell : (cx + 1) * cell] = True
            colors[i, j] = small[i, :, cy, cx]
    return HintSequence(masks.to(color.device), colors.to(color.device))


def empty_sequence(color: torch.Tensor) -> HintSequence:
    """Automatic models: no hints at any n."""
    b, _, h, w = color.shape
    return HintSequence(
        torch.zeros(b, 0, h, w, dtype=torch.bool, device=color.device), torch.zeros(b, 0, 3, device=color.device)
    )


SPACES = ("rgb", "lab")  # the colour space hint colours are averaged in: sketch runs, grayscale runs


def simulate(
    kind: HintKind,
    color: torch.Tensor,
    seeds: Sequence[int],
    regions: torch.Tensor | None = None,
    k: int = EVAL.nc,
    equalized: bool = False,
    space: str = "rgb",
) -> HintSequence:
    """One entry point for all kinds. `regions` is required for REGION and for equalized mode.

    `space` "lab" (grayscale runs, supplement B): every hint colour is the mean over its pixels in CIE Lab,
    given as the RGB of that mean (the `Hints` contract), so a model that reads the hints' ab (grayscale.hint_ab)
    gets the mean ab of the region / patch / cell, not the ab of its mean RGB. Same masks and seeds as "rgb"."""
    if space == "lab":
        seq = simulate(kind, signed_to_lab(color.float()), seeds, regions, k, equalized)
        return HintSequence(seq.masks, lab_means_to_signed(seq.colors), seq.regions)
    if space != "rgb":
        raise ValueError(f"hint colour space must be one of {', '.join(SPACES)}, got {space!r}")
    if kind is HintKind.REGION:
        if regions is None:
            raise ValueError("region hints need the model's regions S (propose_regions)")
        return region_sequence(color, regions)
    if equalized and regions is None:
        raise ValueError("equalized hints need GuidingPainter's regions to place hints in")
    eq = regions if equalized else None
    if kind is HintKind.POINT:
        return point_sequence(color, seeds, k=k, regions=eq)
    if kind is HintKind.STROKE:
        return stroke_sequence(color, seeds, k=k, regions=eq)
    return empty_sequence(color)


def lab_means_to_signed(lab: torch.Tensor) -> torch.Tensor:
    """Mean colours in Lab [..., 3] → RGB [..., 3] in [-1,1]. The Lab gamut of sRGB is not convex, so a mean may
    fall outside it; it is then clipped per channel (lab.lab_to_signed). None of 3,840 patch and cell means of
    toon-gray test images did (docs/grayscale.md)."""
    flat = lab.reshape(-1, 3).T[None, :, :, None]  # [1,3,N,1]
    return lab_to_signed(flat)[0, :, :, 0].T.reshape(lab.shape).to(lab.dtype)


def lab_hints(hints: Hints) -> Hints:
    """Training hints simulated on a Lab image (colour map [B,3,H,W] of Lab means, 0 off the mask) → the same
    hints with RGB colours in [-1,1] (0 off the mask), as `simulate(..., space="lab")` gives them at test time."""
    rgb = lab_to_signed(hints.color.float()).to(hints.color.dtype)
    return Hints(rgb * hints.mask.to(rgb.dtype), hints.mask, hints.regions)


def perturb_colors(seq: HintSequence, seeds: Sequence[int], amount: float = 64.0) -> HintSequence:
    """Supplement E.2: shift every hint colour by U(-amount, +amount) per RGB channel (8-bit units),
    clipped to the valid range; seeded per image."""
    colors = seq.colors.clone()
    for i, seed in enumerate(seeds):
        rng = np.random.Generator(np.random.PCG64(seed))
        shift = rng.uniform(-amount, amount, size=(colors.shape[1], 3)) * (2.0 / 255.0)
        colors[i] = (colors[i] + torch.from_numpy(shift).to(colors)).clamp(-1.0, 1.0)
    return HintSequence(seq.masks, colors, seq.regions)


def sample_point_hints_train(
    color: torch.Tensor, generator: torch.Generator, p: float = EVAL.p, max_points: int = 64,
    patch_sizes: Sequence[int] = tuple(range(1, 10)),
) -> Hints:
    """RTUG's training sampler: geometric count, P×P patches with the patch mean colour,
    Gaussian-centred locations; vectorised over the batch with a torch generator. → Hints."""
    b, _, h, w = color.shape
    dev = color.device
    live = torch.rand(b, max_points, generator=generator, device=generator.device) < (1.0 - p)
    count = live.to(torch.int64).cumprod(1).sum(1).to(dev)  # geometric, capped at max_points
    sizes = torch.as_tensor(patch_sizes, device=dev)
    psel = sizes[torch.randint(len(patch_sizes), (b, max_points), generator=generator, device=generator.device).to(dev)]
    ty = torch.randn(b, max_points, generator=generator, device=generator.device).to(dev)
    tx = torch.randn(b, max_points, generator=generator, device=generator.device).to(dev)
    top = ((h - psel + 1) / 2 + ty * (h - psel + 1) / 4).clamp(min=0).floor().clamp(max=(h - psel).float()).long()
    left = ((w - psel + 1) / 2 + tx * (w - psel + 1) / 4).clamp(min=0).floor().clamp(max=(w - psel).float()).long()
    yy = torch.arange(h, device=dev).view(1, 1, h, 1)
    xx = torch.arange(w, device=dev).view(1, 1, 1, w)
    inside = (
        (yy >= top[..., None, None]) & (yy < (top + psel)[..., None, None])
        & (xx >= left[..., None, None]) & (xx < (left + psel)[..., None, None])
    )  # [B,P,H,W]
    valid = torch.arange(max_points, device=dev)[None, :] < count[:, None]
    inside = inside & valid[..., None, None]
    means = torch.einsum("bphw,bchw->bpc", inside.float(), color) / inside.float().sum((2, 3)).clamp_min(1)[..., None]
    return HintSequence(inside, means).at(count)
