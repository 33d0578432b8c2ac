"""A dataset prepared at its own size is evaluated, trained and gated at that size unless --size says
otherwise, and a checkpoint trained at another size gets a warning naming both sizes, kept in results.json."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from colorbench.checkpoints import read_metadata, save_checkpoint
from colorbench.data import native_size
from colorbench.data.prepare import prepare_dataset
from colorbench.data.synthetic import Toon
from colorbench.evaluation.records import read_json

from .fakes import TinyPoint, register_fakes

PREPARED = 48  # not the synthetic sets' 64, so a silent 64 px default cannot pass


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("size")
    src = root / "src"
    src.mkdir()
    toon = Toon("train", 64)
    for i, image_id in enumerate(toon.ids()[:40]):
        Image.fromarray(toon.load(image_id)[1]).save(src / f"{i:03d}.png")
    prepare_dataset("mine", src, root / "data", size=PREPARED, progress=False)
    return root / "data"


def _tiny_checkpoint(path: Path, trained_size: int) -> Path:
    model = TinyPoint()
    save_checkpoint(path, model.state_dict(), {"model": "tinypoint", "config": model.config, "size": trained_size})
    return path


def test_native_size_is_the_manifests_for_prepared_sets_else_64(data_root: Path) -> None:
    assert native_size("mine", data_root) == PREPARED
    assert native_size("toon", data_root) == 64 and native_size("snail") == 64


def test_run_defaults_to_the_prepared_size_and_warns_about_another_training_size(invoke, data_root: Path,
                                                                                 tmp_path: Path) -> None:
    register_fakes()
    ckpt = _tiny_checkpoint(tmp_path / "p.safetensors", trained_size=32)
    out = tmp_path / "run"
    res = invoke("run", "--models", "floor", "--checkpoint", f"tinypoint={ckpt}", "--dataset", "mine",
                  "--data-root", str(data_root), "--out", str(out), "--no-fid", "--modes", "native", "--samples", "0",
                  "--quiet")
    assert res.exit_code == 0, res.output
    assert read_json(out / "run.json")["dataset"]["size"] == PREPARED
    warnings = read_json(out / "results.json")["provenance"]["warnings"]
    assert len(warnings) == 1 and "tinypoint" in warnings[0]
    assert "trained at 32 px" in warnings[0] and f"evaluated at {PREPARED} px" in warnings[0]
    assert "trained at 32 px" in res.stderr


def test_train_and_check_default_to_the_prepared_size(invoke, data_root: Path, tmp_path: Path) -> None:
    res = invoke("train", "guidingpainter", "--dataset", "mine", "--data-root", str(data_root), "--epochs", "1",
                  "--width", "0.0625", "--nc", "6", "--batch-size", "4", "--limit", "4", "--device", "cpu",
                  "--threads", "1", "--out", str(tmp_path / "gp"), "--quiet")
    assert res.exit_code == 0, res.output
    ckpt = tmp_path / "gp" / "best.safetensors"
    assert read_metadata(ckpt)["size"] == PREPARED
    base = tmp_path / "base.json"
    res = invoke("check", "--model", "guidingpainter", "--checkpoint", str(ckpt), "--dataset", "mine",
                  "--data-root", str(data_root), "--update-reference", "--reference", str(base), "--no-fid")
    assert res.exit_code == 0, res.output
    assert read_json(base)["size"] == PREPARED
    assert "warning" not in res.stderr  # trained and gated at the same size
