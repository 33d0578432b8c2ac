"""Fig. 12 (supplement D.3, E9.1): mean PSNR and FID at fixed hint counts n ∈ sweep for every conditional
variant; automatic variants appear as constants (their n = 0 values, E7.1). The `run --metrics` per-image
metrics (SSIM, ΔE, CF, …) get the same curve: their mean at each n with its bootstrap interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from colorbench.errors import UsageError
from colorbench.evaluation.records import feature_key
from colorbench.protocols.base import Protocol, ProtocolContext
from colorbench.protocols.cells import ci_cell, metric_columns_of
from colorbench.protocols.fid_sets import fid_cell
from colorbench.protocols.levels import psnr_matrix, variants_present
from colorbench.protocols.options import resolve_options
from colorbench.protocols.selection import display_name, is_conditional, table1_variants


def sweep_levels(option: Any, run: dict[str, Any]) -> list[int]:
    """The hint counts: the option ("2,4,6" or a list) or run.json protocol.sweep; sorted, unique, ≥ 0."""
    raw: Sequence[Any] | str = option if option is not None else run.get("protocol", {}).get("sweep", [])
    if isinstance(raw, str):
        raw = [p for p in raw.split(",") if p.strip()]
    levels = sorted({int(n) for n in raw})
    if not levels or levels[0] < 0:
        raise UsageError(f"the hint sweep needs non-negative hint counts, got {raw!r}")
    return levels


class HintSweep(Protocol):
    name = "hint_sweep"
    title = "Fig. 12: PSNR and FID at fixed hint counts"
    modes = ("native",)
    tables = ("colorbench.reports.table_specs:sweep_specs",)
    table_order = 30

    def compute(self, records: pd.DataFrame, ctx: ProtocolContext) -> dict[str, Any]:
        opts = resolve_options(ctx.options)
        levels = sweep_levels(opts["sweep"], ctx.run)
        too_big = [n for n in levels if n > ctx.law.nc]
        if too_big:
            raise UsageError(f"hint sweep n = {too_big} exceeds Nc = {ctx.law.nc} of this run")
        out: dict[str, Any] = {}
        present = variants_present(records)
        extra = [m for m in metric_columns_of(records, ctx) if "unavailable" not in m]
        for v in table1_variants(ctx.variants):
            if v not in present:
                continue
            cond = is_conditional(ctx.variants[v])
            # Automatic models give the same output for every n (E5.4): one value drawn as a constant line.
            ns = levels if cond else [0] * len(levels)
            ids, mat = psnr_matrix(records, v, sorted(set(ns)))
            col = {n: j for j, n in enumerate(sorted(set(ns)))}
            psnr, fid = [], []
            for shown, n in zip(levels, ns):
                psnr.append({**ci_cell(mat[:, col[n]], opts), "hints": shown})
                fid.append(
                    {**fid_cell(ctx, v, [feature_key(i, "native", n) for i in ids], ids), "hints": shown}
                )
            out[v] = {
                "name": display_name(v, ctx.variants[v]),
                "model": ctx.variants[v].get("model"),
                "conditional": cond,
                "constant": not cond,
                "psnr": psnr,
                "fid": fid,
                "metrics": {m["column"]: _curve(records, v, m["column"], levels, ns, opts) for m in extra},
            }
        return {"dataset": ctx.dataset.get("name"), "sweep": levels, "variants": out, "metric_columns": extra}


def _curve(records: pd.DataFrame, variant: str, column: str, levels: list[int], ns: list[int],
           opts: dict[str, Any]) -> list[dict[str, Any]]:
    """One extra metric's cells at the shown hint counts (`ns`: the n whose records each shows)."""
    _, mat = psnr_matrix(records, variant, sorted(set(ns)), column=column)
    col = {n: j for j, n in enumerate(sorted(set(ns)))}
    return [{**ci_cell(mat[:, col[n]], opts), "hints": shown} for shown, n in zip(levels, ns)]
