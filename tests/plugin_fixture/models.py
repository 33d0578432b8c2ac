"""Two more test-only models for the trust tests: one whose outputs are NaN (a broken checkpoint) and
one tiny trainable net without BatchNorm or randomness, whose SGD step is an exact function of the batch
(so a 2-process DDP step can be compared with a 1-process step on the union of the shards)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from colorbench.api import HintKind, Hints
from colorbench.model import ColorizerModel, TrainContext


class NaNPoint(ColorizerModel):
    """A point-hint model whose every output is NaN."""

    name = "nanpoint"
    hint_kind = HintKind.POINT

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"width": 0.0625}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.scale = nn.Parameter(torch.ones(1))

    def colorize(self, sketch: torch.Tensor, hints: Hints) -> torch.Tensor:
        """→ [B,3,H,W] of NaN."""
        return (sketch.expand(-1, 3, -1, -1) * self.scale) * float("nan")


class TinySGD(ColorizerModel):
    """Two 3×3 convs on [sketch, hint colour, mask]; trained by plain SGD on L1 with no hints."""

    name = "tinysgd"
    hint_kind = HintKind.POINT

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"width": 0.0625, "channels": 8}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        c = int(self.config["channels"])
        self.net = nn.Sequential(nn.Conv2d(5, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, 3, 3, padding=1))

    def colorize(self, sketch: torch.Tensor, hints: Hints) -> torch.Tensor:
        """sketch [B,1,H,W] in [-1,1] + hints → [B,3,H,W] in (-1,1)."""
        return torch.tanh(self.net(torch.cat([sketch, hints.color, hints.mask], 1)))

    def configure_optimizers(self, lr: float, betas: tuple[float, float]) -> dict[str, torch.optim.Optimizer]:
        return {"G": torch.optim.SGD(self.parameters(), lr=lr)}

    def training_defaults(self) -> dict[str, Any]:
        return {"lr": 0.5, "betas": (0.9, 0.999)}

    def train_step(self, batch: dict[str, torch.Tensor], optimizers: dict[str, torch.optim.Optimizer],
                   ctx: TrainContext) -> dict[str, float]:
        """Mean L1 over the batch without hints: the gradient is the mean of per-image gradients."""
        sketch, color = batch["sketch"].to(ctx.device), batch["color"].to(ctx.device)
        hints = Hints.empty(sketch.shape[0], *sketch.shape[-2:], device=ctx.device)
        loss = F.l1_loss(self.colorize(sketch, hints), color)
        opt = optimizers["G"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}
