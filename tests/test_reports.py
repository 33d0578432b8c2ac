"""Reports from a run directory: bolding, Markdown / LaTeX / CSV well-formedness, figures, results.json
provenance, byte-identical re-rendering, and that rendering never loads a model or the engine."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.table import Table

from colorbench.evaluation.records import load_npz, read_json
from colorbench.reports.figures import fig5_segment_ablation, fig12_hint_sweep
from colorbench.reports.image_grids import guidance_strip, mosaic, qualitative_grid
from colorbench.reports.render import render_report, summary_table
from colorbench.reports.table_specs import table1_spec
from colorbench.reports.tables import (
    Cell,
    Column,
    Row,
    TableSpec,
    mark_best,
    tex_escape,
    to_csv,
    to_latex,
    to_markdown,
)

from .records_factory import DEFAULT_VARIANTS, LOSS_VARIANTS, ensure_builtin_protocols, make_run_dir

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    ensure_builtin_protocols()
    d = make_run_dir(
        tmp_path_factory.mktemp("run"),
        variants=DEFAULT_VARIANTS + LOSS_VARIANTS[:2],
        modes=("native", "perturbed", "ablation", "equalized"),
        n_images=20,
        n_samples=2,
    )
    out = render_report(d, {"compare": "ours,rtug", "paper_rows": "yumi", "n_boot": 200})
    return d, out


# --------------------------------------------------------------------------------------------- bold
def _spec(
    values: dict[str, list[float | None]], blocks: list[str], reference: list[bool] | None = None
) -> TableSpec:
    cols = [
        Column("label", "", align="l", numeric=False),
        Column("psnr", "PSNR↑", "max"),
        Column("fid", "FID↓", "min"),
        Column("nri", "NRI↓", "min"),
    ]
    rows = []
    for k, block in enumerate(blocks):
        cells = {"label": Cell.label(f"row{k}")}
        cells |= {m: Cell(v[k]) if v[k] is not None else Cell(text="n/a") for m, v in values.items()}
        rows.append(Row(cells, block=block, reference=bool(reference and reference[k])))
    return mark_best(TableSpec("t", "t", cols, rows))


def test_bold_marks_max_psnr_and_min_fid_nri_per_block():
    spec = _spec(
        {
            "psnr": [15.0, 19.0, 17.0, 20.5, 18.0, 99.0],
            "fid": [30.0, 25.0, None, 10.0, 12.0, 1.0],
            "nri": [None, None, None, 4.0, None, 0.5],
        },
        blocks=["auto", "auto", "auto", "cond", "cond", "cond"],
        reference=[False] * 5 + [True],
    )
    bold = {m: [r.cells[m].bold for r in spec.rows] for m in ("psnr", "fid", "nri")}
    assert bold["psnr"] == [
        False,
        True,
        False,
        True,
        False,
        False,
    ]  # the reference row's 99.0 does not compete
    assert bold["fid"] == [False, True, False, True, False, False]  # lowest FID; "n/a" is never best
    assert bold["nri"] == [False] * 6  # one measured NRI in its block: nothing to be best against


def test_bold_ties_at_shown_precision_are_all_bold():
    spec = _spec(
        {"psnr": [20.001, 19.999, 19.0], "fid": [1.0, 2.0, 3.0], "nri": [1.0, 1.0, 1.0]},
        blocks=["a", "a", "a"],
    )
    assert [r.cells["psnr"].bold for r in spec.rows] == [True, True, False]  # both print as 20.00


def test_table1_bold_matches_the_measured_best(rendered):
    d, out = rendered
    res = out["results"]["results"]["table1"]
    spec = table1_spec(res, out["results"]["provenance"]["options"])
    for block in ("automatic", "conditional"):
        rows = [
            (r, s)
            for r, s in zip([x for x in res["rows"]], [s for s in spec.rows if not s.reference])
            if r["block"] == block
        ]
        best_psnr = max(r["psnr"]["value"] for r, _ in rows)
        best_fid = min(r["fid"]["value"] for r, _ in rows)
        for r, s in rows:
            assert s.cells["psnr"].bold == (round(r["psnr"]["value"], 2) == round(best_psnr, 2))
            assert s.cells["fid"].bold == (round(r["fid"]["value"], 2) == round(best_fid, 2))
    md = (d / "tables" / "table1.md").read_text()
    gp = next(r for r in res["rows"] if r["block"] == "conditional" and r["model"] == "guidingpainter")
    assert f"**{gp['psnr']['value']:.2f} [" in md  # the factory's GuidingPainter is best with hints


# --------------------------------------------------------------------------------------------- formats
def test_latex_is_a_well_formed_booktabs_tabular(rendered):
    d, _ = rendered
    for path in sorted((d / "tables").glob("*.tex")):
        tex = path.read_text()
        assert tex.isascii(), f"{path.name}: raw Unicode would break pdflatex"
        body = tex[tex.index("\\begin{tabular}") : tex.index("\\end{tabular}")]
        assert body.count("\\toprule") == 1 and "\\midrule" in body and tex.count("\\bottomrule") == 1
        ncol = len(re.match(r"\\begin\{tabular\}\{([lrc]+)\}", body).group(1))
        rows = [ln for ln in body.splitlines() if ln.endswith("\\\\")]
        assert rows, path.name
        for ln in rows:
            assert len(re.findall(r"(?<!\\)&", ln)) == ncol - 1, f"{path.name}: {ln}"
        depth = 0
        for ch in re.sub(r"\\[{}]", "", tex):
            depth += {"{": 1, "}": -1}.get(ch, 0)
            assert depth >= 0
        assert depth == 0, f"{path.name}: unbalanced braces"
    assert tex_escape("a_b & 50% < 2048 ✓") == r"a\_b \& 50\% $<$ 2048 $\checkmark$"


def test_markdown_tables_have_consistent_columns(rendered):
    d, _ = rendered
    for path in sorted((d / "tables").glob("*.md")):
        lines = [ln for ln in path.read_text().splitlines() if ln.startswith("|")]
        counts = {len(re.findall(r"(?<!\\)\|", ln)) for ln in lines}
        assert len(counts) == 1, f"{path.name}: rows with different column counts"
        assert re.fullmatch(r"\|(:?-{3}:?\|)+", lines[1]), path.name


def test_csv_round_trips_full_precision(rendered):
    d, out = rendered
    rows = list(csv.DictReader(io.StringIO((d / "tables" / "table1.csv").read_text())))
    res = out["results"]["results"]["table1"]
    measured = [r for r in rows if r["reference"] == "0"]
    assert len(measured) == len(res["rows"])
    for r, x in zip(measured, res["rows"]):
        assert float(r["psnr"]) == x["psnr"]["value"]  # repr(): every bit survives
        assert float(r["psnr_ci_low"]) == x["psnr"]["low"] and int(r["fid_n"]) == x["fid"]["n"]


def test_interval_format_is_consistent():
    spec = TableSpec(
        "x",
        "x",
        [Column("v", "v", "max"), Column("f", "FID", "min", show_n=True)],
        [Row({"v": Cell(20.876, 20.571, 21.19, 100), "f": Cell(24.456, n=512)})],
    )
    md = to_markdown(spec)
    assert "20.88 [20.57, 21.19]" in md and "(N=100)" not in md and "24.46 (N=512)" in md
    assert "20.88 [20.57, 21.19]" in to_latex(spec)
    assert "v_ci_low" in to_csv(spec).splitlines()[0]


# --------------------------------------------------------------------------------------------- outputs
def test_render_writes_every_table_and_figure(rendered):
    _, out = rendered
    names = {p.name for p in out["paths"]["tables"]}
    for stem in ("table1", "table3", "compare", "hint_sweep_psnr", "hint_sweep_fid", "perturbed_hints"):
        assert {f"{stem}.md", f"{stem}.tex", f"{stem}.csv"} <= names
    figs = {p.name for p in out["paths"]["figures"]}
    assert {
        "fig12_hint_sweep.png",
        "fig5_segment_ablation.png",
        "fig3_qualitative.png",
        "guidance_guidingpainter.png",
        "guidance_rtug.png",
    } <= figs
    for p in out["paths"]["figures"]:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.width > 400 and im.height > 300
            px = np.asarray(im.convert("L"))
            assert px.std() > 10  # not a blank canvas
    report = out["paths"]["report"].read_text()
    assert "![fig12_hint_sweep](figures/fig12_hint_sweep.png)" in report and "### Table 1" in report


def test_results_json_carries_provenance(rendered):
    d, out = rendered
    doc = json.loads((d / "results.json").read_text())
    run = read_json(d / "run.json")
    prov = doc["provenance"]
    assert prov["config"] == run["config"] and prov["config_fingerprint"] == run["config_fingerprint"]
    assert prov["versions"]["colorbench"] and "torch" in prov["versions"]
    assert prov["dataset"]["fingerprint"] == run["dataset"]["fingerprint"]
    assert prov["dataset"]["nri_threshold_used"] == 19.0
    assert prov["variants"]["rtug"]["checkpoint_sha256"] == run["variants"]["rtug"]["checkpoint_sha256"]
    assert prov["fid"]["weights_sha256"].startswith("6726825d") and "nh_assignment" not in prov["fid"]
    assert sum(prov["fid"]["nh_counts"].values()) == 20
    assert prov["seeds"]["bootstrap"] == 0 and prov["seeds"]["bootstrap_resamples"] == 200
    assert doc["higher_is_better"]["psnr"] is True and doc["higher_is_better"]["fid"] is False
    assert doc["higher_is_better"]["nri"] is False
    t1 = doc["results"]["table1"]["rows"][0]
    assert {"value", "low", "high", "n"} <= set(t1["psnr"])
    assert doc == out["results"]


def test_results_json_writes_the_old_names_beside_the_new_for_one_release():
    # E_G[PSNR] is psnr_expected everywhere; readers of the old key keep working until the alias goes.
    from colorbench.reports.results_json import build_results

    cell = {"value": 20.0, "low": 19.0, "high": 21.0, "n": 8}
    computed = {"options": {"nri_threshold": 19.0, "seed": 0, "n_boot": 10, "ci_level": 0.95}, "skipped": {},
                "results": {"hint_policy": {"variants": {"m": {"control": "random",
                                                               "policies": {"own": {"psnr_expected": cell}}}}},
                            "table1": {"compare": [{"metric": "ssim_expected", "p_value": 0.5, "diff": 0.1},
                                                   {"metric": "nri", "p_value": 0.5, "diff": 0.1}]}}}
    doc = build_results(computed, {"dataset": {"nri_threshold": 19.0}})
    own = doc["results"]["hint_policy"]["variants"]["m"]["policies"]["own"]
    assert own["psnr_eg"] == own["psnr_expected"] == cell
    assert doc["results"]["hint_policy"]["variants"]["m"]["baseline"] == "random"  # the control policy's old name
    assert doc["higher_is_better"]["psnr_eg"] is doc["higher_is_better"]["psnr_expected"] is True
    first, second = doc["results"]["table1"]["compare"]
    assert first["metric"] == "ssim_expected" and first["metric_alias"] == "ssim_eg" and "metric_alias" not in second


def test_rerender_is_byte_identical(rendered):
    d, _ = rendered
    files = sorted((d / "tables").glob("*")) + [d / "results.json", d / "report.md", d / "report.html"]
    before = {p: p.read_bytes() for p in files}
    render_report(d, {"compare": "ours,rtug", "paper_rows": "yumi", "n_boot": 200})
    assert {p: p.read_bytes() for p in files} == before


def test_summary_table_lists_table1_rows(rendered):
    _, out = rendered
    table = summary_table(out["results"])
    assert isinstance(table, Table)
    assert table.row_count == len(out["results"]["results"]["table1"]["rows"]) + 8  # + paper rows (yumi)


@pytest.mark.slow
def test_report_makes_no_forward_pass(rendered):
    """In a fresh interpreter: rendering imports neither models nor the engine (so cannot run them)."""
    d, _ = rendered
    code = (
        f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
        "from tests.records_factory import ensure_builtin_protocols; ensure_builtin_protocols()\n"
        "from colorbench.reports.render import render_report\n"
        f"render_report({str(d)!r}, {{'n_boot': 50}})\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('guidingpainter', 'baselines')\n"
        "             or m in ('colorbench.evaluation.engine', 'colorbench.evaluation.runner', 'colorbench.training.loop',\n"
        "                      'colorbench.model'))\n"
        "print('LOADED', bad)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    assert "LOADED []" in proc.stdout


# --------------------------------------------------------------------------------------------- figures alone
def test_fig12_without_fid_and_fig5_from_protocol_json(tmp_path):
    sweep = {
        "sweep": [2, 4],
        "variants": {
            "ours": {
                "name": "Ours",
                "model": "guidingpainter",
                "constant": False,
                "psnr": [
                    {"value": 18.0, "low": 17.5, "high": 18.5},
                    {"value": 19.0, "low": 18.6, "high": 19.4},
                ],
                "fid": [{"value": None, "reason": "no Inception weights"}] * 2,
            },
            "cic": {
                "name": "CIC",
                "model": "cic",
                "constant": True,
                "psnr": [{"value": 15.0, "low": 14.8, "high": 15.2}] * 2,
                "fid": [{"value": None}] * 2,
            },
        },
    }
    p = fig12_hint_sweep([("yumi", sweep), ("celeba", sweep)], tmp_path / "f12.png")
    with Image.open(p) as im:
        assert im.width > im.height  # two dataset columns side by side
    seg = {
        "variants": {
            "guidingpainter": {
                "i": [1, 2, 3],
                "psnr": [20.0, 19.0, 18.5],
                "ci_low": [19.5, 18.6, 18.0],
                "ci_high": [20.5, 19.4, 19.0],
                "empty_frac": [0.0, 0.1, 0.5],
            }
        }
    }
    assert fig5_segment_ablation(seg, tmp_path / "f5.png", "yumi").stat().st_size > 5000
    with pytest.raises(ValueError, match="at least one"):
        fig12_hint_sweep([], tmp_path / "x.png")


def test_guidance_strip_and_grid_from_samples(rendered, tmp_path):
    d, _ = rendered
    gp = load_npz(d / "samples" / "guidingpainter.npz")
    cic = load_npz(d / "samples" / "cic.npz")
    with Image.open(guidance_strip(gp, tmp_path / "g.png", steps=4)) as im:
        assert im.width > 5 * 128  # n = 0..4 plus the sketch/GT column, tiles ≥ 128 px
    with pytest.raises(ValueError, match="conditional"):
        guidance_strip(cic, tmp_path / "c.png")
    assert qualitative_grid([("GP", gp), ("CIC", cic)], tmp_path / "q.png", n=3).exists()
    _, cols, rows = mosaic([[np.zeros((4, 4, 3), np.uint8)] * 2] * 6, group=3)
    assert len(cols) == 2 and len(rows) == 6 and rows[3] - rows[2] > rows[1] - rows[0]  # wider gap per group
