"""LPIPS only with the user's weights: without them the column is n/a with the reason (run.json, Table 1) and no
network is run; with two state dicts of the right shapes (fabricated here) the loading path scores images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from colorbench.cli import main
from colorbench.evaluation.records import read_json, read_records
from colorbench.metrics import lpips_metric
from colorbench.metrics.lpips_metric import (
    BACKBONE_ENV,
    CHANNELS,
    LINEAR_ENV,
    LINEAR_FILENAME,
    lpips,
    weights_status,
)

from .fakes import TinyPoint, make_checkpoint, register_fakes


@pytest.fixture()
def no_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(BACKBONE_ENV, raising=False)
    monkeypatch.delenv(LINEAR_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # an empty hub cache
    return tmp_path


def _fabricated(tmp_path: Path, lin_channels: tuple[int, ...] = CHANNELS) -> tuple[Path, Path]:
    """torchvision AlexNet features with a seeded random init, and positive LPIPS linear weights."""
    from torchvision.models import alexnet

    torch.manual_seed(0)
    backbone = {f"features.{k}": v for k, v in alexnet(weights=None).features.state_dict().items()}
    linear = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(lin_channels)}
    paths = tmp_path / "alexnet.pth", tmp_path / "lin.pth"
    torch.save(backbone, paths[0])
    torch.save(linear, paths[1])
    return paths


def test_without_weights_lpips_is_na_with_the_reason_in_run_json_and_table1(no_weights: Path, monkeypatch) -> None:
    paths, reason = weights_status()
    assert paths is None and LINEAR_FILENAME in reason and "alexnet-owt" in reason and BACKBONE_ENV in reason
    with pytest.raises(RuntimeError, match="no LPIPS weights"):
        lpips(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16))
    monkeypatch.setattr(lpips_metric, "Lpips", None)  # never built: calling it would raise TypeError

    register_fakes()
    ckpt = make_checkpoint(TinyPoint, no_weights / "p.safetensors")
    out = no_weights / "run"
    res = CliRunner().invoke(main, ["run", "--models", "tinypoint", "--checkpoint", f"tinypoint={ckpt}", "--dataset",
                                    "blobs", "--size", "16", "--limit", "2", "--out", str(out), "--modes", "native",
                                    "--samples", "0", "--metrics", "psnr,ssim,lpips", "--quiet"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "lpips" not in read_records(out / "records.csv") and "ssim" in read_records(out / "records.csv")
    plan = read_json(out / "run.json")["config"]["plan"]["metrics"]
    assert next(m for m in plan if m["name"] == "lpips")["unavailable"] == reason
    rows = read_json(out / "results.json")["results"]["table1"]["rows"]
    assert all(r["metrics"]["lpips"]["value"] is None and r["metrics"]["lpips"]["reason"] == reason for r in rows)
    table = (out / "tables" / "table1.md").read_text()
    assert "n/a" in table and "LPIPS n/a: no LPIPS weights" in table


def test_the_users_weights_are_loaded_and_score_images(no_weights: Path, monkeypatch) -> None:
    backbone, linear = _fabricated(no_weights)
    monkeypatch.setenv(BACKBONE_ENV, str(backbone))
    monkeypatch.setenv(LINEAR_ENV, str(linear))
    assert weights_status() == ((backbone, linear), None)
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(3, 3, 64, 64, generator=g) * 2 - 1, torch.rand(3, 3, 64, 64, generator=g) * 2 - 1
    same, other = lpips(x, x), lpips(x, y)
    assert same.shape == (3,) and same.dtype == torch.float64 and torch.all(same.abs() < 1e-6)
    assert torch.all(torch.isfinite(other)) and torch.all(other > 0)
    torch.save({f"lin{k}.model.1.weight": torch.rand(1, 8, 1, 1) for k in range(5)}, linear)  # wrong shapes
    lpips_metric._NET.clear()
    with pytest.raises(ValueError, match="lin0 has shape"):
        lpips(x, y)
    lpips_metric._NET.clear()
