"""Dark Snail order (paper §4.5, Fig. 4): per region i the object it covers and its size, and Kendall τ.

Reads the snail records of `colorbench.experiments.snail` (one row per variant, image and region
i <= k; `snail_records.csv` in the run directory), not the engine's records. Two Kendall tau-b:
- kendall_tau: region index i = 1..k vs minus the size of the object region i covers (0 for an empty
  region, which therefore counts as "smallest"); τ = 1 means channels 1..k hold decreasing sizes.
- kendall_tau_requests: the order in which a user is asked for hints — the non-empty regions in priority
  order (an empty region has nothing to colour and is never shown), the first k of them — vs minus object
  size, per image then averaged. This is the order §4.5 is about ("ask for the color hints of objects in
  a descending order by their size").
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from colorbench.errors import UsageError
from colorbench.protocols.base import Protocol, ProtocolContext

K_TAU = 4  # the order statistic looks at the first four regions
REQUIRED = ("variant", "image_id", "i", "object", "purity", "coverage", "region_area", "object_area")


def _tau(index: np.ndarray, sizes: np.ndarray) -> tuple[float | None, float | None]:
    """Kendall tau-b of (i, −size); None when either side is constant (τ undefined)."""
    if len(index) < 2 or np.ptp(sizes) == 0:
        return None, None
    res = kendalltau(index, -np.asarray(sizes, dtype=np.float64))
    return float(res.statistic), float(res.pvalue)


def variant_order(rows: pd.DataFrame, k_tau: int = K_TAU) -> dict[str, Any]:
    """The Fig. 4 summary of one variant's rows (all images, regions 1..k)."""
    regions = sorted(int(i) for i in rows["i"].unique())
    per_region: dict[str, list[Any]] = {key: [] for key in
                                        ("i", "object", "object_share", "object_area", "purity", "coverage",
                                         "region_area", "empty_frac")}
    for i in regions:
        r = rows[rows["i"] == i]
        counts = r["object"].value_counts()
        modal = int(counts.index[0]) if len(counts) else -1
        per_region["i"].append(i)
        per_region["object"].append(modal)  # -1: most images leave region i empty
        per_region["object_share"].append(float(counts.iloc[0] / len(r)) if len(r) else 0.0)
        per_region["object_area"].append(float(r["object_area"].mean()))
        per_region["purity"].append(_nanmean(r["purity"]))
        per_region["coverage"].append(_nanmean(r["coverage"]))
        per_region["region_area"].append(float(r["region_area"].mean()))
        per_region["empty_frac"].append(float((r["object"] < 0).mean()))
    head = [j for j, i in enumerate(regions) if i <= k_tau]
    idx = np.asarray(regions, dtype=np.float64)
    sizes = np.asarray(per_region["object_area"])
    tau, p = _tau(idx[head], sizes[head])
    tau_all, p_all = _tau(idx, sizes)
    per_image = []
    for _, img in rows[rows["i"] <= k_tau].groupby("image_id"):
        t, _ = _tau(img["i"].to_numpy(np.float64), img["object_area"].to_numpy())
        if t is not None:
            per_image.append(t)
    firsts = [o for o in (per_region["object"][j] for j in head) if o >= 0]
    return per_region | request_order(rows, k_tau) | {
        "object_region": object_regions(rows),
        "nonempty": float((rows["object"] >= 0).groupby(rows["image_id"]).sum().mean()),
        "k_tau": k_tau,
        "kendall_tau": tau,
        "kendall_p": p,
        "kendall_tau_all": tau_all,
        "kendall_p_all": p_all,
        "tau_per_image_mean": float(np.mean(per_image)) if per_image else None,
        "distinct_objects_head": len(set(firsts)),
        "n_images": int(rows["image_id"].nunique()),
    }


def request_order(rows: pd.DataFrame, k_tau: int = K_TAU) -> dict[str, Any]:
    """τ over the first k_tau non-empty regions of each image (the hints a user is asked for, in order).

    → {"kendall_tau_requests": mean per-image τ (None if undefined everywhere), "requests": the most common
    sequence of (region i, object) asked first, "requests_share": the share of images asked exactly that}.
    """
    taus, sequences = [], []
    for _, img in rows.groupby("image_id"):
        asked = img[img["object"] >= 0].sort_values("i").head(k_tau)
        sequences.append(tuple(zip(asked["i"].astype(int), asked["object"].astype(int))))
        t, _ = _tau(np.arange(len(asked), dtype=np.float64), asked["object_area"].to_numpy())
        if t is not None:
            taus.append(t)
    common = pd.Series(sequences).value_counts() if sequences else pd.Series(dtype=object)
    return {
        "kendall_tau_requests": float(np.mean(taus)) if taus else None,
        "requests": [list(pair) for pair in common.index[0]] if len(common) else [],
        "requests_share": float(common.iloc[0] / len(sequences)) if len(common) else 0.0,
    }


def object_regions(rows: pd.DataFrame) -> dict[str, int | None]:
    """Object index → the region i <= k that covers most of it (modal over images); None when no region
    1..k has it as its main object (it lies in a region beyond k, or only as a minority)."""
    owned = rows[rows["object"] >= 0]
    out: dict[str, int | None] = {}
    n_objects = int(rows["object"].max()) + 1 if len(owned) else 0
    for obj in range(n_objects):
        mine = owned[owned["object"] == obj]
        if mine.empty:
            out[str(obj)] = None
            continue
        best = mine.loc[mine.groupby("image_id")["coverage"].idxmax(), "i"]
        out[str(obj)] = int(best.value_counts().index[0])
    return out


def snail_order(records: pd.DataFrame, k_tau: int = K_TAU) -> dict[str, Any]:
    """{"variants": {variant: variant_order(...)}, "k_tau": k_tau} over snail records."""
    missing = [c for c in REQUIRED if c not in records.columns]
    if missing:
        raise UsageError(f"snail records lack columns {missing}: pass snail_records.csv written by "
                         "colorbench.experiments.snail.run_snail_experiment, not the engine's records.csv")
    return {
        "k_tau": k_tau,
        "variants": {str(v): variant_order(rows, k_tau) for v, rows in records.groupby("variant", sort=True)},
    }


def _nanmean(series: pd.Series) -> float | None:
    values = series.to_numpy(dtype=np.float64)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else None


class SnailOrder(Protocol):
    """Fig. 4: do regions come in decreasing object size? (GuidingPainter vs its fixed-Nh control)."""

    name: ClassVar[str] = "snail_order"
    title: ClassVar[str] = "Dark Snail (Fig. 4): region order vs object size"
    modes: ClassVar[tuple[str, ...]] = ()  # needs no engine records: it reads snail_records.csv

    def compute(self, records: pd.DataFrame, ctx: ProtocolContext) -> dict[str, Any]:
        """snail_order of the given snail records, else of run_dir/snail_records.csv; a run without that
        file (any ordinary benchmark run) gets {"variants": {}, "skipped": why} so its report still renders."""
        if "object" not in records.columns:
            path = ctx.run_dir / "snail_records.csv"
            if not path.exists():
                return {"k_tau": K_TAU, "variants": {}, "skipped": (
                    f"{path} does not exist: run the Dark Snail experiment (`colorbench snail --out DIR` or "
                    "colorbench.experiments.snail.run_snail_experiment) and report on its out dir")}
            records = pd.read_csv(path, dtype={"image_id": str, "variant": str})
        return snail_order(records)
