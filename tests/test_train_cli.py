"""`colorbench train` flags reach the optimizers as documented: `--beta1` replaces β1 and keeps the model's β2."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from colorbench.checkpoints import read_metadata
from colorbench.cli import main

from .fakes import register_fakes

TINY = ["--dataset", "blobs", "--epochs", "1", "--size", "32", "--width", "0.0625", "--batch-size", "2",
        "--limit", "4", "--device", "cpu", "--threads", "1", "--quiet"]


def test_beta1_keeps_the_models_own_beta2(tmp_path: Path) -> None:
    register_fakes()
    out = tmp_path / "alacgan"
    res = CliRunner().invoke(main, ["train", "alacgan", *TINY, "--out", str(out), "--beta1", "0.3"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert read_metadata(out / "last.safetensors")["train"]["betas"] == [0.3, 0.9]  # AlacGAN's β2 is 0.9
    groups = read_metadata(out / "last.train.safetensors")["param_groups"]
    assert groups and all(g["betas"] == [0.3, 0.9] for opt in groups.values() for g in opt)
