"""The metric registry: built-ins from entry points, a third-party metric through its own entry point (listed
by `colorbench metrics`, written to records), `run --metrics` selecting columns and Table 1's E_G of each,
and a run without --metrics keeping today's records columns."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from colorbench.cli import main
from colorbench.evaluation.records import RECORD_COLUMNS, read_json, read_records
from colorbench.hint_counts import BoundedGeometric
from colorbench.metrics.registry import METRICS, resolve_metrics
from colorbench.registry import UnknownNameError

from .fakes import TinyPoint, make_checkpoint, register_fakes
from .plugin_fixture import PLUGIN_DIR


@pytest.fixture()
def plugin_metric(monkeypatch: pytest.MonkeyPatch):
    """The test distribution colorbench-test-metrics on sys.path, as `pip install` would put it."""
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    METRICS.discover(force=True)
    yield
    METRICS.unregister("meanabs")
    sys.modules.pop("tests.plugin_fixture.metrics", None)


def test_builtins_come_from_entry_points_and_describe_their_direction() -> None:
    assert {"psnr", "fid", "ssim", "deltae", "cf"} <= set(METRICS.names())
    assert METRICS.origin("ssim").startswith("entry point")
    assert resolve_metrics(None) == ["psnr", "fid"]
    assert resolve_metrics("PSNR, ssim,ssim,cf") == ["psnr", "ssim", "cf"]
    cf = METRICS.get("cf")
    assert cf.columns == ("cf", "dcf") and cf.higher_is_better == (None, False)
    assert METRICS.get("fid").dataset_level and METRICS.get("fid").needs_weights
    assert METRICS.get("ssim").higher_is_better == (True,) and METRICS.get("deltae").higher_is_better == (False,)


def test_unknown_metric_is_a_usage_error_listing_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'ssim'.*Known metrics: cf, deltae, fid, lpips, psnr, ssim"):
        resolve_metrics("psnr,ssmi")
    res = CliRunner().invoke(main, ["run", "--dataset", "toon", "--out", str(tmp_path), "--metrics", "lpipz"])
    assert res.exit_code == 2 and "unknown metric 'lpipz'" in res.output
    assert not (tmp_path / "records.csv").exists()


def test_third_party_metric_is_listed_and_written_to_records(invoke, plugin_metric, tmp_path: Path) -> None:
    assert "colorbench-test-metrics" in METRICS.origin("meanabs")
    listing = invoke("metrics")
    assert listing.exit_code == 0
    line = next(x for x in listing.output.splitlines() if "meanabs" in x)
    assert "lower" in line and "colorbench-test-metrics" in line

    register_fakes()
    ckpt = make_checkpoint(TinyPoint, tmp_path / "p.safetensors")
    out = tmp_path / "run"
    res = invoke("run", "--models", "tinypoint", "--checkpoint", f"tinypoint={ckpt}", "--dataset", "blobs",
                  "--size", "16", "--limit", "3", "--out", str(out), "--modes", "native", "--samples", "0",
                  "--metrics", "psnr,ssim,deltae,cf,meanabs", "--quiet")
    assert res.exit_code == 0, res.output
    rec = read_records(out / "records.csv")
    assert list(rec.columns) == [*RECORD_COLUMNS, "ssim", "deltae", "cf", "dcf", "meanabs"]
    assert rec[["ssim", "deltae", "cf", "dcf", "meanabs"]].notna().all().all()
    assert ((rec["ssim"] > -1) & (rec["ssim"] <= 1)).all() and (rec["deltae"] >= 0).all()

    # Table 1's ✓ cell of each metric is Σ G(n)·mean_i metric_i(n), as E_G[PSNR].
    run = read_json(out / "run.json")
    assert [m["name"] for m in run["config"]["plan"]["metrics"]] == ["ssim", "deltae", "cf", "meanabs"]
    assert run["fid"]["available"] is False  # FID not in --metrics: not computed
    dist = BoundedGeometric(run["protocol"]["nc"], run["protocol"]["p"])
    results = read_json(out / "results.json")["results"]["table1"]
    cond = next(r for r in results["rows"] if r["block"] == "conditional")
    auto = next(r for r in results["rows"] if r["block"] == "automatic")
    for col in ("ssim", "deltae", "cf", "dcf", "meanabs"):
        by_n = rec[rec["mode"] == "native"].groupby("n")[col].mean().to_numpy()
        assert cond["metrics"][col]["value"] == pytest.approx(float(by_n @ dist.pmf()), rel=1e-12)
        assert cond["metrics"][col]["low"] <= cond["metrics"][col]["value"] <= cond["metrics"][col]["high"]
        assert auto["metrics"][col]["value"] == pytest.approx(float(by_n[0]), rel=1e-12)
    table = (out / "tables" / "table1.md").read_text()
    header = next(x for x in table.splitlines() if x.startswith("| Method"))
    for h in ("SSIM↑", "ΔE00↓", "CF", "|ΔCF|↓", "MAE↓"):
        assert h in header.replace("\\|", "|")
    assert f"{cond['metrics']['ssim']['value']:.3f}" in table


def test_a_run_without_metrics_keeps_todays_columns(invoke, tmp_path: Path) -> None:
    register_fakes()
    ckpt = make_checkpoint(TinyPoint, tmp_path / "p.safetensors")
    out = tmp_path / "run"
    res = invoke("run", "--models", "tinypoint", "--checkpoint", f"tinypoint={ckpt}", "--dataset", "blobs",
                  "--size", "16", "--limit", "2", "--out", str(out), "--modes", "native", "--samples", "0",
                  "--no-fid", "--quiet")
    assert res.exit_code == 0, res.output
    header = (out / "records.csv").read_text().splitlines()[0].split(",")
    assert header == list(RECORD_COLUMNS)
    assert "SSIM" not in (out / "tables" / "table1.md").read_text()
    assert pd.read_csv(out / "records.csv").shape[1] == len(RECORD_COLUMNS)
    assert np.isfinite(read_records(out / "records.csv")["psnr"]).all()


def test_selected_metrics_get_fig12_curves_and_paired_comparisons(tmp_path: Path, invoke) -> None:
    from .fakes import TinyRegion

    register_fakes()
    ckpts = [f"tinypoint={make_checkpoint(TinyPoint, tmp_path / 'p.safetensors')}",
             f"tinyregion={make_checkpoint(TinyRegion, tmp_path / 'r.safetensors')}"]
    out = tmp_path / "run"
    res = invoke("run", "--models", "tinypoint,tinyregion", *[a for c in ckpts for a in ("--checkpoint", c)],
                 "--dataset", "blobs", "--size", "16", "--limit", "3", "--out", str(out), "--modes", "native",
                 "--samples", "0", "--metrics", "psnr,ssim,cf", "--compare", "tinypoint,tinyregion", "--quiet")
    assert res.exit_code == 0, res.output
    rec = read_records(out / "records.csv")
    results = read_json(out / "results.json")["results"]
    sweep = results["hint_sweep"]
    assert [m["column"] for m in sweep["metric_columns"]] == ["ssim", "cf", "dcf"]
    pt = rec[(rec["variant"] == "tinypoint") & (rec["mode"] == "native")]
    for n, cell in zip(sweep["sweep"], sweep["variants"]["tinypoint"]["metrics"]["ssim"]):
        assert cell["hints"] == n and cell["value"] == pytest.approx(pt[pt["n"] == n]["ssim"].mean(), rel=1e-12)
    assert (out / "tables" / "hint_sweep_ssim.md").is_file()
    compared = {e["metric"]: e for e in results["table1"]["compare"]}
    assert {"ssim_auto", "ssim_expected", "dcf_expected", "cf_expected"} <= set(compared)
    assert compared["ssim_expected"]["higher_is_better"] is True and compared["cf_expected"]["higher_is_better"] is None
