"""The resume cache is keyed on the source code, not the package version: edited model or hint code never
reuses old records, unchanged code does, and run.json says which cache entries were reused."""

from __future__ import annotations

from pathlib import Path

import pytest

from colorbench import versions
from colorbench.evaluation.engine import EvalPlan
from colorbench.evaluation.records import read_json
from colorbench.evaluation.runner import RunConfig, run_evaluation

from .fakes import TinyPoint, make_checkpoint, register_fakes


@pytest.fixture
def edited_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A package fingerprinted with the real ones; editing its file stands in for editing a model's code."""
    package = tmp_path / "site" / "cbsource_probe"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("HINT_RADIUS = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(versions, "SOURCE_PACKAGES", (*versions.SOURCE_PACKAGES, "cbsource_probe"))
    versions.source_fingerprint.cache_clear()
    yield package / "__init__.py"
    versions.source_fingerprint.cache_clear()  # later tests fingerprint the real packages only


def _run(out: Path, ckpt: Path) -> dict:
    cfg = RunConfig(models=[], dataset="blobs", out=str(out), size=32, limit=4, fid=False,
                    checkpoints=[f"tinypoint={ckpt}"], plan=EvalPlan(modes=["native"], n_samples=0))
    return read_json(run_evaluation(cfg, progress=False) / "run.json")["cache"]


def test_edited_source_recomputes_and_run_json_records_reuse(edited_package: Path, tmp_path: Path) -> None:
    register_fakes()
    ckpt = make_checkpoint(TinyPoint, tmp_path / "p.safetensors")
    out = tmp_path / "run"
    first = _run(out, ckpt)
    assert first["entries"]["tinypoint"]["reused_images"] == 0
    again = _run(out, ckpt)  # same code: every image comes from the cache
    assert again["entries"]["tinypoint"] == first["entries"]["tinypoint"] | {"reused_images": 4, "computed_images": 0}
    assert again["source_fingerprint"] == first["source_fingerprint"]

    edited_package.write_text("HINT_RADIUS = 2\n")
    versions.source_fingerprint.cache_clear()  # a new process after the edit
    edited = _run(out, ckpt)
    assert edited["source_fingerprint"] != first["source_fingerprint"]
    assert edited["entries"]["tinypoint"]["reused_images"] == 0  # old records are not reused
    assert edited["entries"]["tinypoint"]["dir"] != first["entries"]["tinypoint"]["dir"]


@pytest.mark.parametrize("package", ["colorbench", "colorbench.baselines", "colorbench.guidingpainter",
                                     "colorbench.protocols"])
def test_each_package_with_model_or_hint_code_is_in_the_fingerprint(package: str, monkeypatch) -> None:
    versions.source_fingerprint.cache_clear()
    full = versions.source_fingerprint()
    assert versions.source_fingerprint() is full  # once per process
    monkeypatch.setattr(versions, "SOURCE_PACKAGES", tuple(p for p in versions.SOURCE_PACKAGES if p != package))
    versions.source_fingerprint.cache_clear()
    try:
        assert versions.source_fingerprint() != full
    finally:
        versions.source_fingerprint.cache_clear()


def test_the_fingerprint_does_not_depend_on_the_working_directory(tmp_path: Path) -> None:
    """A run started elsewhere (torchrun in another folder, an installed package) must reuse the same cache:
    the model packages are found through the installed namespace, not the current directory."""
    import subprocess
    import sys

    code = "from colorbench.versions import source_fingerprint; print(source_fingerprint())"
    elsewhere = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                               check=True).stdout.strip()
    versions.source_fingerprint.cache_clear()
    assert elsewhere == versions.source_fingerprint()
