"""`--compare ours,rtug`: paired bootstrap of the per-image difference between two variants, with p-values.

Pairing over the same test images removes the image-difficulty variance that unpaired intervals carry,
so a real gap shows up even when the two Table 1 intervals overlap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from colorbench.errors import UsageError
from colorbench.metrics.directions import HIGHER_IS_BETTER, KINDS
from colorbench.protocols.base import ProtocolContext
from colorbench.protocols.bootstrap import paired_bootstrap
from colorbench.protocols.cells import metric_columns_of, per_image
from colorbench.protocols.selection import display_name, is_conditional, resolve_variant


def parse_pairs(spec: str | Sequence[str] | None) -> list[tuple[str, str]]:
    """ "ours,rtug" or "ours,rtug;ours,alacgan" or ["ours,rtug", …] → [("ours", "rtug"), …]."""
    if not spec:
        return []
    parts = spec.split(";") if isinstance(spec, str) else list(spec)
    pairs = []
    for part in parts:
        names = [p.strip() for p in str(part).split(",") if p.strip()]
        if len(names) != 2:
            raise UsageError(
                f"--compare {part!r}: give exactly two variants separated by a comma, e.g. ours,rtug"
            )
        pairs.append((names[0], names[1]))
    return pairs


def resolve_pair(a: str, b: str, variants: Mapping[str, Mapping[str, Any]]) -> tuple[str, str]:
    """The labels of the two different variants `a` and `b` name (run.json `variants`); else a UsageError."""
    va, vb = resolve_variant(a, variants), resolve_variant(b, variants)
    if va == vb:
        raise UsageError(f"--compare {a},{b}: both name the same variant {va!r}")
    return va, vb



def check_compare(spec: str | None, variants: Mapping[str, Mapping[str, Any]]) -> None:
    """Every pair of --compare names two different variants of the run (`variants`: label → run.json info)."""
    for a, b in parse_pairs(spec):
        resolve_pair(a, b, variants)

def compare_pair(
    records: pd.DataFrame, ctx: ProtocolContext, a: str, b: str, opts: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """One entry per metric both variants have: Δ = mean_i(a_i − b_i) with CI and two-sided p-value."""
    va, vb = resolve_pair(a, b, ctx.variants)
    both_conditional = is_conditional(ctx.variants[va]) and is_conditional(ctx.variants[vb])
    metrics = ["psnr_auto"] + (["psnr_expected", "nri"] if both_conditional else [])
    better: dict[str, bool | None] = dict(HIGHER_IS_BETTER)
    for m in (m for m in metric_columns_of(records, ctx) if "unavailable" not in m):  # run --metrics columns
        for kind in KINDS if both_conditional else ("auto",):
            metrics.append(f"{m['column']}_{kind}")
            better[metrics[-1]] = m["higher_is_better"]
    out = []
    for metric in metrics:
        ids_a, xa = per_image(records, ctx, va, metric)
        ids_b, xb = per_image(records, ctx, vb, metric)
        common = sorted(set(ids_a) & set(ids_b))
        if not common:
            raise UsageError(f"--compare {a},{b}: the two variants share no test images")
        ia = {k: j for j, k in enumerate(ids_a)}
        ib = {k: j for j, k in enumerate(ids_b)}
        da = np.array([xa[ia[k]] for k in common])
        db = np.array([xb[ib[k]] for k in common])
        res = paired_bootstrap(
            da, db, n_resamples=int(opts["n_boot"]), seed=int(opts["seed"]), level=float(opts["ci_level"])
        )
        out.append(
            {
                "a": va,
                "b": vb,
                "a_name": display_name(va, ctx.variants[va]),
                "b_name": display_name(vb, ctx.variants[vb]),
                "metric": metric,
                "higher_is_better": better[metric],
                "diff": res["value"],
                "low": res["low"],
                "high": res["high"],
                "level": res["level"],
                "p_value": res["p_value"],
                "n": res["n"],
            }
        )
    return out


def compare_all(records: pd.DataFrame, ctx: ProtocolContext, opts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every pair of `opts["compare"]`, flattened (empty when no comparison was asked for)."""
    out: list[dict[str, Any]] = []
    for a, b in parse_pairs(opts.get("compare")):
        out += compare_pair(records, ctx, a, b, opts)
    return out
