"""`colorbench zoo build`: training models in parallel processes gives the same checkpoints as one at a time,
`--out` leaves the shipped zoo alone, and the non-learned floor (part of `--models all`) is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from colorbench.checkpoints import load_checkpoint, read_metadata
from colorbench.cli import main
from colorbench.evaluation.variants import ZOO_DIR

TINY = ["--dataset", "toon", "--epochs", "1", "--limit", "32", "--size", "32", "--width", "0.125",
        "--batch-size", "16"]


def _zoo_files() -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in ZOO_DIR.iterdir() if p.is_file()}


@pytest.mark.slow
def test_parallel_build_equals_sequential_and_writes_only_to_out(tmp_path: Path) -> None:
    shipped = _zoo_files()
    runner = CliRunner()
    for jobs in (1, 2):
        result = runner.invoke(main, ["zoo", "build", "--models", "rtug,pix2pix,floor", *TINY, "--jobs", str(jobs),
                                      "--work-dir", str(tmp_path / f"work{jobs}"), "--out", str(tmp_path / f"zoo{jobs}")])
        assert result.exit_code == 0, result.output
    for name in ("rtug-toon.safetensors", "pix2pix-toon.safetensors"):
        one, _ = load_checkpoint(tmp_path / "zoo1" / name)
        two, _ = load_checkpoint(tmp_path / "zoo2" / name)
        assert one.keys() == two.keys()
        assert all(torch.equal(one[k], two[k]) for k in one), name
        assert read_metadata(tmp_path / "zoo2" / name)["platform"]["threads"] == 1
    assert "floor: not a learned model" in result.output
    assert sorted(p.name for p in (tmp_path / "zoo2").iterdir()) == [
        "README.json", "pix2pix-toon.safetensors", "rtug-toon.safetensors"]
    assert _zoo_files() == shipped  # the package's zoo was not touched


def test_nothing_to_build_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["zoo", "build", "--models", "floor", "--out", str(tmp_path / "zoo")])
    assert result.exit_code == 2 and "nothing to build" in result.output
    assert not (tmp_path / "zoo" / "README.json").exists()


def test_another_seed_trains_its_own_run_beside_seed_0(tmp_path: Path) -> None:
    """`--seed 1` (the seeds of a pooled gate baseline) must not resume seed 0's finished run."""
    runner = CliRunner()
    for seed in (0, 1):
        result = runner.invoke(main, ["zoo", "build", "--models", "rtug", *TINY, "--seed", str(seed),
                                      "--work-dir", str(tmp_path / "work"), "--out", str(tmp_path / f"zoo{seed}")])
        assert result.exit_code == 0, result.output
    metas = [read_metadata(tmp_path / f"zoo{seed}" / "rtug-toon.safetensors") for seed in (0, 1)]
    assert [m["zoo"]["budget"]["seed"] for m in metas] == [0, 1]
    assert [m["train"]["seed"] for m in metas] == [0, 1]
    zero, _ = load_checkpoint(tmp_path / "zoo0" / "rtug-toon.safetensors")
    one, _ = load_checkpoint(tmp_path / "zoo1" / "rtug-toon.safetensors")
    assert any(not torch.equal(zero[k], one[k]) for k in zero)
    assert "--seed 1" in (tmp_path / "zoo1" / "README.json").read_text()


def test_another_dataset_keeps_its_own_build_record(tmp_path: Path) -> None:
    """A toon-gray build writes README-toon-gray.json and leaves the toon zoo's README.json as it was."""
    out = tmp_path / "zoo"
    out.mkdir()
    (out / "README.json").write_text('{"budget": {"dataset": "toon"}}\n')
    tiny_gray = [a if a != "toon" else "toon-gray" for a in TINY]
    result = CliRunner().invoke(main, ["zoo", "build", "--models", "rtug", *tiny_gray, "--work-dir",
                                       str(tmp_path / "work"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "README.json").read_text() == '{"budget": {"dataset": "toon"}}\n'
    assert '"dataset": "toon-gray"' in (out / "README-toon-gray.json").read_text()
    assert (out / "rtug-toon-gray.safetensors").is_file()
