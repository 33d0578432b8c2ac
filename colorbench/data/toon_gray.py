"""`toon-gray`: the built-in grayscale default (paper supplement B, Table 4), generated on the fly, offline.

The `toon` characters (same geometry generator, own seeds) drawn so that luminance does not give the colour away:
  1. iso-luminant palettes: every colour of a part's palette (`TOON_PALETTES`) is moved to the part's mean
     lightness L_p, its chroma scaled (hue kept) until it fits the sRGB gamut over L_p ± 16. In flat `toon` each
     palette colour has its own L, so the L channel names the colour exactly; here L tells the part, never which of
     its 3-6 colours it wears — only a hint can;
  2. shading: a directional light ramp (6-14 L across the image, random direction) and an exposure offset (±6 L)
     per image, so a part's absolute L does not identify it either and the net must read shape;
  3. texture: one sinusoidal pattern per part (2-8 cycles per image, random orientation, 1.5-4 L), ab constant.
ab is constant over a part (the target of region hints is flat), L varies: the regime of photos in Table 4.
The colour is computed in Lab at 2× size, converted with colorbench.color.lab and 2×2 area averaged, as `toon`; the
sketch is `toon`'s outline drawing, so `toon-gray` can be evaluated in either input mode (default: grayscale).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import torch

from colorbench.color.grayscale import GRAYSCALE
from colorbench.color.lab import lab_to_rgb, lab_to_rgb_unclipped, rgb_to_lab
from colorbench.data.synthetic import (
    TOON_PALETTES,
    TOON_PARTS,
    Toon,
    _downsample_labels,
    _line_width,
    outline_sketch,
    render_toon,
    sample_rng,
)

SHADE_MARGIN = 16.0  # L units the palette chroma must stay in gamut over, around the part's lightness


def _fits(lab: torch.Tensor) -> torch.Tensor:
    rgb = lab_to_rgb_unclipped(lab[:, :, None, None].double())[:, :, 0, 0]
    return ((rgb >= 0.0) & (rgb <= 1.0)).all(dim=1)


@lru_cache(maxsize=1)
def iso_palettes() -> dict[str, np.ndarray]:
    """Part → [K,3] float64 Lab: the part's palette at one lightness L_p (its palette's mean L, clamped so that
    L_p ± SHADE_MARGIN stays in [4, 96]), chroma scaled by the largest factor (bisection) in gamut at L_p − M,
    L_p and L_p + M."""
    out = {}
    for part in TOON_PARTS:
        rgb = torch.tensor(TOON_PALETTES[part], dtype=torch.float64).T[None, :, :, None] / 255.0  # [1,3,K,1]
        lab = rgb_to_lab(rgb)[0, :, :, 0].T  # [K,3]
        lp = float(lab[:, 0].mean().clamp(4.0 + SHADE_MARGIN, 96.0 - SHADE_MARGIN))
        rows = []
        for a, b in lab[:, 1:].tolist():
            lo, hi = 0.0, 1.0
            for _ in range(30):
                mid = (lo + hi) / 2
                test = torch.tensor([[lp + d, a * mid, b * mid] for d in (-SHADE_MARGIN, 0.0, SHADE_MARGIN)])
                lo, hi = (mid, hi) if bool(_fits(test).all()) else (lo, mid)
            rows.append((lp, a * lo, b * lo))
        out[part] = np.asarray(rows, dtype=np.float64)
    return out


def _palette_index(part: str, rgb: np.ndarray) -> int:
    return [tuple(c) for c in TOON_PALETTES[part]].index(tuple(int(v) for v in rgb))


class ToonGray(Toon):
    """`toon` characters with iso-luminant part palettes, shading and texture (module docstring); default input
    mode grayscale. Same ids, split sizes and parts as `toon`.

    nri_threshold = 25.5 dB (tests/test_grayscale.py re-checks the ordering on 32 images): in grayscale mode L
    is given, so PSNR counts ab errors only. On the 256 test images at 64 px, the input L with every part at its
    palette's mean ab (the best hint-free guess) gives 22.7 dB; with the k largest parts' ab exactly right and
    the rest at palette means 25.1 / 28.8 / 33.3 dB for k = 1 / 2 / 3. 25.5 dB asks, as toon's 20.5 dB does
    (20.4 dB at k = 1 there), for a bit more than the largest part right.
    """

    name: ClassVar[str] = "toon-gray"
    nri_threshold: ClassVar[float] = 25.5
    input_mode: ClassVar[str] = GRAYSCALE

    def _shaded(self, image_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(labels at 2·size [2S,2S], Lab image at 2·size [2S,2S,3] float64)."""
        rng = sample_rng(self.name, self.split, self.index_of(image_id))
        labels, colors = render_toon(rng, self.size)
        pal = iso_palettes()
        lab_of_part = np.stack([pal[p][_palette_index(p, colors[i])] for i, p in enumerate(TOON_PARTS)])  # [P,3]
        hi = labels.shape[0]
        yy, xx = np.mgrid[0:hi, 0:hi] / hi - 0.5  # size-free units, centred
        angle = rng.uniform(0, 2 * np.pi)
        ramp = rng.uniform(6.0, 14.0) * (np.cos(angle) * xx + np.sin(angle) * yy)
        light = ramp + rng.uniform(-6.0, 6.0)
        texture = np.zeros_like(light)
        for part in range(len(TOON_PARTS)):
            freq, theta = rng.uniform(2.0, 8.0), rng.uniform(0, np.pi)
            amp, phase = rng.uniform(1.5, 4.0), rng.uniform(0, 2 * np.pi)
            wave = amp * np.sin(2 * np.pi * freq * (np.cos(theta) * xx + np.sin(theta) * yy) + phase)
            texture = np.where(labels == part, wave, texture)
        lab = lab_of_part[labels]
        lab[..., 0] = np.clip(lab[..., 0] + light + texture, 0.0, 100.0)
        return labels, lab

    def load(self, image_id: str) -> tuple[np.ndarray, np.ndarray]:
        labels_hi, lab = self._shaded(image_id)
        s = self.size
        rgb = lab_to_rgb(torch.from_numpy(lab).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()  # [2S,2S,3]
        color = rgb.reshape(s, 2, s, 2, 3).mean(axis=(1, 3))
        color = np.clip(np.rint(color * 255.0), 0, 255).astype(np.uint8)
        sketch = outline_sketch(_downsample_labels(labels_hi), _line_width(s))
        return sketch, color

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "shading": "iso-luminant palettes, light ramp, per-part texture (v1)"}
