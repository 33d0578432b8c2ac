"""Table 4 (paper supplement B): grayscale colorization (L → ab), PSNR↑ / FID↓ per dataset with the same amount of
hints for every model, following G — E_G[PSNR] (E7.2) and the FID of the stratified mixture set (E7.3), the
quantities of Table 1's ✓ block. Automatic models (CIC) get their n = 0 values. Runs only on records of a run
whose input was grayscale (run.json dataset.describe.input); on a sketch run it reports why it is empty.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from colorbench.evaluation.records import feature_key
from colorbench.protocols.base import Protocol, ProtocolContext
from colorbench.protocols.cells import ci_cell, mixture_fid_cell
from colorbench.protocols.expected import automatic_psnr_per_image, expected_psnr_per_image
from colorbench.protocols.fid_sets import fid_cell
from colorbench.protocols.levels import variants_present
from colorbench.protocols.options import resolve_options
from colorbench.protocols.paper_rows import table4_rows
from colorbench.protocols.selection import display_name, is_conditional, table1_variants


def run_input(ctx: ProtocolContext) -> str:
    """The input mode of the run: "grayscale" when run.json's dataset description says so, else "sketch"."""
    return str((ctx.dataset.get("describe") or {}).get("input", "sketch"))


class Table4(Protocol):
    name = "table4"
    title = "Table 4: grayscale colorization (L → ab), PSNR / FID with hints following G"
    modes = ("native",)
    tables = ("colorbench.reports.table4_spec:table4_spec",)  # returns None on sketch runs: no table written
    table_order = 50

    def compute(self, records: pd.DataFrame, ctx: ProtocolContext) -> dict[str, Any]:
        opts = resolve_options(ctx.options)
        mode = run_input(ctx)
        base = {"dataset": ctx.dataset.get("name"), "input": mode, "nc": ctx.law.nc, "p": ctx.law.p,
                "fid_status": {k: ctx.fid.get(k) for k in ("available", "reason", "weights_sha256", "standard")}}
        if mode != "grayscale":
            return base | {"rows": [], "paper_rows": [], "n_images": 0,
                           "note": "Table 4 is for grayscale runs (`colorbench run --input grayscale`, or a dataset "
                                   "whose default input is grayscale such as toon-gray); this run fed sketches"}
        present = variants_present(records)
        rows = []
        n_images = 0
        for v in (v for v in table1_variants(ctx.variants) if v in present):
            info = ctx.variants[v]
            conditional = is_conditional(info)
            if conditional:
                ids, values = expected_psnr_per_image(records, v, ctx.law)
                fid = mixture_fid_cell(ctx, v, ids)
            else:
                ids, values = automatic_psnr_per_image(records, v)
                fid = fid_cell(ctx, v, [feature_key(i, "native", 0) for i in ids], ids)
            n_images = max(n_images, len(ids))
            rows.append({"variant": v, "name": display_name(v, info), "model": info.get("model"),
                         "conditional": conditional, "psnr": ci_cell(values, opts), "fid": fid})
        return base | {"rows": rows, "n_images": n_images, "note": None,
                       "paper_rows": table4_rows() if opts["paper_rows"] else []}
