"""A third-party protocol with its own table, the way a plugin package would ship one: the protocol declares
its table builder, and colorbench.reports renders it without knowing its name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from colorbench.protocols.base import Protocol, ProtocolContext
from colorbench.reports.tables import Cell, Column, Row, TableSpec, mark_best


def hint_gain_table(result: Mapping[str, Any], opts: Mapping[str, Any]) -> TableSpec:
    """One row per variant: mean PSNR without hints, with the most hints, and the gain."""
    columns = [Column("variant", "Variant", align="l", numeric=False), Column("psnr0", "PSNR@0"),
               Column("psnr_max", "PSNR@max"), Column("gain", "Gain↑", "max")]
    rows = [Row({"variant": Cell.label(r["variant"]), "psnr0": Cell(r["psnr0"]), "psnr_max": Cell(r["psnr_max"]),
                 "gain": Cell(r["gain"])}) for r in result["rows"]]
    return mark_best(TableSpec("hint_gain", "Plugin: PSNR gain from the most hints", columns, rows,
                               [f"{len(rows)} variants"]))


class HintGain(Protocol):
    """Mean PSNR at the largest recorded hint count minus at none, per variant (native records)."""

    name = "hint_gain"
    title = "Plugin: PSNR gain from hints"
    modes = ("native",)
    tables = (hint_gain_table,)

    def compute(self, records: pd.DataFrame, ctx: ProtocolContext) -> dict[str, Any]:
        native = records[records["mode"] == "native"]
        rows = []
        for variant, r in native.groupby("variant", sort=True):
            by_n = r.groupby("n")["psnr"].mean()
            rows.append({"variant": str(variant), "psnr0": float(by_n.iloc[0]), "psnr_max": float(by_n.iloc[-1]),
                         "gain": float(by_n.iloc[-1] - by_n.iloc[0])})
        return {"rows": rows}
