"""Table cells shared by Table 1, Table 3 and the comparisons: a value with its image count and 95% bootstrap
interval (PSNR, NRI) or its FID cell, for the automatic (n = 0, E7.1) and conditional (E_G, E7.2-7.4) rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from colorbench.evaluation.records import feature_key, metric_columns
from colorbench.metrics.directions import KINDS
from colorbench.protocols.base import ProtocolContext
from colorbench.protocols.bootstrap import bootstrap_ci
from colorbench.protocols.expected import (
    automatic_psnr_per_image,
    expected_per_image,
    expected_psnr_per_image,
    mixture_keys,
    monte_carlo_psnr,
)
from colorbench.protocols.fid_sets import fid_cell, na_cell
from colorbench.protocols.levels import psnr_matrix
from colorbench.protocols.nri import nri_per_image

# Per-image quantities that can be compared between variants (paired bootstrap); directions in
# colorbench.metrics.directions.
PER_IMAGE_METRICS = ("psnr_auto", "psnr_expected", "nri")


def ci_cell(values: np.ndarray, opts: Mapping[str, Any]) -> dict[str, Any]:
    """Mean of per-image values with its seeded percentile-bootstrap interval."""
    return bootstrap_ci(
        values, n_resamples=int(opts["n_boot"]), seed=int(opts["seed"]), level=float(opts["ci_level"])
    )


def per_image(
    records: pd.DataFrame, ctx: ProtocolContext, variant: str, metric: str
) -> tuple[list[str], np.ndarray]:
    """(image ids, per-image values) of one metric.

    "psnr_auto": PSNR at n = 0; "psnr_expected": Σ G(n)·PSNR_i(n); "nri": first n with PSNR ≥ τ (Nc + 1 if
    none); "ssim_auto", "deltae_expected", …: the same two for an extra metric column of records.csv.
    """
    if metric == "nri":
        ids, mat = psnr_matrix(records, variant, range(ctx.law.nc + 1))
        return ids, nri_per_image(mat, ctx.nri_threshold).astype(np.float64)
    column, _, kind = metric.rpartition("_")  # PSNR or a `run --metrics` column: COLUMN_auto / COLUMN_expected
    if kind in KINDS and (column == "psnr" or column in metric_columns(records)):
        if kind == "auto":
            return automatic_psnr_per_image(records, variant, column=column)
        return expected_psnr_per_image(records, variant, ctx.law, column=column)
    raise ValueError(f"unknown per-image metric {metric!r}; known: {', '.join(PER_IMAGE_METRICS)} and "
                     "COLUMN_auto / COLUMN_expected of a records column")


def metric_columns_of(records: pd.DataFrame, ctx: ProtocolContext) -> list[dict[str, Any]]:
    """The extra per-image metric columns to report: {"column", "header", "higher_is_better", "metric"} for every
    column of records.csv beyond RECORD_COLUMNS, described by run.json's config.plan.metrics (the `run --metrics`
    selection) and in its order; a column no description names (a folder merged from other runs) is shown
    under its own name, without a direction."""
    described: dict[str, dict[str, Any]] = {}
    for m in ((ctx.run.get("config") or {}).get("plan") or {}).get("metrics") or []:
        for col, header, hib in zip(m["columns"], m.get("headers") or m["columns"], m["higher_is_better"]):
            described[col] = {"column": col, "header": header, "higher_is_better": hib, "metric": m["name"]}
            if m.get("unavailable"):  # selected, not computable here (no weights): an n/a column with the reason
                described[col]["unavailable"] = m["unavailable"]
    present = set(metric_columns(records))
    out = [d for c, d in described.items() if c in present or "unavailable" in d]
    return out + [{"column": c, "header": c, "higher_is_better": None, "metric": c}
                  for c in metric_columns(records) if c not in described]


def metric_cells(
    records: pd.DataFrame, ctx: ProtocolContext, variant: str, opts: Mapping[str, Any], conditional: bool
) -> dict[str, Any]:
    """Column → cell of every extra metric: its mean at n = 0 (✗ Cond.) or its exact expectation under G,
    Σ_n G(n)·mean_i metric_i(n), as E_G[PSNR] (✓ Cond.), each with its bootstrap interval over images."""
    out: dict[str, Any] = {}
    for spec in metric_columns_of(records, ctx):
        col = spec["column"]
        if "unavailable" in spec:
            out[col] = na_cell(spec["unavailable"])
        elif conditional:
            out[col] = ci_cell(expected_psnr_per_image(records, variant, ctx.law, column=col)[1], opts)
        else:
            out[col] = ci_cell(automatic_psnr_per_image(records, variant, column=col)[1], opts)
    return out


def automatic_cells(
    records: pd.DataFrame, ctx: ProtocolContext, variant: str, opts: Mapping[str, Any]
) -> dict:
    """The "✗ Cond." row (E7.1): PSNR and FID of the outputs without any hint."""
    ids, psnr0 = automatic_psnr_per_image(records, variant)
    return {
        "psnr": ci_cell(psnr0, opts),
        "fid": fid_cell(ctx, variant, [feature_key(i, "native", 0) for i in ids], ids),
        "nri": None,  # NRI is reported for conditional models only (E7.4)
        "metrics": metric_cells(records, ctx, variant, opts, conditional=False),
    }


def conditional_cells(
    records: pd.DataFrame, ctx: ProtocolContext, variant: str, opts: Mapping[str, Any]
) -> dict:
    """The "✓ Cond." row: exact E_G[PSNR] (E7.2), FID of the stratified mixture (E7.3), NRI (E7.4)."""
    law = ctx.law
    ids, mat = psnr_matrix(records, variant, range(law.nc + 1))
    expected = expected_per_image(mat, law)
    nri = nri_per_image(mat, ctx.nri_threshold).astype(np.float64)
    return {
        "psnr": ci_cell(expected, opts),
        "fid": mixture_fid_cell(ctx, variant, ids),
        "nri": ci_cell(nri, opts),
        "metrics": metric_cells(records, ctx, variant, opts, conditional=True),
        "mc_check": monte_carlo_psnr(
            records, variant, law, str(ctx.dataset.get("name", "")), int(opts["seed"])
        ),
    }


def mixture_fid_cell(ctx: ProtocolContext, variant: str, ids: list[str]) -> dict[str, Any]:
    """FID under G (E7.3): each image at its stratified Nh (run.json fid.nh_assignment); n/a with the reason."""
    nh = ctx.fid.get("nh_assignment") or {}
    if not ctx.fid.get("available"):
        return fid_cell(ctx, variant, [], ids)  # the n/a cell with run.json's reason
    if not nh:
        return na_cell("run.json has no fid.nh_assignment (E7.3 stratified Nh); rerun `colorbench run`")
    return fid_cell(ctx, variant, mixture_keys(ids, nh), ids)
