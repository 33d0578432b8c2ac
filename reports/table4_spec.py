"""Table 4 (paper supplement B) as a TableSpec: Method | Dataset | PSNR↑ | FID↓ for the grayscale run's models, the
paper's rows (CelebA, Imagenet Car, Yosemite; `--paper-rows`) in italics below. Pure data shaping of the `table4`
protocol's result (colorbench.protocols.table4): no model, no records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from colorbench.reports.table_specs import _ci_note, ci_cell, directed, fid_cell
from colorbench.reports.tables import Cell, Column, Row, TableSpec, mark_best


def table4_spec(result: Mapping[str, Any], opts: Mapping[str, Any]) -> TableSpec | None:
    """The Table 4 spec, or None when the run was not a grayscale run (nothing to show)."""
    if result.get("input") != "grayscale" or not result.get("rows"):
        return None
    notes: list[str] = []
    columns = [
        Column("method", "Method", align="l", numeric=False),
        Column("dataset", "Dataset", align="l", numeric=False),
        directed("psnr", "PSNR"),
        directed("fid", "FID", show_n=True),
    ]
    rows = [
        Row({"method": Cell.label(str(r["name"]) + ("" if r["conditional"] else " (automatic, n = 0)")),
             "dataset": Cell.label(str(result.get("dataset"))),
             "psnr": ci_cell(r["psnr"]), "fid": fid_cell(r["fid"], notes)}, block="measured")
        for r in result["rows"]
    ]
    rows += [
        Row({"method": Cell.label(f"{p['label']} (paper)"), "dataset": Cell.label(p["dataset"]),
             "psnr": Cell(p["psnr"]), "fid": Cell(p["fid"])}, block="paper", reference=True)
        for p in result.get("paper_rows", [])
    ]
    notes[:0] = [
        (f"{result.get('dataset')}: N = {result.get('n_images')} test images, grayscale input (L → ab, the output's "
         f"ab recombined with the input L; PSNR/FID on RGB). Conditional models: exact E_G[PSNR] over Nh ~ G "
         f"(Nc = {result.get('nc')}, p = {result.get('p')}) and FID of the stratified mixture set (E7.3), the same "
         "hints for every model, as the paper's Table 4."),
        _ci_note(opts) + " Bold: best measured value per column.",
    ]
    if result.get("paper_rows"):
        notes.append("Italic rows: the paper's Table 4 (supplement B), on its datasets, for reference only.")
    return mark_best(TableSpec("table4", "Table 4: grayscale colorization (supplement B)", columns, rows, notes))
