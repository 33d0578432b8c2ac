"""Several runs into one --out: a later run adds its variants (a re-run replaces its own rows),
other settings are refused naming what differs, and concurrent runs end where sequential ones do."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from colorbench.checkpoints import save_checkpoint
from colorbench.cli import main
from colorbench.evaluation.records import read_records

from .fakes import TinyPoint, TinyRegion, make_checkpoint, register_fakes
from .plugin_fixture import colorbench_cmd, plugin_env

COMMON = ["--dataset", "blobs", "--size", "32", "--limit", "3", "--modes", "native", "--sweep", "2", "--no-fid",
          "--quiet", "--samples", "1"]


def _specs(tmp_path: Path) -> dict[str, str]:
    return {"tinypoint": f"tinypoint={make_checkpoint(TinyPoint, tmp_path / 'p.safetensors')}",
            "tinyregion": f"tinyregion={make_checkpoint(TinyRegion, tmp_path / 'r.safetensors', seed=1)}"}


def _args(spec: str, out: Path, *more: str) -> list[str]:
    return ["run", "--models", "", "--checkpoint", spec, "--out", str(out), *COMMON, *more]


def _run(args: list[str]) -> object:
    return CliRunner().invoke(main, args, catch_exceptions=False)


def _state(out: Path) -> tuple[pd.DataFrame, dict, dict]:
    return (read_records(out / "records.csv"), json.loads((out / "run.json").read_text()),
            json.loads((out / "results.json").read_text()))


def test_a_second_run_adds_its_variant_and_a_rerun_replaces_only_its_own_rows(tmp_path: Path) -> None:
    register_fakes()
    specs = _specs(tmp_path)
    out = tmp_path / "D"
    assert _run(_args(specs["tinypoint"], out)).exit_code == 0
    point_rows = read_records(out / "records.csv")
    assert _run(_args(specs["tinyregion"], out)).exit_code == 0
    records, run, results = _state(out)
    assert set(records["variant"]) == {"tinypoint", "tinyregion"}
    pd.testing.assert_frame_equal(records[records["variant"] == "tinypoint"].reset_index(drop=True), point_rows)
    assert set(run["variants"]) == {"tinypoint", "tinyregion"}
    for label, info in run["variants"].items():
        assert info["run"]["config"]["checkpoints"] == [specs[label]], label  # each variant's own provenance
    assert [r["variants"] for r in run["runs"]] == [["tinypoint"], ["tinyregion"]]
    assert set(results["provenance"]["variants"]) == {"tinypoint", "tinyregion"}
    assert {"tinypoint", "tinyregion"} <= _variants_in(results["results"])

    # tinypoint again with another checkpoint: its rows and provenance are replaced, tinyregion's stay.
    other = f"tinypoint={_brighter_point(tmp_path / 'p2.safetensors')}"
    region_rows = records[records["variant"] == "tinyregion"].reset_index(drop=True)
    assert _run(_args(other, out)).exit_code == 0
    records, run, _ = _state(out)
    assert len(records) == 2 * len(point_rows)
    pd.testing.assert_frame_equal(records[records["variant"] == "tinyregion"].reset_index(drop=True), region_rows)
    assert not records[records["variant"] == "tinypoint"]["psnr"].reset_index(drop=True).equals(point_rows["psnr"])
    assert run["variants"]["tinypoint"]["checkpoint"] == str(tmp_path / "p2.safetensors")
    assert [r["variants"] for r in run["runs"]] == [["tinyregion"], ["tinypoint"]]


def _brighter_point(path: Path) -> Path:
    """A TinyPoint checkpoint whose output differs from make_checkpoint's (its N(0, 0.02) nets all give ~grey)."""
    model = TinyPoint()
    state = model.state_dict()
    last_bias = [k for k in state if k.endswith("bias")][-1]
    state[last_bias] = torch.full_like(state[last_bias], 0.5)
    save_checkpoint(path, state, {"model": "tinypoint", "config": model.config, "dataset": "blobs"})
    return path


def _variants_in(obj: object) -> set[str]:
    """Every value of a "variant" key anywhere in results.json's results."""
    if isinstance(obj, dict):
        found = {obj["variant"]} if isinstance(obj.get("variant"), str) else set()
        return found.union(*(_variants_in(v) for v in obj.values()))
    if isinstance(obj, list):
        return set().union(*(_variants_in(v) for v in obj))
    return set()


@pytest.mark.parametrize("change", [["--limit", "2"], ["--modes", "native,ablation"], ["--sweep", "4"]])
def test_a_run_of_other_settings_is_refused_naming_what_differs(tmp_path: Path, change: list[str]) -> None:
    register_fakes()
    specs = _specs(tmp_path)
    out = tmp_path / "D"
    assert _run(_args(specs["tinypoint"], out)).exit_code == 0
    before = {p: p.read_bytes() for p in (out / "records.csv", out / "run.json", out / "results.json")}
    refused = CliRunner().invoke(main, _args(specs["tinyregion"], out, *change))
    assert refused.exit_code == 2, refused.output
    message = refused.output.strip().splitlines()[-1]
    assert "another --out" in message and "tinypoint" in message
    assert {"--limit": "n_images", "--modes": "modes", "--sweep": "sweep"}[change[0]] in message
    assert {p: p.read_bytes() for p in before} == before  # nothing of the folder was replaced
    # Re-running every variant the folder holds replaces it: nothing of the old settings is kept.
    assert _run(_args(specs["tinypoint"], out, *change)).exit_code == 0


@pytest.mark.slow
def test_two_concurrent_runs_of_different_variants_keep_both(tmp_path: Path) -> None:
    register_fakes()
    specs = _specs(tmp_path)
    shared, sequential = tmp_path / "shared", tmp_path / "sequential"
    procs = [subprocess.Popen(colorbench_cmd(*_args(specs[m], shared)), cwd=tmp_path, env=plugin_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for m in ("tinypoint", "tinyregion")]
    errors = [p.communicate(timeout=240)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    for m in ("tinypoint", "tinyregion"):
        assert _run(_args(specs[m], sequential)).exit_code == 0
    got, run, results = _state(shared)
    want, want_run, _ = _state(sequential)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert set(run["variants"]) == set(want_run["variants"]) == {"tinypoint", "tinyregion"}
    assert {"tinypoint", "tinyregion"} <= _variants_in(results["results"])
