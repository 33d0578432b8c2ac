"""Protocol results (JSON) → TableSpecs: Table 1, Table 3, the Fig. 12 sweep, perturbed hints, comparisons.

Pure data shaping: no model, no engine, no records — only what the protocols computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from colorbench.defaults import REPORT_OPTIONS
from colorbench.metrics.directions import HIGHER_IS_BETTER
from colorbench.reports.tables import Cell, Column, Row, TableSpec, mark_best

METRIC_NAMES = {"psnr_auto": "PSNR (n = 0)", "psnr_expected": "E_G[PSNR]", "nri": "NRI"}
LOSS_HEADERS = {"rec": "L_rec", "adv": "L_adv", "tv": "L_tv", "smth": "L_smth"}
# higher_is_better (True / False / None: no direction) → (header arrow, best-of rule of the column)
ARROWS: dict[bool | None, tuple[str, Any]] = {True: ("↑", "max"), False: ("↓", "min"), None: ("", None)}
FEW_IMAGES_MARK = "†"
NA_MARK = "‡"


def _metric_name(metric: str) -> str:
    """Display name of a compared metric: "PSNR (n = 0)", "E_G[PSNR]", "NRI", "ssim (n = 0)", "E_G[deltae]"."""
    if metric in METRIC_NAMES:
        return METRIC_NAMES[metric]
    column, _, kind = metric.rpartition("_")
    return {"auto": f"{column} (n = 0)", "expected": f"E_G[{column}]"}.get(kind, metric)


def directed(key: str, label: str, of: str | None = None, **kw: Any) -> Column:
    """A column with the arrow and best-of rule of quantity `of` (default `key`) from the one direction table,
    colorbench.metrics.directions: directed("fid", "FID") is Column("fid", "FID↓", "min")."""
    arrow, better = ARROWS[HIGHER_IS_BETTER[of or key]]
    return Column(key, label + arrow, better, **kw)


def ci_cell(cell: Mapping[str, Any] | None) -> Cell:
    """{"value", "low", "high", "n"} → Cell; None → "–" (metric not defined for the row)."""
    if cell is None:
        return Cell(text="–")
    return Cell(cell.get("value"), cell.get("low"), cell.get("high"), cell.get("n"))


def _metric_cell(cell: Mapping[str, Any] | None, header: str, notes: list[str]) -> Cell:
    """An extra metric's cell; one that could not be computed (no weights) is "n/a" with the reason as a note."""
    if cell is not None and cell.get("value") is None and cell.get("reason"):
        _add(notes, f"{NA_MARK} {header} n/a: {cell['reason']}")
        return Cell(text="n/a", marks=NA_MARK)
    return ci_cell(cell)


def fid_cell(cell: Mapping[str, Any] | None, notes: list[str]) -> Cell:
    """FID value with its image count; "n/a" with the reason as a note; † when N < 2048."""
    if cell is None:
        return Cell(text="–")
    if cell.get("value") is None:
        _add(notes, f"{NA_MARK} FID n/a: {cell.get('reason') or 'not computed'}")
        return Cell(text="n/a", marks=NA_MARK)
    out = Cell(float(cell["value"]), n=cell.get("n"))
    if cell.get("warning"):
        out.marks = FEW_IMAGES_MARK
        _add(notes, f"{FEW_IMAGES_MARK} {cell['warning']}")
    if cell.get("standard") is False:
        _add(notes, "FID computed with non-standard Inception weights (sha256 differs from 6726825d…)")
    return out


def _add(notes: list[str], note: str) -> None:
    if note not in notes:
        notes.append(note)


def _ci_note(opts: Mapping[str, Any]) -> str:
    return (
        f"[lo, hi]: {100 * float(opts.get('ci_level', REPORT_OPTIONS['ci_level'])):.0f}% percentile bootstrap over images "
        f"({int(opts.get('n_boot', REPORT_OPTIONS['n_boot']))} resamples, seed {int(opts.get('seed', REPORT_OPTIONS['seed']))})."
    )


def _model_label(row: Mapping[str, Any]) -> str:
    labels = row.get("labels") or []
    return f"{row['name']} ({', '.join(labels)})" if labels else str(row["name"])


# --------------------------------------------------------------------------------------------- Table 1
def table1_spec(result: Mapping[str, Any], opts: Mapping[str, Any]) -> TableSpec:
    """Table 1 with a ✗ block (n = 0) and a ✓ block (E over G); paper rows (italic) after each block."""
    notes: list[str] = []
    columns = [
        Column("method", "Method", align="l", numeric=False),
        Column("cond", "Cond.", align="c", numeric=False),
        directed("psnr", "PSNR"),
        directed("fid", "FID", show_n=True),
        directed("nri", "NRI"),
    ]
    extra = result.get("metric_columns") or []  # run --metrics: one column each, E_G in the ✓ block
    columns += [Column(f"m_{m['column']}", m["header"] + ARROWS[m["higher_is_better"]][0],
                       ARROWS[m["higher_is_better"]][1], decimals=3 if m["column"] == "ssim" else 2) for m in extra]
    rows: list[Row] = []
    for block in ("automatic", "conditional"):
        for r in (x for x in result["rows"] if x["block"] == block):
            rows.append(
                Row(
                    {
                        "method": Cell.label(_model_label(r)),
                        "cond": Cell.label("✓" if r["conditional"] else "✗"),
                        "psnr": ci_cell(r["psnr"]),
                        "fid": fid_cell(r["fid"], notes),
                        "nri": ci_cell(r.get("nri")),
                    }
                    | {f"m_{m['column']}": _metric_cell((r.get("metrics") or {}).get(m["column"]), m["header"], notes)
                       for m in extra},
                    block=block,
                )
            )
        for p in (x for x in result.get("paper_rows", []) if x["conditional"] == (block == "conditional")):
            rows.append(
                Row(
                    {
                        "method": Cell.label(f"{p['label']} (paper, {p['dataset']})"),
                        "cond": Cell.label("✓" if p["conditional"] else "✗"),
                        "psnr": Cell(p["psnr"]),
                        "fid": Cell(p["fid"]),
                        "nri": Cell(p["nri"]) if p["nri"] is not None else Cell(text="–"),
                    },
                    block=block,
                    reference=True,
                )
            )
    source = "option" if result.get("nri_threshold_source") == "option" else "dataset"
    notes[:0] = [
        (
            f"{result.get('dataset')}: N = {result.get('n_images')} test images. ✗: no hints (n = 0). "
            f"✓: PSNR is E_G[PSNR], the exact expectation over Nh ~ G (Nc = {result.get('nc')}, "
            f"p = {result.get('p')}); "
            f"FID of the stratified mixture set (E7.3). "
            f"NRI threshold {float(result['nri_threshold']):.2f} dB ({source})."
        ),
        _ci_note(opts) + " Bold: best per column within each block.",
    ]
    if extra:
        notes.append(
            "Extra metrics (" + ", ".join(m["header"] for m in extra) + "): per-image mean at n = 0 (✗), "
            "Σ G(n)·mean(n) (✓), as PSNR; ↑/↓ higher/lower is better, no arrow: no direction."
        )
    mc = [f"{r['name']} {r['mc_check']['value']:.2f}" for r in result["rows"] if r.get("mc_check")]
    if mc:
        notes.append(
            "Monte-Carlo check of E_G[PSNR] (one seeded Nh per image, as the official test script): "
            + ", ".join(mc)
            + "."
        )
    eg = [
        f"{r['name']} {r['eg_fid']['value']:.2f}"
        for r in result["rows"]
        if (r.get("eg_fid") or {}).get("value")
    ]
    if eg:
        notes.append("E_G[FID] = Σ G(n)·FID(n) (not the mixture FID above): " + ", ".join(eg) + ".")
    if result.get("paper_rows"):
        notes.append(
            f"Italic rows: numbers published in the paper ({result['paper_rows'][0]['source']}, "
            f"{result['paper_dataset']}); not measured here."
        )
    if result.get("paper_rows_note"):
        notes.append(f"Paper rows: {result['paper_rows_note']}.")
    return mark_best(TableSpec("table1", "Table 1: PSNR↑ / FID↓ / NRI↓", columns, rows, notes))


# --------------------------------------------------------------------------------------------- Table 3
def table3_spec(result: Mapping[str, Any], opts: Mapping[str, Any]) -> TableSpec | None:
    """Loss ablation rows (a)-(d) with ✓ per loss term; None when no ablation checkpoints were run."""
    if not result.get("rows"):
        return None
    notes: list[str] = []
    terms = result.get("terms", list(LOSS_HEADERS))
    columns = [Column("row", "", align="l", numeric=False)]
    columns += [Column(t, LOSS_HEADERS.get(t, t), align="c", numeric=False) for t in terms]
    columns += [
        directed("psnr", "PSNR"),
        directed("fid", "FID", show_n=True),
        directed("nri", "NRI"),
    ]
    rows = []
    for r in result["rows"]:
        cells = {
            "row": Cell.label(f"{r['label']} {r['name']}"),
            "psnr": ci_cell(r["psnr"]),
            "fid": fid_cell(r["fid"], notes),
            "nri": ci_cell(r["nri"]),
        }
        cells |= {t: Cell.label("✓" if t in r["losses"] else "") for t in terms}
        rows.append(Row(cells, block="measured"))
    for p in result.get("paper_rows", []):
        cells = {
            "row": Cell.label(f"{p['label']} (paper, {p['dataset']})"),
            "psnr": Cell(p["psnr"]),
            "fid": Cell(p["fid"]),
            "nri": Cell(p["nri"]),
        }
        cells |= {t: Cell.label("✓" if t in p["losses"] else "") for t in terms}
        rows.append(Row(cells, block="paper", reference=True))
    notes[:0] = [
        (
            f"{result.get('dataset')}: E over Nh ~ G as in Table 1 (✓ Cond.); NRI threshold "
            f"{float(result['nri_threshold']):.2f} dB."
        ),
        _ci_note(opts) + " Bold: best per column.",
    ]
    return mark_best(TableSpec("table3", "Table 3: loss ablation, PSNR↑ / FID↓ / NRI↓", columns, rows, notes))


# --------------------------------------------------------------------------------------------- Fig. 12 tables
def sweep_specs(result: Mapping[str, Any], opts: Mapping[str, Any]) -> list[TableSpec]:
    """Two tables (PSNR↑, FID↓) with one column per hint count, and one per `run --metrics` column; automatic
    models marked "(constant)"."""
    levels = list(result["sweep"])
    out = []
    fixed = [(m, ARROWS[HIGHER_IS_BETTER[m]][1], header + ARROWS[HIGHER_IS_BETTER[m]][0])
             for m, header in (("psnr", "PSNR"), ("fid", "FID"))]
    extra = [(m["column"], ARROWS[m["higher_is_better"]][1], m["header"] + ARROWS[m["higher_is_better"]][0])
             for m in result.get("metric_columns") or []]
    for metric, better, title in (*fixed, *extra):
        notes: list[str] = []
        columns = [Column("model", "Model", align="l", numeric=False)]
        columns += [Column(f"n{n}", f"n = {n}", better, show_n=metric == "fid") for n in levels]
        rows = []
        for v in result["variants"].values():
            label = v["name"] + (" (constant, no hints)" if v["constant"] else "")
            cells = {"model": Cell.label(label)}
            for n, c in zip(levels, v[metric] if metric in ("psnr", "fid") else v.get("metrics", {}).get(metric, [])):
                cells[f"n{n}"] = fid_cell(c, notes) if metric == "fid" else ci_cell(c)
            rows.append(Row(cells))
        notes.insert(
            0,
            ("FID of the outputs at exactly n hints." if metric == "fid" else _ci_note(opts))
            + " Bold: best per column.",
        )
        out.append(
            mark_best(
                TableSpec(f"hint_sweep_{metric}", f"Fig. 12 values: {title} at n hints", columns, rows, notes)
            )
        )
    return out


# --------------------------------------------------------------------------------------------- E.2
def perturbed_spec(result: Mapping[str, Any], opts: Mapping[str, Any]) -> TableSpec | None:
    """Mean |Ŷ − C| inside the hint mask for natural and ±64-perturbed hint colours and their ratio, and the
    same in CIEDE2000 ΔE when the run recorded it (hint_de)."""
    if not result.get("variants"):
        return None
    columns = [
        Column("model", "Model", align="l", numeric=False),
        Column("levels", "n", align="c", numeric=False),
        directed("native", "hint err, natural", of="hint_err"),
        directed("perturbed", "hint err, perturbed", of="hint_err"),
        directed("ratio", "ratio", of="hint_err_ratio", decimals=3),
    ]
    with_de = any("native_de" in v for v in result["variants"].values())
    if with_de:
        columns += [directed("native_de", "ΔE00, natural", of="hint_de"),
                    directed("perturbed_de", "ΔE00, perturbed", of="hint_de"),
                    directed("ratio_de", "ΔE00 ratio", of="hint_err_ratio", decimals=3)]
    rows = []
    for v in result["variants"].values():
        lv = v["levels"]
        rows.append(
            Row(
                {
                    "model": Cell.label(v["name"]),
                    "levels": Cell.label(f"{lv[0]}–{lv[-1]}" if len(lv) > 1 else str(lv[0])),
                    "native": ci_cell(v["native"]),
                    "perturbed": ci_cell(v["perturbed"]),
                    "ratio": ci_cell(v["ratio"]),
                    **({k: ci_cell(v.get(k)) for k in ("native_de", "perturbed_de", "ratio_de")} if with_de else {}),
                }
            )
        )
    notes = [
        (
            f"Hint colours shifted by uniform ±{float(result.get('amount', 64)):g} per RGB channel (seeded). "
            "hint err: mean |output − hint colour| over hinted pixels, 8-bit units, "
            "averaged over the n listed. "
            "ratio = perturbed / natural (1 = unusual colours followed as faithfully as natural ones)."
            + (" ΔE00: mean CIEDE2000 difference between hint colour and output over the hinted pixels "
               "(≈ 1 just noticeable); – where the records lack it." if with_de else "")
        ),
        _ci_note(opts) + " Bold: best per column.",
    ]
    notes += [f"{v}: skipped — {why}" for v, why in sorted(result.get("skipped", {}).items())]
    return mark_best(
        TableSpec("perturbed_hints", "Supplement E.2: following perturbed hint colours", columns, rows, notes)
    )


# --------------------------------------------------------------------------------------------- --compare
def compare_table_spec(result: Mapping[str, Any], opts: Mapping[str, Any]) -> TableSpec | None:
    """The --compare table of a Table 1 result (None without comparisons)."""
    return compare_spec(result.get("compare", []), opts)


def compare_spec(entries: list[Mapping[str, Any]], opts: Mapping[str, Any]) -> TableSpec | None:
    """Paired bootstrap results: Δ = A − B per image, CI and two-sided p-value."""
    if not entries:
        return None
    columns = [
        Column("pair", "A − B", align="l", numeric=False),
        Column("metric", "metric", align="l", numeric=False),
        Column("diff", "mean Δ [CI]"),
        Column("p", "p (two-sided)", decimals=3),
        Column("better", "better", align="l", numeric=False),
    ]
    rows = []
    for e in entries:
        sign = e["diff"] > 0 if e["higher_is_better"] else e["diff"] < 0
        verdict = (
            ((e["a_name"] if sign else e["b_name"]) if e["higher_is_better"] is not None else "differ (no direction)")
            if e["p_value"] < 1 - float(e["level"])
            else "no difference"
        )
        rows.append(
            Row(
                {
                    "pair": Cell.label(f"{e['a_name']} − {e['b_name']}"),
                    "metric": Cell.label(_metric_name(e["metric"])),
                    "diff": Cell(e["diff"], e["low"], e["high"], e["n"]),
                    "p": Cell(e["p_value"]),
                    "better": Cell.label(verdict),
                }
            )
        )
    notes = [
        (
            f"Paired bootstrap over the same {entries[0]['n']} images ({int(opts.get('n_boot', REPORT_OPTIONS['n_boot']))} "
            f"resamples, seed {int(opts.get('seed', REPORT_OPTIONS['seed']))}); "
            "p = 2·min(P*(Δ ≤ 0), P*(Δ ≥ 0)), never below 1/(R+1)."
        )
    ]
    return TableSpec("compare", "Paired comparisons", columns, rows, notes)
