"""Perturbed hints (supplement E.2, automatic stand-in for the user ranking): how faithfully a model paints
the hinted colour inside the hinted region when hint colours are shifted by uniform ±64 per RGB channel.

hint_err = mean |Ŷ − C| over hinted pixels (8-bit units), C being the hint actually given (the perturbed
one in "perturbed" mode). ratio = hint_err(perturbed) / hint_err(natural) at the same n, images and hint
placement: 1 means unusual colours are followed as well as natural ones; larger means the model falls back
to its prior. Newer runs also record hint_de, the mean CIEDE2000 ΔE between the hint colour and the
output over the hinted pixels: the same fidelity in perceptual units (≈ 1 just noticeable), reported beside
the RGB error with its own ratio. As in the paper, every model's hints lie inside GuidingPainter's guided regions (the engine
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
    """Rows (image_id, n, native, perturbed[, native_de, perturbed_de]) at the n both modes have, n ≥ 1, RGB
    errors finite; "native" holds the `reference` mode's (natural-colour) hint_err, "*_de" its hint_de (when
    records.csv has that column, i.e. the run's perturbed mode recorded it)."""
    cols = ["hint_err"] + (["hint_de"] if "hint_de" in records else [])
    names = {"hint_err": "", "hint_de": "_de"}

    def side(mode: str, label: str) -> pd.DataFrame:
        rows = mode_rows(records, variant, mode)
        return rows[rows["n"] >= 1][["image_id", "n", *cols]].rename(columns={c: label + names[c] for c in cols})

    both = side("perturbed", "perturbed").merge(side(reference, "native"), on=["image_id", "n"], how="inner")
    return both[np.isfinite(both["native"]) & np.isfinite(both["perturbed"])].sort_values(["image_id", "n"])


def _de_cells(pairs: pd.DataFrame, per_image: pd.DataFrame, opts: dict[str, Any], boot: dict[str, Any]) -> dict[str, Any]:
    """The ΔE2000 cells (natural, perturbed, ratio) when every pair has a finite hint_de; else {} (older
    records, or rows without it: shown as n/a rather than averaged over a subset)."""
    if "native_de" not in pairs or not np.isfinite(pairs[["native_de", "perturbed_de"]].to_numpy()).all():
        return {}
    nat, per = per_image["native_de"].to_numpy(), per_image["perturbed_de"].to_numpy()
    return {"native_de": ci_cell(nat, opts), "perturbed_de": ci_cell(per, opts),
            "ratio_de": bootstrap_ratio_ci(per, nat, **boot) if nat.mean() > 0 else None}


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
            per_image = pairs.groupby("image_id")[[c for c in pairs if c not in ("image_id", "n")]].mean()
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
                        **({"native_de": float(grp["native_de"].mean()), "perturbed_de": float(grp["perturbed_de"].mean())}
                           if "native_de" in grp else {}),
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
                **_de_cells(pairs, per_image, opts, boot),
            }
        return {
            "dataset": ctx.dataset.get("name"),
            "amount": ctx.run.get("protocol", {}).get("perturb_amount", 64.0),
            "variants": out,
            "skipped": skipped,
        }
