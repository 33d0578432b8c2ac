"""`colorbench zoo build` gives back the shipped weights: its first epoch of GuidingPainter reproduces the
shipped checkpoint's recorded epoch-1 losses and validation PSNR to the last bit.

A change to the training arithmetic that looks harmless (the same sums in another order) trains another
model from the same seed and breaks this; so do another thread count or instruction set, which is why the
test runs only where the zoo was built (its README.json) and the build pins its thread count.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest
import torch

from colorbench import training
from colorbench.checkpoints import read_metadata
from colorbench.variants import ZOO_DIR, zoo_checkpoint
from colorbench.zoo import ZooBudget, build_zoo


class _StopAfterFirstEpoch(BaseException):
    pass


def test_first_zoo_epoch_of_guidingpainter_matches_the_shipped_history(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    zoo = json.loads((ZOO_DIR / "README.json").read_text())
    shipped = read_metadata(zoo_checkpoint("guidingpainter", "toon"))
    here = (torch.backends.cpu.get_cpu_capability(), importlib.metadata.version("torch"))
    built = (zoo["cpu_capability"], shipped["versions"]["torch"])
    if here != built:
        pytest.skip(f"the zoo was trained with {built} (CPU kernels, torch); this machine has {here}, "
                    "whose kernels may round differently")

    real_save = training.save_checkpoint

    def save_then_stop(path: Path, state: dict, meta: dict) -> str:
        sha = real_save(path, state, meta)
        if Path(path).name == "last.train.safetensors" and meta["epoch"] == 1:
            raise _StopAfterFirstEpoch()
        return sha

    monkeypatch.setattr(training, "save_checkpoint", save_then_stop)
    with pytest.raises(_StopAfterFirstEpoch):  # the full schedule (12 epochs), stopped after the first
        build_zoo(["guidingpainter"], ZooBudget(**zoo["budget"]), tmp_path, log=lambda _: None)
    ours = read_metadata(tmp_path / "guidingpainter-toon" / "last.safetensors")
    assert ours["history"][0] == shipped["history"][0]
