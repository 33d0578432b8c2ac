"""`check` tracks any registered per-image metric: a reference naming COLUMN_auto / COLUMN_expected makes check
measure that metric, with the registry's direction; unknown names and metrics without a tolerance are refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from colorbench.cli import main
from colorbench.evaluation.records import read_json
from colorbench.gate.check import Verdict, compare, pooled_reference
from colorbench.gate.keys import gate_key, needed_metrics
from colorbench.metrics.registry import METRICS

from .plugin_fixture import PLUGIN_DIR


def test_one_direction_per_name_for_gate_results_json_and_registry():
    # A number's "better" is stated once (colorbench.metrics.directions): the gate, results.json and the
    # registered PSNR/FID metrics all agree with it.
    from colorbench.metrics.directions import HIGHER_IS_BETTER
    from colorbench.reports.results_json import build_results

    for name in ("psnr_auto", "psnr_expected", "nri", "fid_auto", "fid_expected"):
        assert gate_key(name).higher_is_better is HIGHER_IS_BETTER[name]
    doc = build_results({"options": {"nri_threshold": 1.0, "seed": 0, "n_boot": 1, "ci_level": 0.95},
                         "results": {}, "skipped": {}}, {"dataset": {}})
    assert {k: doc["higher_is_better"][k] for k in HIGHER_IS_BETTER} == HIGHER_IS_BETTER
    assert METRICS.get("psnr").higher_is_better == (HIGHER_IS_BETTER["psnr"],)
    assert METRICS.get("fid").higher_is_better == (HIGHER_IS_BETTER["fid"],)


def _check(*args: str):
    return CliRunner().invoke(main, ["check", "--no-fid", "--model", "rtug", "--dataset", "toon", "--limit", "2", *args],
                              catch_exceptions=False)


def test_registered_columns_take_the_registry_direction_and_tolerance() -> None:
    ssim, de, cf, dcf = (gate_key(k) for k in ("ssim_expected", "deltae_auto", "cf_expected", "dcf_auto"))
    assert (ssim.higher_is_better, ssim.tolerance, ssim.metric, ssim.kind) == (True, 0.005, "ssim", "expected")
    assert (de.higher_is_better, de.tolerance, de.kind) == (False, 0.25, "auto")
    assert cf.higher_is_better is None and (dcf.higher_is_better, dcf.metric, dcf.column) == (False, "cf", "dcf")
    assert gate_key("psnr_expected").metric is None and gate_key("nri").higher_is_better is False
    for bad in ("ssim", "ssim_mean", "typo_expected", "fid_median", "_expected"):
        assert gate_key(bad) is None, bad
    assert needed_metrics(["nri", "dcf_expected", "ssim_auto", "cf_auto"]) == ["cf", "ssim"]


def test_verdicts_follow_each_metrics_direction() -> None:
    base = {"metrics": {"ssim_expected": 0.80, "deltae_expected": 10.0, "cf_auto": 30.0}, "tolerances": {}}
    better = compare({"ssim_expected": 0.9, "deltae_expected": 5.0, "cf_auto": 30.5}, base)
    assert not any(v.regressed for v in better)
    worse = compare({"ssim_expected": 0.79, "deltae_expected": 10.3, "cf_auto": 28.0}, base)
    assert [v.regressed for v in worse] == [True, True, True]  # CF has no direction: 2 either way exceeds 1
    assert compare({"cf_auto": 32.0}, {"metrics": {"cf_auto": 30.0}})[0].regressed
    assert Verdict("deltae_auto", 1.0, None, 0.25, False).regressed  # not measured is not a pass
    metrics, tol = pooled_reference([{"deltae_expected": 9.0}, {"deltae_expected": 11.0}])
    assert metrics == {"deltae_expected": 10.0} and tol == pytest.approx({"deltae_expected": 1.0 + 0.25})


def test_a_reference_naming_registered_metrics_makes_check_measure_and_gate_them(tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    res = _check("--update-reference", "--reference", str(base), "--metrics", "ssim,deltae,cf")
    assert res.exit_code == 0, res.output
    data = read_json(base)
    assert {"ssim_auto", "ssim_expected", "deltae_expected", "cf_auto", "dcf_expected"} <= set(data["metrics"])
    assert data["higher_is_better"]["deltae_expected"] is False and data["higher_is_better"]["cf_auto"] is None
    assert data["tolerances"]["ssim_expected"] == 0.005
    # A reference that tracks only ΔE: check has to compute it without being told (--metrics).
    only = tmp_path / "deltae.json"
    only.write_text(json.dumps(data | {"metrics": {"deltae_expected": data["metrics"]["deltae_expected"]}}))
    res = _check("--reference", str(only))
    assert res.exit_code == 0, res.output
    assert "deltae_expected" in res.output and "missing" not in res.output
    # ΔE is lower-is-better: a reference 1.0 lower than this checkpoint's makes it a regression.
    only.write_text(json.dumps(data | {"metrics": {"deltae_expected": data["metrics"]["deltae_expected"] - 1.0,
                                                   "ssim_auto": data["metrics"]["ssim_auto"] - 1.0}}))
    res = _check("--reference", str(only), "--json")
    assert res.exit_code == 1, res.output
    verdicts = {v["metric"]: v["regressed"] for v in json.loads(res.stdout[res.stdout.index("["):])}
    assert verdicts == {"deltae_expected": True, "ssim_auto": False}


def test_unknown_names_and_metrics_without_tolerance_are_refused_before_evaluating(tmp_path: Path, monkeypatch) -> None:
    import colorbench.evaluation.runner

    def never(*_a, **_k):
        raise AssertionError("the evaluation ran although the reference cannot be compared")

    monkeypatch.setattr(colorbench.evaluation.runner, "run_evaluation", never)
    good = {"format": "colorbench-baseline/1", "model": "rtug", "dataset": "toon", "n_images": 2, "size": 64,
            "dataset_fingerprint": "x", "tolerances": {}}
    path = tmp_path / "b.json"
    path.write_text(json.dumps(good | {"metrics": {"psnr_expected": 18.0, "ssim_expectd": 0.8}}))
    res = _check("--reference", str(path))
    assert res.exit_code == 2 and "'ssim_expectd'" in res.output and "field 'metrics'" in res.output, res.output
    res = _check("--reference", str(path), "--tolerance", "deltae_typo=1")
    assert res.exit_code == 2 and "unknown metric" in res.output
    # A third-party metric that declares no tolerance: the reference must give one.
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    METRICS.discover(force=True)
    try:
        path.write_text(json.dumps(good | {"metrics": {"meanabs_expected": 12.0}}))
        res = _check("--reference", str(path))
        assert res.exit_code == 2 and "meanabs_expected" in res.output and "tolerance" in res.output, res.output
        assert gate_key("meanabs_expected").higher_is_better is False
    finally:
        METRICS.unregister("meanabs")
        sys.modules.pop("tests.plugin_fixture.metrics", None)
