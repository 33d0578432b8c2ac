"""What `colorbench train` refuses before its first step, each as one line with exit code 2 naming the flag:
a resume without its state or of another run, an --out holding a run, a dataset without validation images,
a resume state whose two files disagree, and every out-of-range flag or config value."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from colorbench.checkpoints import load_checkpoint, read_metadata, save_checkpoint
from colorbench.cli import main
from colorbench.registry import DATASETS
from colorbench.training import loop as training

from .fakes import Blobs, register_fakes

TINY = ["--dataset", "blobs", "--size", "32", "--width", "0.0625", "--batch-size", "2", "--limit", "4",
        "--val-limit", "2", "--device", "cpu", "--threads", "1", "--quiet"]


def _train(*args: str):
    register_fakes()
    return CliRunner().invoke(main, ["train", "rtug", *TINY, *args], catch_exceptions=False)


def _refused(res, *named: str) -> str:
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert res.exit_code == 2, res.output
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    for word in named:
        assert word in lines[0], res.output
    return lines[0]


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    assert _train("--epochs", "1", "--out", str(out)).exit_code == 0
    return out


def test_resume_without_a_resume_state_is_refused(tmp_path: Path) -> None:
    _refused(_train("--epochs", "1", "--out", str(tmp_path / "none"), "--resume"), "--resume", "last.train.safetensors")
    assert not (tmp_path / "none").exists()


def test_an_out_holding_a_run_needs_resume_or_overwrite(run: Path) -> None:
    before = run.joinpath("best.safetensors").stat().st_mtime_ns
    _refused(_train("--epochs", "1", "--out", str(run)), "--resume", "--overwrite")
    assert run.joinpath("best.safetensors").stat().st_mtime_ns == before
    res = _train("--epochs", "1", "--out", str(run), "--overwrite", "--seed", "1")
    assert res.exit_code == 0, res.output
    assert read_metadata(run / "best.safetensors")["train"]["seed"] == 1  # the new run's best, not the old one's


@pytest.mark.parametrize("flags, named", [
    (["--lr", "1e-3"], "--lr"),
    (["--batch-size", "1"], "--batch-size"),
    (["--width", "0.125"], "--width"),
    (["--size", "48"], "--size"),
    (["--limit", "6"], "--limit"),
    (["--hint-p", "0.5"], "--hint-p"),
], ids=["lr", "batch", "width", "size", "limit", "config"])
def test_resuming_another_run_is_refused(run: Path, flags: list[str], named: str) -> None:
    before = run.joinpath("last.safetensors").stat().st_mtime_ns
    _refused(_train("--epochs", "2", "--out", str(run), "--resume", *flags), "--resume", named)
    assert run.joinpath("last.safetensors").stat().st_mtime_ns == before


def test_the_same_run_resumes_with_more_epochs(run: Path) -> None:
    res = _train("--epochs", "2", "--out", str(run), "--resume")
    assert res.exit_code == 0, res.output
    assert read_metadata(run / "last.safetensors")["epoch"] == 2


def test_a_dataset_without_validation_images_is_refused(tmp_path: Path) -> None:
    class NoVal(Blobs):
        name = "noval"

        def all_ids(self):
            return [] if self.split == "val" else super().all_ids()

    if "noval" not in DATASETS.names():
        DATASETS.register("noval", NoVal)
    res = CliRunner().invoke(main, ["train", "rtug", *TINY, "--dataset", "noval", "--epochs", "1",
                                    "--out", str(tmp_path / "noval")], catch_exceptions=False)
    _refused(res, "noval", "validation")
    assert not (tmp_path / "noval" / "best.safetensors").exists()


@pytest.mark.parametrize("flags, named", [
    (["--epochs", "0"], "--epochs"),
    (["--batch-size", "0"], "--batch-size"),
    (["--lr", "nan"], "--lr"),
    (["--lr", "-1"], "--lr"),
    (["--max-points", "-5"], "--max-points"),
    (["--limit", "-2"], "--limit"),
    (["--hint-p", "nan"], "--hint-p"),
    (["--val-limit", "0"], "--val-limit"),
    (["--width", "0"], "--width"),
    (["--lambda-reg", "inf"], "--lambda-reg"),
], ids=["epochs", "batch", "lr-nan", "lr-neg", "max-points", "limit", "hint-p", "val-limit", "width", "lambda-inf"])
def test_every_flag_and_config_value_is_checked_before_the_first_step(tmp_path: Path, flags: list[str],
                                                                      named: str) -> None:
    _refused(_train("--out", str(tmp_path / "bad"), *flags), named)
    assert not (tmp_path / "bad").exists()


class _Killed(BaseException):
    """Stands for kill -9 between two writes of one epoch."""


def _api(out: Path, epochs: int = 3, resume: bool = False) -> None:
    cfg = training.TrainConfig(model="guidingpainter", dataset="blobs", epochs=epochs, size=32, batch_size=2, limit=4,
                               val_limit=2, device="cpu", seed=3, model_config={"width": 0.0625, "nc": 6})
    training.train_model(cfg, out, resume=resume, progress=False, log=lambda _: None)


def test_a_kill_between_the_weights_and_the_resume_state_resumes_consistently(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Epoch 2's last.safetensors is written, its last.train.safetensors is not: the resume continues from
    epoch 1's state (which holds its own weights) and ends on the uninterrupted run's weights."""
    register_fakes()
    _api(tmp_path / "straight")
    real_save = training.save_checkpoint

    def die_before_train_state(path: Path, state: dict, meta: dict) -> str:
        if Path(path).name == "last.train.safetensors" and meta["epoch"] == 2:
            raise _Killed()
        return real_save(path, state, meta)

    monkeypatch.setattr(training, "save_checkpoint", die_before_train_state)
    with pytest.raises(_Killed):
        _api(tmp_path / "killed")
    monkeypatch.undo()
    assert read_metadata(tmp_path / "killed" / "last.safetensors")["epoch"] == 2
    assert read_metadata(tmp_path / "killed" / "last.train.safetensors")["epoch"] == 1
    _api(tmp_path / "killed", resume=True)
    a, b = load_file(tmp_path / "straight" / "last.safetensors"), load_file(tmp_path / "killed" / "last.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_an_old_resume_state_of_another_epoch_than_last_is_refused(tmp_path: Path) -> None:
    """A resume state written without weights (as before they moved into it) pairs with last.safetensors only
    when both are of one epoch."""
    register_fakes()
    out = tmp_path / "old"
    _api(out, epochs=2)
    tensors, meta = load_checkpoint(out / "last.train.safetensors")
    old = {k: v for k, v in tensors.items() if not k.startswith(training.WEIGHTS)}
    save_checkpoint(out / "last.train.safetensors", old, {k: v for k, v in meta.items() if k != "weights"} | {"epoch": 1})
    with pytest.raises(training.UsageError, match="epoch 2 but .* epoch 1"):
        _api(out, epochs=3, resume=True)
