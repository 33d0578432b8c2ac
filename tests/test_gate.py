"""`colorbench check`: the shipped checkpoints pass their committed baselines; a damaged one fails."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from colorbench.checkpoints import load_checkpoint, save_checkpoint
from colorbench.cli import main
from colorbench.gate import Verdict, compare, default_baseline
from colorbench.variants import zoo_checkpoint

SHIPPED = ["guidingpainter", "rtug", "alacgan", "pix2pix", "cic"]


def _check(*args: str):
    return CliRunner().invoke(main, ["check", "--no-fid", *args], catch_exceptions=False)


@pytest.mark.slow
@pytest.mark.parametrize("model", SHIPPED)
def test_shipped_checkpoint_passes_its_committed_baseline(model):
    assert zoo_checkpoint(model, "toon").is_file(), "the embedded default ships this checkpoint"
    assert default_baseline(model, "toon").is_file(), "and its committed baseline"
    res = _check("--model", model, "--dataset", "toon")
    assert res.exit_code == 0, res.output


@pytest.mark.slow
def test_damaged_checkpoint_fails_the_gate(tmp_path: Path):
    tensors, meta = load_checkpoint(zoo_checkpoint("guidingpainter", "toon"))
    gen = torch.Generator().manual_seed(0)
    damaged = {k: (v.float() + 0.5 * v.float().std() * torch.randn(v.shape, generator=gen)).to(v.dtype)
               if v.is_floating_point() and v.dim() == 4 else v for k, v in tensors.items()}
    path = tmp_path / "damaged.safetensors"
    save_checkpoint(path, damaged, meta)
    res = _check("--model", "ours", "--dataset", "toon", "--checkpoint", str(path))
    assert res.exit_code == 1, res.output
    assert "REGRESSED" in res.output


def test_missing_baseline_is_a_setup_error(tmp_path: Path):
    res = _check("--model", "rtug", "--dataset", "toon", "--baseline", str(tmp_path / "nope.json"))
    assert res.exit_code == 2 and "--update-baseline" in res.output


def test_verdicts_are_direction_aware():
    base = {"metrics": {"psnr_expected": 20.0, "nri": 10.0, "fid_expected": 30.0}, "tolerances": {}}
    ok = compare({"psnr_expected": 19.8, "nri": 10.4}, base)  # FID absent here (no weights): not judged
    assert [v.metric for v in ok] == ["psnr_expected", "nri"] and not any(v.regressed for v in ok)
    bad = compare({"psnr_expected": 19.7, "nri": 9.0}, base)
    assert [v.regressed for v in bad] == [True, False]  # a lower NRI is an improvement, not a regression
    assert compare({"psnr_expected": 30.0, "nri": 10.6}, base)[1].regressed
    assert Verdict("psnr_auto", 20.0, float("nan"), 0.25, True).regressed  # NaN never passes
    assert not compare({"psnr_expected": 19.5, "nri": 10}, base, {"psnr_expected": 0.6})[0].regressed
