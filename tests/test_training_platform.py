"""CPU training depends on torch's thread count: `--threads` pins it for a run, the checkpoint records it,
and a resume on another count says that it will not match an uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import torch

from colorbench.checkpoints import read_metadata
from colorbench.training.loop import TrainConfig, train_model

from .fakes import register_fakes


def _train(out: Path, threads: int | None, epochs: int = 1, resume: bool = False, log: list[str] | None = None) -> None:
    cfg = TrainConfig(model="guidingpainter", dataset="blobs", epochs=epochs, size=32, batch_size=2, limit=4,
                      val_limit=2, device="cpu", seed=3, model_config={"width": 0.0625, "nc": 6}, threads=threads)
    train_model(cfg, out, resume=resume, progress=False, log=(log.append if log is not None else lambda _: None))


def test_threads_are_pinned_for_the_run_recorded_and_given_back(tmp_path: Path) -> None:
    register_fakes()
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _train(tmp_path / "one", threads=1)
        assert torch.get_num_threads() == 2  # the caller's count is restored
        meta = read_metadata(tmp_path / "one" / "last.safetensors")
        assert meta["train"]["threads"] == 1 and meta["platform"]["threads"] == 1
        assert meta["platform"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
        _train(tmp_path / "default", threads=None)  # no --threads: torch's count, recorded as used
        assert read_metadata(tmp_path / "default" / "last.safetensors")["platform"]["threads"] == 2
    finally:
        torch.set_num_threads(before)


def test_resuming_on_another_thread_count_warns(tmp_path: Path) -> None:
    register_fakes()
    before = torch.get_num_threads()
    try:
        _train(tmp_path / "run", threads=1, epochs=1)
        same: list[str] = []
        _train(tmp_path / "run", threads=1, epochs=2, resume=True, log=same)
        assert not any("warning" in line for line in same)
        other: list[str] = []
        _train(tmp_path / "run", threads=2, epochs=3, resume=True, log=other)
        assert any("warning: threads 1 → 2" in line for line in other), other
    finally:
        torch.set_num_threads(before)
