"""The gate never passes what it did not compare: a reference with NaN numbers, nothing tracked, another set of
images or a wrong-shaped field is a usage error (exit 2) naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from colorbench.cli import main
from colorbench.data import open_dataset
from colorbench.evaluation.records import read_json
from colorbench.gate.check import default_reference


def _check(*args: str):
    return CliRunner().invoke(main, ["check", "--no-fid", "--model", "rtug", "--dataset", "toon", *args],
                              catch_exceptions=False)


def _reference(tmp_path: Path, **changes: object) -> Path:
    """The shipped rtug reference measured on 2 images, with `changes` applied (dotted keys go one level down)."""
    two = open_dataset("toon", "test", size=64, limit=2).fingerprint()
    data = read_json(default_reference("rtug", "toon")) | {"n_images": 2, "dataset_fingerprint": two}
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
def test_a_reference_that_cannot_be_compared_is_refused_naming_file_and_field(tmp_path: Path, changes, field):
    path = _reference(tmp_path, **changes)
    res = _check("--reference", str(path))
    assert res.exit_code == 2, res.output
    assert str(path) in res.output.replace("\n", "") and f"'{field}'" in res.output


@pytest.mark.parametrize("content", ["[1, 2]", '"reference"', "{not json", ""])
def test_a_reference_file_of_the_wrong_shape_or_not_json_is_named(tmp_path: Path, content: str):
    path = tmp_path / "b.json"
    path.write_text(content, encoding="utf-8")
    res = _check("--reference", str(path))
    assert res.exit_code == 2 and str(path) in res.output, res.output


@pytest.mark.parametrize("value", ["nan", "inf", "-0.5", "wide"])
def test_a_tolerance_flag_that_cannot_compare_is_refused(tmp_path: Path, value: str):
    res = _check("--reference", str(_reference(tmp_path)), "--tolerance", f"psnr_expected={value}")
    assert res.exit_code == 2 and "--tolerance" in res.output, res.output
    res = _check("--reference", str(_reference(tmp_path)), "--tolerance", "psnr_typo=0.5")
    assert res.exit_code == 2 and "unknown metric 'psnr_typo'" in res.output, res.output


def test_another_limit_or_size_than_the_reference_is_refused_before_evaluating(tmp_path: Path, monkeypatch):
    import colorbench.evaluation.runner

    def never(*_a, **_k):
        raise AssertionError("the evaluation ran although its numbers cannot be compared")

    monkeypatch.setattr(colorbench.evaluation.runner, "run_evaluation", never)
    path = _reference(tmp_path)
    res = _check("--reference", str(path), "--limit", "3")
    assert res.exit_code == 2 and "images 2 in the reference, 3 here (--limit)" in res.output, res.output
    res = _check("--reference", str(path), "--size", "32")
    assert res.exit_code == 2 and "size 64 in the reference, 32 here" in res.output, res.output


def test_a_reference_of_other_data_is_refused_after_evaluating(tmp_path: Path):
    res = _check("--reference", str(_reference(tmp_path, dataset_fingerprint="0" * 64)))
    assert res.exit_code == 2 and "dataset fingerprint 000000000000 in the reference" in res.output, res.output


def test_a_reference_tracking_only_what_was_not_measured_is_refused(tmp_path: Path):
    path = _reference(tmp_path, metrics={"fid_auto": 40.0})  # FID: not measured with --no-fid
    res = _check("--reference", str(path))
    assert res.exit_code == 2 and "nothing to compare" in res.output, res.output


@pytest.mark.parametrize("args, differs", [
    (["--model", "ours"], ["model 'rtug' in the reference, 'guidingpainter' here (--model)"]),
    (["--dataset", "snail"], ["dataset 'toon' in the reference, 'snail' here (--dataset)"]),
], ids=["model", "dataset"])
def test_a_reference_of_another_model_or_dataset_is_refused_naming_both(tmp_path: Path, monkeypatch, args,
                                                                       differs) -> None:
    import colorbench.evaluation.runner

    monkeypatch.setattr(colorbench.evaluation.runner, "run_evaluation", lambda *a, **k: pytest.fail("evaluated"))
    base = default_reference("rtug", "toon")
    opts = {"--model": "rtug", "--dataset": "toon"} | dict(zip(args[::2], args[1::2]))
    res = CliRunner().invoke(main, ["check", "--no-fid", *(x for kv in opts.items() for x in kv), "--reference",
                                    str(base)], catch_exceptions=False)
    assert res.exit_code == 2 and all(d in res.output for d in differs), res.output
    assert str(base) in res.output.replace("\n", "")


def test_a_reference_of_another_protocol_is_refused(tmp_path: Path, monkeypatch) -> None:
    import colorbench.evaluation.runner

    monkeypatch.setattr(colorbench.evaluation.runner, "run_evaluation", lambda *a, **k: pytest.fail("evaluated"))
    res = _check("--reference", str(_reference(tmp_path, protocol={"nc": 30, "p": 0.25, "seed": 0,
                                                                  "gumbel_noise": False})))
    assert res.exit_code == 2 and "protocol p 0.25 in the reference, 0.125 here" in res.output, res.output


def test_a_new_reference_records_its_protocol_and_gates_its_own_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    made = _check("--limit", "2", "--update-reference", "--reference", str(path))
    assert made.exit_code == 0, made.output
    assert read_json(path)["protocol"] == {"nc": 30, "p": 0.125, "seed": 0, "gumbel_noise": False}
    assert _check("--reference", str(path)).exit_code == 0


def test_the_old_flag_names_and_file_format_still_work_for_one_release(tmp_path: Path) -> None:
    # --baseline / --update-baseline were renamed --reference / --update-reference ("baselines" are the
    # comparison models); scripts and CI configs that use the old names keep gating.
    path = tmp_path / "b.json"
    made = _check("--limit", "2", "--update-baseline", "--baseline", str(path))
    assert made.exit_code == 0, made.output
    assert read_json(path)["format"] == "colorbench-reference/1" and "use --update-reference" in made.output
    path.write_text(json.dumps(read_json(path) | {"format": "colorbench-baseline/1"}))  # written by older versions
    res = _check("--baseline", str(path), "--json")
    assert res.exit_code == 0 and "--baseline is deprecated: use --reference" in res.output, res.output
    verdicts = json.loads(res.stdout[res.stdout.index("["):])
    assert all(v["baseline"] == v["reference"] for v in verdicts) and verdicts
    assert "--baseline" not in CliRunner().invoke(main, ["check", "--help"]).output
    clash = _check("--baseline", str(path), "--reference", str(tmp_path / "other.json"))
    assert clash.exit_code == 2 and "give one of them" in clash.output


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
                                    "--reference", str(tmp_path / "missing.json")])
    assert res.exit_code == 2 and "UsageError" in res.output, res.output
