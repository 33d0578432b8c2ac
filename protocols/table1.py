"""Table 1 (paper §4.3): per variant PSNR↑ FID↓ NRI↓ in two blocks — automatic (✗ Cond.: every model at
n = 0, E7.1) and conditional (✓ Cond.: expectations over Nh ~ G, E7.2-E7.4) — with bootstrap intervals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from colorbench.errors import UsageError
from colorbench.evaluation.records import feature_key
from colorbench.protocols.base import Protocol, ProtocolContext
from colorbench.protocols.cells import automatic_cells, conditional_cells, metric_columns_of
from colorbench.protocols.compare import compare_all
from colorbench.protocols.expected import expected_of_fid
from colorbench.protocols.fid_sets import fid_cell
from colorbench.protocols.levels import psnr_matrix, variant_records, variants_present
from colorbench.protocols.options import resolve_options
from colorbench.protocols.paper_rows import requested_dataset, table1_rows
from colorbench.protocols.selection import display_name, is_conditional, table1_variants


class Table1(Protocol):
    name = "table1"
    title = "Table 1: PSNR / FID / NRI, automatic (n = 0) and conditional (E over Nh ~ G)"
    modes = ("native",)
    tables = ("colorbench.reports.table_specs:table1_spec", "colorbench.reports.table_specs:compare_table_spec")
    table_order = 10

    def compute(self, records: pd.DataFrame, ctx: ProtocolContext) -> dict[str, Any]:
        opts = resolve_options(ctx.options)
        present = variants_present(records)
        variants = [v for v in table1_variants(ctx.variants) if v in present]
        if not variants:
            raise UsageError(
                f"records.csv of {ctx.run_dir} has no rows for any variant of run.json; rerun the run"
            )
        rows: list[dict[str, Any]] = []
        for v in variants:  # ✗ Cond.: automatic models and conditional ones without hints
            rows.append(_row(v, ctx.variants[v], "automatic", automatic_cells(records, ctx, v, opts)))
        for v in variants:
            if is_conditional(ctx.variants[v]):
                cells = conditional_cells(records, ctx, v, opts)
                if opts["eg_fid"]:
                    cells["eg_fid"] = eg_fid_cell(records, ctx, v)
                rows.append(_row(v, ctx.variants[v], "conditional", cells))
        paper_key = requested_dataset(opts["paper_rows"], str(ctx.dataset.get("name", "")))
        return {
            "dataset": ctx.dataset.get("name"),
            "n_images": int(variant_records(records, variants[0])["image_id"].nunique()),
            "nri_threshold": ctx.nri_threshold,
            "nri_threshold_source": "option" if opts["nri_threshold"] is not None else "dataset",
            "nc": ctx.law.nc,
            "p": ctx.law.p,
            "fid_status": {k: ctx.fid.get(k) for k in ("available", "reason", "weights_sha256", "standard")},
            "metric_columns": metric_columns_of(records, ctx),  # extra per-image metrics (run --metrics)
            "rows": rows,
            "compare": compare_all(records, ctx, opts),
            "paper_dataset": paper_key,
            "paper_rows": table1_rows(paper_key) if paper_key else [],
            "paper_rows_note": _paper_note(opts["paper_rows"], paper_key, ctx),
        }


def _row(variant: str, info: Mapping[str, Any], block: str, cells: dict[str, Any]) -> dict[str, Any]:
    return {
        "variant": variant,
        "name": display_name(variant, info),
        "model": info.get("model"),
        "labels": list(info.get("labels") or []),
        "block": block,
        "conditional": block == "conditional",  # the Cond. column: were hints given in this row
        **cells,
    }


def eg_fid_cell(records: pd.DataFrame, ctx: ProtocolContext, variant: str) -> dict[str, Any]:
    """E_G[FID] = Σ G(n)·FID(n) (named apart from the mixture FID under G); n/a unless every n is cached."""
    ids, _ = psnr_matrix(records, variant, [0])
    by_n: dict[int, float] = {}
    for n in range(ctx.law.nc + 1):
        cell = fid_cell(ctx, variant, [feature_key(i, "native", n) for i in ids], ids)
        if cell["value"] is None:
            return {"value": None, "reason": f"E_G[FID] needs FID at every n; n = {n}: {cell['reason']}"}
        by_n[n] = cell["value"]
    return {"value": expected_of_fid(by_n, ctx.law), "n": len(ids), "reason": None}


def _paper_note(option: Any, key: str | None, ctx: ProtocolContext) -> str | None:
    if option and key is None:
        name = ctx.dataset.get("name")
        return f"the paper reports no numbers for dataset {name!r} (it has yumi, tag2pix, celeba)"
    return None
