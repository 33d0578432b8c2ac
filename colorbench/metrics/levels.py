"""The per-row numbers the engine records for every (level, image) output: PSNR, hint area, hint error, the
hint's ΔE2000 (runs with the E.2 perturbed mode) and the `run --metrics` extras.

`RowMetrics.prepare(gt)` computes, once per batch of images, the ground truth's share of every metric that
splits itself (`Metric.prepare` / `Metric.score`: its Lab, its SSIM statistics, its CF); the engine then
calls the RowMetrics once per chunk of level rows with those per-image tensors gathered to the rows, so
no level recomputes them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from colorbench.api import Hints
from colorbench.metrics.builtin import ciede2000, lab_uint8
from colorbench.metrics.psnr import psnr_uint8, to_uint8
from colorbench.metrics.registry import Metric

BASE_COLUMNS = ("psnr", "hint_area", "hint_err")  # always first, in this order (records.RECORD_COLUMNS)


def hint_err(out_u8: torch.Tensor, hints: Hints) -> torch.Tensor:
    """Mean |Ŷ − C| over hinted pixels and channels, 8-bit units, per image [B] (NaN without hints)."""
    # Integer arithmetic: the sums are of small integers, so they equal the float64 sums bit for bit at a
    # fraction of the memory traffic (M is {0,1}).
    diff = (out_u8.to(torch.int16) - to_uint8(hints.color).to(torch.int16)).abs_()
    err = (diff * hints.mask.to(torch.int16)).sum(dim=(1, 2, 3), dtype=torch.int64).double()
    area = hints.mask.sum(dim=(1, 2, 3), dtype=torch.float64) * 3
    return torch.where(area > 0, err / area.clamp_min(1), torch.full_like(err, float("nan")))


def hint_deltae(out_u8: torch.Tensor, hints: Hints) -> torch.Tensor:
    """Mean CIEDE2000 ΔE [B] float64 between the hint colour C (as 8 bits, as `hint_err`) and the output over
    each image's hinted pixels (NaN without hints): `hint_err` in perceptual units. Only hinted pixels are
    converted to Lab (hints cover a few per cent of an image)."""
    b = out_u8.shape[0]
    where = hints.mask[:, 0].nonzero(as_tuple=True)  # (image, y, x) of every hinted pixel
    total = torch.zeros(b, dtype=torch.float64, device=out_u8.device)
    count = torch.zeros(b, dtype=torch.float64, device=out_u8.device)
    if where[0].numel():
        def lab(image: torch.Tensor) -> torch.Tensor:  # [N,3] hinted pixels → Lab [1,3,N,1]
            return lab_uint8(image.permute(0, 2, 3, 1)[where].T[None, :, :, None].contiguous())

        de = ciede2000(lab(out_u8), lab(to_uint8(hints.color)))[0, :, 0]
        total.index_add_(0, where[0], de.double())
        count.index_add_(0, where[0], torch.ones_like(total[where[0]]))
    return torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, float("nan")))


class RowMetrics:
    """fn(out_u8, color, mask, gt_u8, *refs) → [B, len(columns)] float64 per row; `columns` = BASE_COLUMNS,
    the extras' columns, then "hint_de" when `hint_de`. `psnr_only`: the single column PSNR (the Fig. 5
    ablation's rows need no hint statistics).

    Inputs: out_u8, gt_u8 uint8 [B,3,H,W]; color [B,3,H,W] in [-1,1]; mask [B,1,H,W] in {0,1}; refs the
    rows of `prepare(gt)`'s per-image tensors. Extras see exactly the uint8 outputs PSNR sees."""

    def __init__(self, extras: Sequence[Metric] = (), *, hint_de: bool = False, psnr_only: bool = False) -> None:
        self.extras = list(extras)
        self.hint_de = hint_de
        self.psnr_only = psnr_only
        extra_columns = tuple(c for m in self.extras for c in m.columns) + (("hint_de",) if hint_de else ())
        self.columns = ("psnr",) if psnr_only else BASE_COLUMNS + extra_columns
        self._counts: list[int] = [0] * len(self.extras)  # set by prepare()

    def prepare(self, gt_u8: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(gt_u8, then every split extra's per-image tensors [B,...]), once per batch of B images."""
        refs: list[torch.Tensor] = [gt_u8]
        counts = []
        for m in self.extras:
            split = m.prepare(gt_u8) if m.prepare is not None and m.input == "uint8" else ()  # type: ignore[misc]
            refs += list(split)
            counts.append(len(split))
        self._counts = counts  # how many of `refs` each extra's score takes (None of them: its fn)
        return tuple(refs)

    def __call__(self, out_u8: torch.Tensor, color: torch.Tensor, mask: torch.Tensor, gt_u8: torch.Tensor,
                 *refs: torch.Tensor) -> torch.Tensor:
        if self.psnr_only:
            return psnr_uint8(out_u8, gt_u8)[:, None]
        hints = Hints(color, mask)
        cols = [torch.stack([psnr_uint8(out_u8, gt_u8), mask.double().mean(dim=(1, 2, 3)), hint_err(out_u8, hints)],
                            dim=1)]
        rest = iter(refs)
        for m, k in zip(self.extras, self._counts):
            if k:
                v = m.score(out_u8, *(next(rest) for _ in range(k)))  # type: ignore[misc]
            elif m.input == "uint8":
                v = m.fn(out_u8, gt_u8)  # type: ignore[misc]
            else:
                v = m.fn(out_u8.float() / 127.5 - 1, gt_u8.float() / 127.5 - 1)  # type: ignore[misc]
            v = torch.as_tensor(v, dtype=torch.float64, device=out_u8.device).reshape(out_u8.shape[0], -1)
            if v.shape[1] != len(m.columns):
                raise ValueError(f"metric {m.name!r} returned {v.shape[1]} values per image for columns {m.columns}")
            cols.append(v)
        if self.hint_de:
            cols.append(hint_deltae(out_u8, hints)[:, None])
        return torch.cat(cols, dim=1)
