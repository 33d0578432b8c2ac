"""A GPU user's path, where CUDA exists: `train --device cuda` with AMP, then `run --device cuda`, whose records
match a CPU run of the same checkpoints. Skipped on machines without CUDA."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from colorbench.checkpoints import read_metadata
from colorbench.cli import main
from colorbench.evaluation.records import read_records

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

TRAIN = ["--dataset", "toon", "--epochs", "1", "--size", "32", "--width", "0.125", "--batch-size", "8",
         "--limit", "32", "--quiet"]
RUN = ["--dataset", "toon", "--size", "32", "--limit", "4", "--no-fid", "--modes", "native,perturbed"]


def _cli(*args: str) -> None:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output


def test_train_and_run_on_cuda_with_amp(tmp_path: Path) -> None:
    ckpts = []
    for model in ("ours", "rtug"):
        out = tmp_path / model
        _cli("train", model, *TRAIN, "--device", "cuda", "--out", str(out))
        scaler = read_metadata(out / "last.train.safetensors")["grad_scaler"]
        assert scaler is not None and scaler["scale"] > 0  # AMP's GradScaler ran the steps
        ckpts += ["--checkpoint", f"{model}={out / 'best.safetensors'}"]
    records = {}
    for device in ("cuda", "cpu"):
        _cli("run", "--models", "ours,rtug", *RUN, *ckpts, "--device", device, "--out", str(tmp_path / device))
        records[device] = read_records(tmp_path / device / "records.csv")
    gpu, cpu = records["cuda"], records["cpu"]
    assert len(gpu) == len(cpu) and (gpu["hint_area"] == cpu["hint_area"]).all()  # hints never depend on it
    # Evaluation is float32 on both (TF32 convolutions on Ampere round differently): outputs differ by a few
    # 8-bit levels at most, so PSNR by little.
    diff = (gpu["psnr"] - cpu["psnr"]).abs()
    assert diff.mean() < 0.05 and diff.max() < 0.5


def test_run_with_amp_on_cuda_stays_close_to_float32(tmp_path: Path) -> None:
    out = tmp_path / "ours"
    _cli("train", "ours", *TRAIN, "--device", "cuda", "--out", str(out))
    ckpt = ["--checkpoint", f"ours={out / 'best.safetensors'}"]
    _cli("run", "--models", "ours", *RUN, *ckpt, "--device", "cuda", "--amp", "--out", str(tmp_path / "amp"))
    _cli("run", "--models", "ours", *RUN, *ckpt, "--device", "cuda", "--out", str(tmp_path / "fp32"))
    amp, fp32 = read_records(tmp_path / "amp" / "records.csv"), read_records(tmp_path / "fp32" / "records.csv")
    assert len(amp) == len(fp32)
    assert (amp["psnr"] - fp32["psnr"]).abs().mean() < 0.1  # fp16 rounding, not another model
