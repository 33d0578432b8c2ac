"""Fig. 5 / E8.1 segment-ranking ablation: mean PSNR when only region i (moved to the front) is hinted.

Reads the engine's "ablation" records (n = region index i, 1-based; `empty` = S_i had no pixel) and gives,
per region-hint variant, the curve over i with seeded bootstrap CIs, the fraction of empty regions, and
the trend (Spearman ρ and Kendall τ of mean PSNR against i; negative = front regions matter more).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from colorbench.protocols.base import Protocol, ProtocolContext
from colorbench.protocols.bootstrap import bootstrap_ci
from colorbench.protocols.levels import available_levels, psnr_matrix
from colorbench.protocols.options import resolve_options

HEAD = 5  # the Fig. 5 trend statistic: mean of the first five points vs the last five


def ablation_variants(records: pd.DataFrame, ctx: ProtocolContext) -> list[str]:
    """Variants with ablation records whose model takes region hints (others cannot be ablated)."""
    have = sorted(set(records.loc[records["mode"] == "ablation", "variant"]))
    known = ctx.run.get("variants", {})
    return [v for v in have if known.get(v, {}).get("hint_kind", "region") == "region"]


def ablation_curve(records: pd.DataFrame, variant: str, *, n_boot: int = 1000, seed: int = 0,
                   level: float = 0.95) -> dict[str, Any]:
    """The Fig. 5 curve of one variant: {"i", "psnr", "ci_low", "ci_high", "empty_frac", "n_images", "trend"}.

    i = 1..Nc; psnr[i] = mean over images (dB); the CI resamples images (same seed for every i, so the
    intervals of neighbouring i see the same resamples); empty_frac[i] = share of images whose S_i was empty.
    """
    levels = available_levels(records, variant, "ablation")
    ids, mat = psnr_matrix(records, variant, levels, "ablation")  # [I, Nc]
    rows = records[(records["variant"] == variant) & (records["mode"] == "ablation")]
    empty = rows.pivot_table(index="image_id", columns="n", values="empty", aggfunc="first")
    empty = empty.reindex(index=ids, columns=levels).fillna(False).astype(bool).to_numpy()
    cis = [bootstrap_ci(mat[:, j], n_resamples=n_boot, seed=seed, level=level) for j in range(len(levels))]
    means = mat.mean(axis=0)
    return {
        "i": levels,
        "psnr": [float(x) for x in means],
        "ci_low": [c["low"] for c in cis],
        "ci_high": [c["high"] for c in cis],
        "empty_frac": [float(x) for x in empty.mean(axis=0)],
        "n_images": len(ids),
        "trend": trend(levels, means),
    }


def trend(index: list[int], values: np.ndarray) -> dict[str, Any]:
    """Rank correlations of the curve with i, and the head/tail means (first vs last `HEAD` points)."""
    v = np.asarray(values, dtype=np.float64)
    out: dict[str, Any] = {"head": HEAD, "head_mean": None, "tail_mean": None, "head_minus_tail": None}
    if len(v) >= 2 * HEAD:
        out["head_mean"] = float(v[:HEAD].mean())
        out["tail_mean"] = float(v[-HEAD:].mean())
        out["head_minus_tail"] = out["head_mean"] - out["tail_mean"]
    if len(v) >= 3 and np.ptp(v) > 0:
        from scipy.stats import kendalltau, spearmanr  # lazily: scipy.stats costs 0.4 s to import

        rho = spearmanr(index, v)
        tau = kendalltau(index, v)
        out |= {"spearman_rho": float(rho.statistic), "spearman_p": float(rho.pvalue),
                "kendall_tau": float(tau.statistic), "kendall_p": float(tau.pvalue)}
    else:  # a flat or too short curve has no rank trend
        out |= {"spearman_rho": None, "spearman_p": None, "kendall_tau": None, "kendall_p": None}
    return out


def ablation_frame(result: dict[str, Any]) -> pd.DataFrame:
    """The protocol result as one long table (variant, i, psnr, ci_low, ci_high, empty_frac) for CSV."""
    rows = []
    for variant, curve in result["variants"].items():
        for j, i in enumerate(curve["i"]):
            rows.append({"variant": variant, "i": i, "psnr": curve["psnr"][j], "ci_low": curve["ci_low"][j],
                         "ci_high": curve["ci_high"][j], "empty_frac": curve["empty_frac"][j]})
    return pd.DataFrame(rows, columns=["variant", "i", "psnr", "ci_low", "ci_high", "empty_frac"])


class SegmentAblation(Protocol):
    """Fig. 5: importance of the i-th guided region (E8.1)."""

    name: ClassVar[str] = "segment_ablation"
    title: ClassVar[str] = "Segment ablation (Fig. 5): PSNR with only region i hinted"
    modes: ClassVar[tuple[str, ...]] = ("ablation",)

    def compute(self, records: pd.DataFrame, ctx: ProtocolContext) -> dict[str, Any]:
        opts = resolve_options(ctx.options)
        variants = ablation_variants(records, ctx)
        result: dict[str, Any] = {
            "variants": {},
            "bootstrap": {"resamples": int(opts["n_boot"]), "seed": int(opts["seed"]), "level": float(opts["ci_level"])},
        }
        if not variants:
            result["skipped"] = ("no region-hint variant has 'ablation' records; run GuidingPainter with "
                                 "`colorbench run --models ours` (the segment_ablation protocol adds that mode)")
            return result
        for v in variants:
            result["variants"][v] = ablation_curve(records, v, n_boot=int(opts["n_boot"]), seed=int(opts["seed"]),
                                                   level=float(opts["ci_level"]))
        return result
