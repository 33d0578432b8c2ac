"""The hint_policy protocol's tables as TableSpecs: every policy of every model (E_G[PSNR], NRI, PSNR at a few
n, the difference to the model's own policy), and the guidance gain / efficiency per model. Pure data shaping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from colorbench.defaults import EVAL
from colorbench.reports.table_specs import _ci_note, ci_cell, directed
from colorbench.reports.tables import Cell, Column, Row, TableSpec, mark_best

SHOWN_N = (1, 2, 4, 8)  # PSNR(n) columns of the policy table (the full curve is in results.json and the figure)


def _pair(entry: Mapping[str, Any], a: str, b: str) -> Mapping[str, Any] | None:
    """The paired test of policies a − b of one model (the protocol stores each pair once, either way round)."""
    for p in entry.get("pairs", []):
        if (p["a"], p["b"]) == (a, b):
            return p
        if (p["a"], p["b"]) == (b, a):
            flip = dict(p)
            for key in ("psnr_expected", "nri"):
                c = p[key]
                flip[key] = c | {"value": -c["value"], "low": -c["high"], "high": -c["low"]}
            return flip
    return None


def policy_table(result: Mapping[str, Any], opts: Mapping[str, Any]) -> TableSpec | None:
    """Model | policy | PSNR(n) | E_G[PSNR] | NRI | Δ E_G and Δ NRI vs the model's guided policy (p)."""
    variants = result.get("variants") or {}
    if not variants:
        return None
    nc = int(result.get("nc", EVAL.nc))
    shown = [n for n in SHOWN_N if n <= nc]
    columns = [Column("model", "Model", align="l", numeric=False), Column("policy", "Policy", align="l", numeric=False)]
    columns += [directed(f"n{n}", f"PSNR n={n}", of="psnr") for n in shown]
    columns += [directed("eg", "E_G[PSNR]", of="psnr_expected"), directed("nri", "NRI"),
                Column("d_eg", "Δ E_G vs guided"), Column("p_eg", "p", decimals=3),
                Column("d_nri", "Δ NRI vs guided"), Column("p_nri", "p", decimals=3)]
    rows = []
    for v, entry in variants.items():
        for name, pol in entry["policies"].items():
            pair = None if name == entry["guided"] else _pair(entry, name, entry["guided"])
            label = name + (f" (= {pol['same_as']})" if pol.get("same_as") else "")
            label += f" ×{pol['orders']}" if pol.get("orders", 1) > 1 else ""
            cells = {"model": Cell.label(entry["name"]), "policy": Cell.label(label),
                     "eg": ci_cell(pol["psnr_expected"]), "nri": ci_cell(pol["nri"]),
                     "d_eg": ci_cell(pair["psnr_expected"]) if pair else Cell(text="–"),
                     "p_eg": Cell(pair["psnr_expected"]["p_value"]) if pair else Cell(text="–"),
                     "d_nri": ci_cell(pair["nri"]) if pair else Cell(text="–"),
                     "p_nri": Cell(pair["nri"]["p_value"]) if pair else Cell(text="–")}
            cells |= {f"n{n}": Cell(pol["psnr_by_n"][n]) for n in shown}
            rows.append(Row(cells, block=v))
    notes = [
        (f"{result.get('dataset')}: each model's hints under other policies (colorbench run --modes …,policies). "
         "Region models: own = the model's priority, learned = its network's channel order (when the priority "
         "differs), area = largest region first, random = seeded orders of the same regions (×K: mean over K per "
         "image), oracle = next the unhinted region with the largest error mass of the current output. "
         "Point/stroke models: user = the paper's simulated user, guided = the same hints inside GuidingPainter's "
         "regions in its order, oracle = next hint at the largest error blob of the current output with the "
         "ground-truth colour."),
        (f"E_G[PSNR]: exact Σ G(n)·PSNR(n) (Nc = {nc}, p = {result.get('p')}); NRI: first n with PSNR ≥ "
         f"{float(result.get('nri_threshold', 0)):g} dB, Nc + 1 if none. Δ: paired per-image difference policy − "
         "guided (own / guided) with its bootstrap interval and two-sided p."),
        _ci_note(opts) + " Bold: best per model.",
    ]
    notes += [f"{v}: skipped — {why}" for v, why in sorted((result.get("skipped") or {}).items())]
    spec = TableSpec("hint_policy", "Hint policies: PSNR, E_G[PSNR] and NRI per policy", columns, rows, notes)
    return mark_best(spec)


def efficiency_table(result: Mapping[str, Any], opts: Mapping[str, Any]) -> TableSpec | None:
    """Model | control → guided | guidance gain | oracle gain | efficiency | p(gain)."""
    variants = result.get("variants") or {}
    if not variants:
        return None
    columns = [Column("model", "Model", align="l", numeric=False),
               Column("policies", "control → guided", align="l", numeric=False),
               directed("gain", "guidance gain (NRI)"), Column("p", "p", decimals=3),
               Column("oracle", "oracle gain (NRI)"), directed("eff", "efficiency", of="efficiency", decimals=3),
               directed("gain_eg", "gain E_G (dB)", of="gain"), Column("oracle_eg", "oracle gain E_G (dB)"),
               directed("eff_eg", "efficiency E_G", of="efficiency", decimals=3)]
    rows = []
    for entry in variants.values():
        gain, oracle, eff = entry.get("gain"), entry.get("oracle_gain"), entry.get("efficiency")
        rows.append(Row({"model": Cell.label(entry["name"]),
                         "policies": Cell.label(f"{entry['control']} → {entry['guided']}"),
                         "gain": ci_cell(gain), "p": Cell(gain["p_value"]) if gain else Cell(text="–"),
                         "oracle": ci_cell(oracle), "eff": ci_cell(eff),
                         "gain_eg": ci_cell(entry.get("gain_expected")),
                         "oracle_eg": ci_cell(entry.get("oracle_gain_expected")),
                         "eff_eg": ci_cell(entry.get("efficiency_expected"))}))
    notes = [
        ("guidance gain = NRI(control) − NRI(guided): interactions the model's order (region models: own vs "
         "random) or GuidingPainter's placement (point/stroke models: guided vs the simulated user) saves per "
         "image; > 0 helps. oracle gain = NRI(control) − NRI(oracle). efficiency = guidance gain / oracle gain "
         "(ratio of means, images resampled jointly): 1 = as good as the oracle, 0 = no better than the control; "
         "– when the oracle gains nothing on average. The E_G columns: the same with E_G[PSNR] (guided − control, "
         "oracle − control, in dB)."),
        _ci_note(opts) + " p: paired bootstrap, two-sided.",
    ]
    notes += [f"{entry['name']}: {entry['note']}" for entry in variants.values() if entry.get("note")]
    return mark_best(TableSpec("guidance_efficiency", "Guidance gain and efficiency", columns, rows, notes))


def policy_specs(result: Mapping[str, Any], opts: Mapping[str, Any]) -> list[TableSpec | None]:
    """Both tables of the hint_policy result (none without policy records)."""
    return [policy_table(result, opts), efficiency_table(result, opts)]
