"""A non-learned floor: fill each line-enclosed region of the sketch with the nearest hint's colour.

Regions are the 4-connected components of the sketch's white pixels (scipy.ndimage.label); a region
containing hint pixels takes their mean colour, any other region the colour of the hint pixel nearest
to it (Euclidean), and with no hints at all every region is mid-grey (0). Line pixels take the colour
of the nearest paper pixel: colour images have no black outlines (toon's, XDoG-derived datasets'), the
lines sit on part boundaries. Nothing is trained; it is the sanity row every learned model should beat.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy import ndimage

from colorbench.api import HintKind, Hints
from colorbench.model import ColorizerModel


def flat_fill_image(sketch: np.ndarray, hint_color: np.ndarray, hint_mask: np.ndarray, threshold: float) -> np.ndarray:
    """One image. sketch [H,W] in [-1,1]; hint_color [3,H,W] in [-1,1]; hint_mask [H,W] bool → [3,H,W]."""
    paper = sketch > threshold
    labels, n = ndimage.label(paper)  # default structure = 4-connectivity: 1-px diagonal lines still separate
    h, w = sketch.shape
    if n == 0:  # no paper at all: nothing to fill
        return np.zeros((3, h, w), dtype=np.float32)
    fill = np.zeros((n + 1, 3), dtype=np.float32)  # index 0 = line pixels (unused); default grey
    if hint_mask.any():
        idx = np.arange(1, n + 1)
        # Per region: mean hint colour over its hint pixels (when it has some).
        inside = hint_mask & paper
        count = ndimage.sum(inside, labels, idx)
        sums = np.stack([ndimage.sum(hint_color[c] * inside, labels, idx) for c in range(3)], axis=1)
        # Per region: the hint pixel nearest to any of its pixels.
        dist, (iy, ix) = ndimage.distance_transform_edt(~hint_mask, return_indices=True)
        nearest_pos = ndimage.minimum_position(dist, labels, idx)
        for r, (py, px) in enumerate(nearest_pos):
            if count[r] > 0:
                fill[r + 1] = sums[r] / count[r]
            else:
                fill[r + 1] = hint_color[:, iy[py, px], ix[py, px]]
    # Line pixels borrow the label of the nearest paper pixel.
    _, (py, px) = ndimage.distance_transform_edt(~paper, return_indices=True)
    return fill[labels[py, px]].transpose(2, 0, 1)  # [3,H,W]


class FlatFill(ColorizerModel):
    """Non-learned colorizer (point hints): region fill by nearest hint colour. Not trainable."""

    name = "floor"
    display_name = "Flat fill (floor)"
    hint_kind = HintKind.POINT
    labels = ("non-learned",)
    needs_checkpoint = False

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"line_threshold": 0.0}  # sketch values above it are paper, at or below it lines

    def colorize(self, sketch: torch.Tensor, hints: Hints) -> torch.Tensor:
        """sketch [B,1,H,W] in [-1,1], hints (C, M) → [B,3,H,W] in [-1,1]."""
        s = sketch.detach().float().cpu().numpy()[:, 0]
        c = hints.color.detach().float().cpu().numpy()
        m = hints.mask.detach().cpu().numpy()[:, 0] > 0.5
        thr = float(self.config["line_threshold"])
        out = np.stack([flat_fill_image(s[i], c[i], m[i], thr) for i in range(s.shape[0])])
        return torch.from_numpy(out).to(sketch.device, sketch.dtype).clamp(-1.0, 1.0)
