"""Per-row metrics of the evaluation engine's forwards and the record column blocks they become.

PSNR, hint area and hint error (plus the plan's extra metrics) computed on uint8 outputs in cache-sized blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from colorbench.api import Hints
from colorbench.metric_registry import Metric
from colorbench.metrics import psnr_uint8, to_uint8

BLOCK = 1 << 17  # values per metric call: keeps the float64 temporaries in cache — one 32-image call at 128 px
                 # took 14× longer than the same work in blocks of 2 images (benchmarks/README.md)


def per_image_blocks(fn: Callable[..., torch.Tensor], *tensors: torch.Tensor) -> torch.Tensor:
    """fn(*tensors) → [B] for a per-image fn, computed over blocks of images (results are identical)."""
    n = tensors[0].shape[0]
    k = max(1, BLOCK // max(1, tensors[0][0].numel()))
    if k >= n:
        return fn(*tensors)
    return torch.cat([fn(*(t[s : s + k] for t in tensors)) for s in range(0, n, k)])


def level_metrics(out_u8: torch.Tensor, gt_u8: torch.Tensor, color: torch.Tensor,
                  mask: torch.Tensor) -> torch.Tensor:
    """[B,3] float64 per image: PSNR vs the ground truth, hint area (fraction of pixels), hint error."""
    return torch.stack([psnr_uint8(out_u8, gt_u8), mask.double().mean(dim=(1, 2, 3)),
                        hint_err(out_u8, Hints(color, mask))], dim=1)


def with_extras(extras: Sequence[Metric]) -> Callable[..., torch.Tensor]:
    """`level_metrics` followed by one column per extra metric column: [B, 3 + Σ len(columns)] float64.

    Computed in the same call (the worker thread, cache-sized blocks of `_per_image`) as PSNR, on the same
    uint8 outputs, so the extra metrics add no pass over the outputs and never see other bytes than PSNR."""
    if not extras:
        return level_metrics

    def fn(out_u8: torch.Tensor, gt_u8: torch.Tensor, color: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        cols = [level_metrics(out_u8, gt_u8, color, mask)]
        for m in extras:
            args = (out_u8, gt_u8) if m.input == "uint8" else (out_u8.float() / 127.5 - 1, gt_u8.float() / 127.5 - 1)
            v = torch.as_tensor(m.fn(*args), dtype=torch.float64, device=out_u8.device)  # type: ignore[misc]
            v = v.reshape(out_u8.shape[0], -1)
            if v.shape[1] != len(m.columns):
                raise ValueError(f"metric {m.name!r} returned {v.shape[1]} values per image for columns {m.columns}")
            cols.append(v)
        return torch.cat(cols, dim=1)

    return fn


def psnr_column(out_u8: torch.Tensor, gt_u8: torch.Tensor, color: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B,1] float64: PSNR vs the ground truth only (the Fig. 5 ablation needs no hint statistics)."""
    return psnr_uint8(out_u8, gt_u8)[:, None]


def hint_err(out_u8: torch.Tensor, hints: Hints) -> torch.Tensor:
    """Mean |Ŷ − C| over hinted pixels and channels, 8-bit units, per image [B] (NaN without hints)."""
    # Integer arithmetic: the sums are of small integers, so they equal the float64 sums bit for bit at a
    # fraction of the memory traffic (M is {0,1}).
    diff = (out_u8.to(torch.int16) - to_uint8(hints.color).to(torch.int16)).abs_()
    err = (diff * hints.mask.to(torch.int16)).sum(dim=(1, 2, 3), dtype=torch.int64).double()
    area = hints.mask.sum(dim=(1, 2, 3), dtype=torch.float64) * 3
    return torch.where(area > 0, err / area.clamp_min(1), torch.full_like(err, float("nan")))


def record_block(base: dict[str, str], ids: Sequence[str], mode: str, n: np.ndarray, psnr: np.ndarray,
                 area: np.ndarray, err: np.ndarray, empty: np.ndarray,
                 extra: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Records of L levels × B images (level-major) as columns: built as arrays, not one dict per record
    (a 256-image run has ~30k records per mode). `extra`: metric column → values (metric_registry)."""
    count = len(n)
    return base | {"image_id": np.tile(np.asarray(ids, dtype=object), count // max(1, len(ids))), "mode": mode,
                   "n": n, "psnr": psnr, "hint_area": area, "hint_err": err, "empty": empty} | (extra or {})
