"""The gate never passes what it did not compare: a baseline with NaN numbers, nothing tracked, another set of
images or a wrong-shaped field is a usage error (exit 2) naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from colorbench.cli import main
from colorbench.data import open_dataset
from colorbench.evaluation.records import read_json
from colorbench.gate.check import default_baseline


def _check(*args: str):
    return CliRunner().invoke(main, ["check", "--no-fid", "--model", "rtug", "--dataset", "toon", *args],
                              catch_exceptions=False)


def _baseline(tmp_path: Path, **changes: object) -> Path:
    """The shipped rtug baseline measured on 2 images, with `changes` applied (dotted keys go one level down)."""
    two = open_dataset("toon", "test", size=64, limit=2).fingerprint()
    data = read_json(default_baseline("rtug", "toon")) | {"n_images": 2, "dataset_fingerprint": two}
    for key, value in changes.items():
        top, _, sub = key.partition(".")
        if sub:
            data[top] = dict(data[top]) | {sub: value}
        else:
            data[top] = value
    path = tmp_path / "base[v2].json"  # brackets: the path must come out literally, not as rich markup
    path.write_text(json.dumps(data).replace("Infinity", "1e999"), encoding="utf-8")
    return path


@pytest.mark.parametrize("changes, field", [
    ({"metrics.psnr_expected": float("nan")}, "metrics.psnr_expected"),
    ({"tolerances.nri": float("nan")}, "tolerances.nri"),
    ({"tolerances.nri": -1.0}, "tolerances.nri"),
    ({"metrics": {}}, "metrics"),
    ({"metrics": {"psnr_typo": 18.0, "accuracy": 1.0}}, "metrics"),
    ({"metrics": [1, 2]}, "metrics"),
    ({"metrics.nri": "26"}, "metrics.nri"),
    ({"tolerances": [1, 2]}, "tolerances"),
    ({"n_images": "64"}, "n_images"),
    ({"dataset_fingerprint": None}, "dataset_fingerprint"),
    ({"model": None}, "model"),
    ({"dataset": ""}, "dataset"),
], ids=["nan-metric", "nan-tolerance", "negative-tolerance", "empty", "all-unknown", "metrics-list", "metric-str",
        "tolerances-list", "n_images-str", "no-fingerprint", "no-model", "no-dataset"])
def test_a_baseline_that_cannot_be_compared_is_refused_naming_file_and_field(tmp_path: Path, changes, field):
    path = _baseline(tmp_path, **changes)
    res = _check("--baseline", str(path))
    assert res.exit_code == 2, res.output
    assert str(path) in res.output.replace("\n", "") and f"'{field}'" in res.output


@pytest.mark.parametrize("content", ["[1, 2]", '"baseline"', "{not json", ""])
def test_a_baseline_file_of_the_wrong_shape_or_not_json_is_named(tmp_path: Path, content: str):
    path = tmp_path / "b.json"
    path.write_text(content, encoding="utf-8")
    res = _check("--baseline", str(path))
    assert res.exit_code == 2 and str(path) in res.output, res.output


@pytest.mark.parametrize("value", ["nan", "inf", "-0.5", "wide"])
def test_a_tolerance_flag_that_cannot_compare_is_refused(tmp_path: Path, value: str):
    res = _check("--baseline", str(_baseline(tmp_path)), "--tolerance", f"psnr_expected={value}")
    assert res.exit_code == 2 and "--tolerance" in res.output, res.output
    res = _check("--baseline", str(_baseline(tmp_path)), "--tolerance", "psnr_typo=0.5")
    assert res.exit_code == 2 and "unknown metric 'psnr_typo'" in res.output, res.output


def test_another_limit_or_size_than_the_baseline_is_refused_before_evaluating(tmp_path: Path, monkeypatch):
    import colorbench.evaluation.runner

    def never(*_a, **_k):
        raise AssertionError("the evaluation ran although its numbers cannot be compared")

    monkeypatch.setattr(colorbench.evaluation.runner, "run_evaluation", never)
    path = _baseline(tmp_path)
    res = _check("--baseline", str(path), "--limit", "3")
    assert res.exit_code == 2 and "images 2 in the baseline, 3 here (--limit)" in res.output, res.output
    res = _check("--baseline", str(path), "--size", "32")
    assert res.exit_code == 2 and "size 64 in the baseline, 32 here" in res.output, res.output


def test_a_baseline_of_other_data_is_refused_after_evaluating(tmp_path: Path):
    res = _check("--baseline", str(_baseline(tmp_path, dataset_fingerprint="0" * 64)))
    assert res.exit_code == 2 and "dataset fingerprint 000000000000 in the baseline" in res.output, res.output


def test_a_baseline_tracking_only_what_was_not_measured_is_refused(tmp_path: Path):
    path = _baseline(tmp_path, metrics={"fid_auto": 40.0})  # FID: not measured with --no-fid
    res = _check("--baseline", str(path))
    assert res.exit_code == 2 and "nothing to compare" in res.output, res.output


@pytest.mark.parametrize("args, differs", [
    (["--model", "ours"], ["model 'rtug' in the baseline, 'guidingpainter' here (--model)"]),
    (["--dataset", "snail"], ["dataset 'toon' in the baseline, 'snail' here (--dataset)"]),
], ids=["model", "dataset"])
def test_a_baseline_of_another_model_or_dataset_is_refused_naming_both(tmp_path: Path, monkeypatch, args,
                                                                       differs) -> None:
    import colorbench.evaluation.runner

    monkeypatch.setattr(colorbench.evaluation.runner, "run_evaluation", lambda *a, **k: pytest.fail("evaluated"))
    base = default_baseline("rtug", "toon")
    opts = {"--model": "rtug", "--dataset": "toon"} | dict(zip(args[::2], args[1::2]))
    res = CliRunner().invoke(main, ["check", "--no-fid", *(x for kv in opts.items() for x in kv), "--baseline",
                                    str(base)], catch_exceptions=False)
    assert res.exit_code == 2 and all(d in res.output for d in differs), res.output
    assert str(base) in res.output.replace("\n", "")


def test_a_baseline_of_another_protocol_is_refused(tmp_path: Path, monkeypatch) -> None:
    import colorbench.evaluation.runner

    monkeypatch.setattr(colorbench.evaluation.runner, "run_evaluation", lambda *a, **k: pytest.fail("evaluated"))
    res = _check("--baseline", str(_baseline(tmp_path, protocol={"nc": 30, "p": 0.25, "seed": 0,
                                                                  "gumbel_noise": False})))
    assert res.exit_code == 2 and "protocol p 0.25 in the baseline, 0.125 here" in res.output, res.output


def test_a_new_baseline_records_its_protocol_and_gates_its_own_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    made = _check("--limit", "2", "--update-baseline", "--baseline", str(path))
    assert made.exit_code == 0, made.output
    assert read_json(path)["protocol"] == {"nc": 30, "p": 0.125, "seed": 0, "gumbel_noise": False}
    assert _check("--baseline", str(path)).exit_code == 0


@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "debug"])
def test_a_crash_inside_check_is_never_exit_code_1(tmp_path: Path, monkeypatch, debug) -> None:
    import colorbench.evaluation.runner

    def crash(*_a, **_k):
        raise RuntimeError("a bug inside the evaluation")

    monkeypatch.setattr(colorbench.evaluation.runner, "run_evaluation", crash)
    res = CliRunner().invoke(main, [*debug, "check", "--no-fid", "--model", "rtug", "--dataset", "toon"])
    assert res.exit_code == 3, res.output
    assert "RuntimeError: a bug inside the evaluation" in res.output  # the traceback stays
    assert "not a verdict" in res.output


def test_a_usage_error_under_debug_check_is_exit_code_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["--debug", "check", "--no-fid", "--model", "rtug", "--dataset", "toon",
                                    "--baseline", str(tmp_path / "missing.json")])
    assert res.exit_code == 2 and "UsageError" in res.output, res.output
