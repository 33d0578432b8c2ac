"""`colorbench check`: the shipped checkpoints pass their committed references; a damaged one fails; a reference
made from several checkpoints (seeds) gates against their spread."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from colorbench.checkpoints import file_sha256, load_checkpoint, save_checkpoint
from colorbench.cli import main
from colorbench.evaluation.records import read_json
from colorbench.evaluation.variants import zoo_checkpoint
from colorbench.gate.check import Verdict, compare, default_reference, pooled_reference

SHIPPED = ["guidingpainter", "rtug", "alacgan", "pix2pix", "cic"]


def _check(*args: str):
    return CliRunner().invoke(main, ["check", "--no-fid", *args], catch_exceptions=False)


def _noisy(tmp_path: Path, name: str, scale: float, seed: int = 1) -> Path:
    """The shipped GuidingPainter with Gaussian noise of `scale` × each conv weight's std added."""
    tensors, meta = load_checkpoint(zoo_checkpoint("guidingpainter", "toon"))
    gen = torch.Generator().manual_seed(seed)
    noisy = {k: (v.float() + scale * v.float().std() * torch.randn(v.shape, generator=gen)).to(v.dtype)
             if v.is_floating_point() and v.dim() == 4 else v for k, v in tensors.items()}
    save_checkpoint(tmp_path / name, noisy, meta)
    return tmp_path / name


@pytest.mark.slow
@pytest.mark.parametrize("model", SHIPPED)
def test_shipped_checkpoint_passes_its_committed_reference(model):
    assert zoo_checkpoint(model, "toon").is_file(), "the embedded default ships this checkpoint"
    assert default_reference(model, "toon").is_file(), "and its committed reference"
    res = _check("--model", model, "--dataset", "toon")
    assert res.exit_code == 0, res.output


@pytest.mark.slow
def test_damaged_checkpoint_fails_the_gate(tmp_path: Path):
    path = _noisy(tmp_path, "damaged.safetensors", 0.5, seed=0)
    res = _check("--model", "ours", "--dataset", "toon", "--checkpoint", str(path))
    assert res.exit_code == 1, res.output
    assert "REGRESSED" in res.output


def test_missing_reference_is_a_setup_error(tmp_path: Path):
    res = _check("--model", "rtug", "--dataset", "toon", "--reference", str(tmp_path / "nope.json"))
    assert res.exit_code == 2 and "--update-reference" in res.output


def test_verdicts_are_direction_aware():
    base = {"metrics": {"psnr_expected": 20.0, "nri": 10.0, "fid_expected": 30.0}, "tolerances": {}}
    ok = compare({"psnr_expected": 19.8, "nri": 10.4}, base)  # FID absent here (no weights): not judged
    assert [v.metric for v in ok] == ["psnr_expected", "nri"] and not any(v.regressed for v in ok)
    bad = compare({"psnr_expected": 19.7, "nri": 9.0}, base)
    assert [v.regressed for v in bad] == [True, False]  # a lower NRI is an improvement, not a regression
    assert compare({"psnr_expected": 30.0, "nri": 10.6}, base)[1].regressed
    assert Verdict("psnr_auto", 20.0, float("nan"), 0.25, True).regressed  # NaN never passes
    assert not compare({"psnr_expected": 19.5, "nri": 10}, base, {"psnr_expected": 0.6})[0].regressed


def test_pooled_reference_takes_the_mean_and_the_worst_checkpoint_as_tolerance():
    seeds = [{"psnr_expected": 18.0, "nri": 20.0, "fid_auto": 40.0}, {"psnr_expected": 19.0, "nri": 24.0}]
    metrics, tolerances = pooled_reference(seeds)
    assert metrics == {"psnr_expected": 18.5, "nri": 22.0}  # FID not measured for every seed: not tracked
    assert tolerances == pytest.approx({"psnr_expected": 0.5 + 0.25, "nri": 2.0 + 0.5})  # NRI: the worst is the highest
    base = {"metrics": metrics, "tolerances": tolerances}
    assert not any(v.regressed for seed in seeds for v in compare(seed, base))  # every seed passes its own reference
    assert [v.regressed for v in compare({"psnr_expected": 17.7, "nri": 24.6}, base)] == [True, True]


@pytest.mark.slow
def test_reference_from_several_checkpoints_gates_against_their_spread(tmp_path: Path):
    shipped = zoo_checkpoint("guidingpainter", "toon")
    other = _noisy(tmp_path, "other-seed.safetensors", 0.1)
    base = tmp_path / "pooled.json"
    common = ["--model", "ours", "--dataset", "toon", "--limit", "16", "--reference", str(base)]
    res = _check(*common, "--update-reference", "--checkpoint", str(shipped), "--checkpoint", str(other))
    assert res.exit_code == 0, res.output
    data = read_json(base)
    assert [c["checkpoint_sha256"] for c in data["checkpoints"]] == [file_sha256(shipped), file_sha256(other)]
    each = [c["metrics"]["psnr_expected"] for c in data["checkpoints"]]
    assert data["metrics"]["psnr_expected"] == pytest.approx(sum(each) / 2)
    assert data["tolerances"]["psnr_expected"] == pytest.approx(abs(each[0] - each[1]) / 2 + 0.25)
    for member in (shipped, other):  # both checkpoints the reference was made from pass it
        assert _check(*common, "--checkpoint", str(member)).exit_code == 0
    res = _check(*common, "--checkpoint", str(_noisy(tmp_path, "broken.safetensors", 0.5)))
    assert res.exit_code == 1 and "REGRESSED" in res.output
    res = _check(*common, "--checkpoint", str(shipped), "--checkpoint", str(other))
    assert res.exit_code == 2 and "--update-reference" in res.output  # several checkpoints only make a reference


def test_missing_checkpoint_is_named_in_a_setup_error(tmp_path: Path):
    res = _check("--model", "ours", "--dataset", "toon", "--update-reference", "--reference", str(tmp_path / "b.json"),
                 "--checkpoint", str(zoo_checkpoint("guidingpainter", "toon")), "--checkpoint", str(tmp_path / "x.st"))
    assert res.exit_code == 2 and str(tmp_path / "x.st") in res.output and "@" not in res.output
    res = _check("--model", "ours", "--dataset", "nope", "--update-reference", "--reference", str(tmp_path / "b.json"))
    assert res.exit_code == 2 and "pass --checkpoint" in res.output


def test_update_reference_without_reference_never_writes_into_the_package(tmp_path: Path, monkeypatch):
    from colorbench.gate import check as gate

    package = tmp_path / "installed-references"  # stands in for colorbench/zoo/references/, whatever the code does
    package.mkdir()
    monkeypatch.setattr(gate, "REFERENCE_DIR", package)
    res = _check("--model", "rtug", "--dataset", "toon", "--limit", "2", "--update-reference")
    assert res.exit_code == 2 and "--reference PATH" in res.output
    assert list(package.iterdir()) == []
