"""A plugin's train_step that bypasses the DDP wrappers (a net kept in a list, a part of a net run on its own) is
refused on every rank under torchrun: un-averaged gradients would let the ranks drift apart silently."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from .plugin_fixture import torchrun_ok

pytestmark = pytest.mark.ddp


GUARD_SCRIPT = '''
"""Two plugin models whose train_step would bypass the DDP wrappers; each rank records what training raised."""
import os, sys
import torch
from torch import nn
import torch.nn.functional as F
import colorbench.training.loop as training
from colorbench.api import Hints
from colorbench.registry import MODELS
sys.path.insert(0, sys.argv[2])
from tests.fakes import register_fakes
from tests.plugin_fixture.models import TinySGD

class Stashed(TinySGD):
    """Calls its net through a list made at construction: the raw module, not the wrapper."""
    def __init__(self, config=None):
        super().__init__(config)
        self._nets = [self.net]

    def train_step(self, batch, optimizers, ctx):
        sketch, color = batch["sketch"], batch["color"]
        hints = Hints.empty(sketch.shape[0], *sketch.shape[-2:])
        loss = F.l1_loss(torch.tanh(self._nets[0](torch.cat([sketch, hints.color, hints.mask], 1))), color)
        optimizers["G"].zero_grad()
        loss.backward()
        optimizers["G"].step()
        return {"loss": float(loss)}

class ReachesIn(TinySGD):
    """Runs a part of its net (self.net.body) instead of the net."""
    def __init__(self, config=None):
        super().__init__(config)
        self.net = nn.Module()
        self.net.body = nn.Conv2d(5, 3, 3, padding=1)

    def train_step(self, batch, optimizers, ctx):
        sketch, color = batch["sketch"], batch["color"]
        hints = Hints.empty(sketch.shape[0], *sketch.shape[-2:])
        loss = F.l1_loss(self.net.body(torch.cat([sketch, hints.color, hints.mask], 1)), color)
        loss.backward()
        return {"loss": float(loss)}

register_fakes()
MODELS.register("stashed", Stashed)
MODELS.register("reachesin", ReachesIn)
rank = os.environ["RANK"]
for name in ("stashed", "reachesin"):
    cfg = training.TrainConfig(model=name, dataset="blobs", epochs=1, size=32, batch_size=2, limit=4, val_limit=2,
                               device="cpu")
    try:
        training.train_model(cfg, os.path.join(sys.argv[1], name), progress=False, log=lambda _: None)
        message = "trained"
    except training.UsageError as exc:
        message = str(exc)
    with open(os.path.join(sys.argv[1], f"{name}-rank{rank}.txt"), "w") as fh:
        fh.write(message)
'''


def test_a_train_step_that_bypasses_the_ddp_wrappers_is_refused(tmp_path: Path) -> None:
    """Un-averaged gradients would let the ranks drift apart silently: a net called outside its wrapper (kept in a
    list) or a part of a net run on its own is a UsageError naming it, on every rank."""
    script = tmp_path / "guard.py"
    script.write_text(textwrap.dedent(GUARD_SCRIPT))
    torchrun_ok(tmp_path, str(script), str(tmp_path), str(Path(__file__).resolve().parent.parent))
    for rank in (0, 1):
        assert "called `net` without going through self.net" in (tmp_path / f"stashed-rank{rank}.txt").read_text()
        assert "Module.body: under torchrun" in (tmp_path / f"reachesin-rank{rank}.txt").read_text()
