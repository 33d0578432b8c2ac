"""Perturbed hints (supplement E.2, automatic stand-in for the user ranking): how faithfully a model paints
the hinted colour inside the hinted region when hint colours are shifted by uniform ±64 per RGB channel.

hint_err = mean |Ŷ − C| over hinted pixels (8-bit units), C being the hint actually given (the perturbed
one in "perturbed" mode). ratio = hint_err(perturbed) / hint_err(natural) at the same n, images and hint
placement: 1 means unusual colours are followed as well as natural ones; larger means the model falls back
to its prior. As in the paper, every model's hints lie inside GuidingPainter's guided regions (the engine
places point/stroke hints there), so a point/stroke model's natural-colour reference is its "equalized" rows
and GuidingPainter's is its "native" rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from colorbench.protocols.base import Protocol, ProtocolContext
from colorbench.protocols.bootstrap import bootstrap_ratio_ci
from colorbench.protocols.cells import ci_cell
from colorbench.protocols.levels import mode_rows
from colorbench.protocols.options import resolve_options
from colorbench.protocols.selection import display_name, is_conditional, table1_variants


def reference_mode(info: dict[str, Any]) -> str:
    """The mode holding a variant's natural-colour hints at the perturbed hints' placement (run.json entry)."""
    return "equalized" if info.get("hint_kind") in ("point", "stroke") else "native"


def paired_errors(records: pd.DataFrame, variant: str, reference: str = "native") -> pd.DataFrame:
    """Rows (image_id, n, native, perturbed) of hint_err at the n both modes have, n ≥ 1, both finite;
    "native" holds the `reference` mode's (natural-colour) error."""
    nat = mode_rows(records, variant, reference)
    per = mode_rows(records, variant, "perturbed")
    nat = nat[nat["n"] >= 1][["image_id", "n", "hint_err"]].rename(columns={"hint_err": "native"})
    per = per[per["n"] >= 1][["image_id", "n", "hint_err"]].rename(columns={"hint_err": "perturbed"})
    both = per.merge(nat, on=["image_id", "n"], how="inner")
    return both[np.isfinite(both["native"]) & np.isfinite(both["perturbed"])].sort_values(["image_id", "n"])


class PerturbedHints(Protocol):
    name = "perturbed_hints"
    title = "Supplement E.2: colour error inside the hint region, perturbed vs natural hint colours"
    modes = ("native", "perturbed")
    tables = ("colorbench.reports.table_specs:perturbed_spec",)
    table_order = 40

    def compute(self, records: pd.DataFrame, ctx: ProtocolContext) -> dict[str, Any]:
        opts = resolve_options(ctx.options)
        boot = {
            "n_resamples": int(opts["n_boot"]),
            "seed": int(opts["seed"]),
            "level": float(opts["ci_level"]),
        }
        out: dict[str, Any] = {}
        skipped: dict[str, str] = {}
        for v in table1_variants(ctx.variants):
            if not is_conditional(ctx.variants[v]):
                continue  # no hints, nothing to follow
            reference = reference_mode(ctx.variants[v])
            pairs = paired_errors(records, v, reference)
            if pairs.empty:
                skipped[v] = (
                    f"no perturbed and {reference} records with hints at the same n (rerun `colorbench run` with "
                    "--modes …,perturbed" + (" and a GuidingPainter checkpoint, whose regions place the hints)"
                                             if reference == "equalized" else ")")
                )
                continue
            # Per image, average over the hint counts so the bootstrap resamples independent units.
            per_image = pairs.groupby("image_id")[["native", "perturbed"]].mean()
            if float(per_image["native"].mean()) == 0.0:
                skipped[v] = "native hint error is exactly 0, the ratio is undefined"
                continue
            by_n = []
            for n, grp in pairs.groupby("n"):
                by_n.append(
                    {
                        "hints": int(n),
                        "native": float(grp["native"].mean()),
                        "perturbed": float(grp["perturbed"].mean()),
                        "ratio": float(grp["perturbed"].mean() / grp["native"].mean())
                        if grp["native"].mean() > 0
                        else None,
                        "n": len(grp),
                    }
                )
            out[v] = {
                "name": display_name(v, ctx.variants[v]),
                "model": ctx.variants[v].get("model"),
                "levels": sorted(int(n) for n in pairs["n"].unique()),
                "reference_mode": reference,
                "native": ci_cell(per_image["native"].to_numpy(), opts),
                "perturbed": ci_cell(per_image["perturbed"].to_numpy(), opts),
                "ratio": bootstrap_ratio_ci(
                    per_image["perturbed"].to_numpy(), per_image["native"].to_numpy(), **boot
                ),
                "by_n": by_n,
            }
        return {
            "dataset": ctx.dataset.get("name"),
            "amount": ctx.run.get("protocol", {}).get("perturb_amount", 64.0),
            "variants": out,
            "skipped": skipped,
        }
