"""Editing your own model never reuses its old records: the cache key holds the code identity of every model,
dataset and metric a run uses (colorbench.evaluation.code_identity), through the CLI's entry points and the Python route,
each run in a fresh process as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

PLUGIN = '''
import torch
from colorbench.api import HintKind, Hints
from colorbench.model import ColorizerModel


class Mine(ColorizerModel):
    name, hint_kind, needs_checkpoint = "mine", HintKind.NONE, False

    def colorize(self, sketch: torch.Tensor, hints: Hints) -> torch.Tensor:
        return torch.full((sketch.shape[0], 3, *sketch.shape[-2:]), VALUE) + 0 * sketch
'''

SCRIPT = '''
import sys
from colorbench.registry import register_model
from colorbench.evaluation.runner import RunConfig, run_evaluation
from mineplugin import Mine

register_model("mine", Mine)
run_evaluation(RunConfig(models=["mine"], dataset="toon", out=sys.argv[1], size=32, limit=2, fid=False),
               progress=False)
'''


def _site(tmp_path: Path, value: float) -> Path:
    """A folder with the plugin module and a distribution declaring its entry point (no RECORD: not installed
    by pip, as a `pip install -e` or a checkout on PYTHONPATH)."""
    site = tmp_path / "site"
    (site / "mineplugin_dist-0.1.dist-info").mkdir(parents=True, exist_ok=True)
    (site / "mineplugin_dist-0.1.dist-info" / "METADATA").write_text("Name: mineplugin-dist\nVersion: 0.1\n")
    (site / "mineplugin_dist-0.1.dist-info" / "entry_points.txt").write_text(
        "[colorbench.models]\nmine = mineplugin:Mine\n")
    (site / "mineplugin.py").write_text(PLUGIN.replace("VALUE", repr(value)))
    return site


def _env(site: Path) -> dict[str, str]:
    return os.environ | {"PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                         "OMP_NUM_THREADS": "1"}


def _psnr(out: Path) -> float:
    return float(pd.read_csv(out / "records.csv")["psnr"].mean())


def _cli_run(site: Path, out: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "colorbench", "run", "--models", "mine", "--dataset", "toon", "--size", "32",
           "--limit", "2", "--no-fid", "--quiet", "--out", str(out)]
    return subprocess.run(cmd, env=_env(site), capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_editing_an_entry_point_plugin_recomputes_its_records(tmp_path: Path) -> None:
    site = _site(tmp_path, 0.0)
    out = tmp_path / "r"
    first = _cli_run(site, out)
    assert first.returncode == 0, first.stderr
    before = _psnr(out)
    (site / "mineplugin.py").write_text(PLUGIN.replace("VALUE", "0.5"))  # the user edits colorize
    second = _cli_run(site, out)
    assert second.returncode == 0, second.stderr
    assert "reused from the cache" not in second.stderr
    assert _psnr(out) != pytest.approx(before)
    fresh = tmp_path / "fresh"
    assert _cli_run(site, fresh).returncode == 0
    assert _psnr(out) == _psnr(fresh)  # the number a fresh folder gives
    code = json.loads((out / "run.json").read_text())["cache"]["code"]["models"]["mine"]
    assert code["kind"] == "source" and code["module"] == "mineplugin"
    unchanged = _cli_run(site, out)  # the same code again: now its records are reused
    assert "2 of 2 images reused from the cache" in unchanged.stderr


@pytest.mark.slow
def test_editing_a_model_registered_by_a_script_recomputes_through_run_evaluation(tmp_path: Path) -> None:
    site = _site(tmp_path, 0.0)
    (site / "mineplugin_dist-0.1.dist-info" / "entry_points.txt").unlink()  # registered by the script alone
    script = tmp_path / "evaluate.py"
    script.write_text(SCRIPT)
    out = tmp_path / "r"

    def run() -> float:
        done = subprocess.run([sys.executable, str(script), str(out)], env=_env(site), capture_output=True,
                              text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        return _psnr(out)

    before = run()
    (site / "mineplugin.py").write_text(PLUGIN.replace("VALUE", "0.5"))
    after = run()
    assert after != pytest.approx(before)
    entries = json.loads((out / "run.json").read_text())["cache"]["entries"]["mine"]
    assert entries["reused_images"] == 0


def test_a_model_without_a_source_file_is_never_reused_and_run_json_says_why(tmp_path: Path) -> None:
    code = PLUGIN.replace("VALUE", "0.25") + SCRIPT.replace("from mineplugin import Mine\n", "")
    out = tmp_path / "r"
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", code, str(out)], env=_env(tmp_path), capture_output=True,
                              text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        assert "cached records are not reused" in done.stderr
    cache = json.loads((out / "run.json").read_text())["cache"]
    assert cache["entries"]["mine"]["reused_images"] == 0
    assert "no source file" in cache["reuse_refused"]["mine"][0]
    assert not list((out / "cache").glob("mine-*"))  # no entry left that a later run could take for its own


PROBE = '''
from colorbench.data.base import ColorDataset


class ProbeSet(ColorDataset):
    name = "probe-set"


def probe_metric(pred, gt):
    return (pred.float() - gt.float()).abs().mean(dim=(1, 2, 3)) * SCALE
'''


def _probe_identities(module_name: str) -> list:
    import importlib

    from colorbench.evaluation.code_identity import identity_key, run_identities
    from colorbench.metrics.registry import Metric

    module = importlib.import_module(module_name)
    metric = Metric("probe", module.probe_metric, ("probe",), (False,))
    from colorbench.baselines.floor import FlatFill  # colorbench's own: in the source fingerprint, not here

    return identity_key(run_identities({"m": FlatFill}, module.ProbeSet, [metric]), "m")


def test_a_plugin_dataset_and_metric_are_in_the_key_by_their_source(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "cbprobe_source.py").write_text(PROBE.replace("SCALE", "1"))
    monkeypatch.syspath_prepend(str(tmp_path))
    before = _probe_identities("cbprobe_source")
    assert [role for role, _ in before] == ["dataset", "metric probe"]  # the model is colorbench's
    assert all(ident["kind"] == "source" for _, ident in before)
    (tmp_path / "cbprobe_source.py").write_text(PROBE.replace("SCALE", "2"))  # the metric is edited
    assert _probe_identities("cbprobe_source") != before


def test_an_installed_distribution_is_known_by_name_version_and_record(tmp_path: Path, monkeypatch) -> None:
    from colorbench.evaluation import code_identity

    (tmp_path / "cbprobe_dist.py").write_text(PROBE.replace("SCALE", "1"))
    info = tmp_path / "cbprobe_dist-2.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Name: cbprobe-dist\nVersion: 2.1\n")
    (info / "RECORD").write_text("cbprobe_dist.py,sha256=abc,10\ncbprobe_dist-2.1.dist-info/METADATA,,\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code_identity._installed.cache_clear()
    try:
        (_, ident), _ = _probe_identities("cbprobe_dist")  # the dataset's, then the metric's
        assert ident["kind"] == "distribution" and ident["distribution"] == "cbprobe-dist"
        assert ident["version"] == "2.1"
        (info / "RECORD").write_text("cbprobe_dist.py,sha256=def,10\ncbprobe_dist-2.1.dist-info/METADATA,,\n")
        code_identity._installed.cache_clear()  # a reinstall, seen by the next process
        assert _probe_identities("cbprobe_dist")[0][1]["sha256"] != ident["sha256"]
    finally:
        code_identity._installed.cache_clear()
