"""Base class of every colorizer: config handling, the model interface and the training hooks.

A model is built from a plain JSON-able config (`from_config`), so a checkpoint's metadata is enough
to rebuild it. Training is driven by `colorbench.training.loop` which calls the hooks below; each model
owns its losses and optimizer steps because GANs need two optimizers and their own step order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from colorbench.api import HintKind, Hints, ModelInfo
from colorbench.errors import UsageError


@dataclass
class TrainContext:
    """What a training step may use besides the batch.

    generator: seeded torch.Generator on the training device; the only source of randomness.
    progress:  epoch / epochs in [0,1) at the start of the epoch (drives τ and schedules).
    amp:       run the step's forwards under torch.autocast on `device` (CUDA: fp16 with `scaler`; CPU: bf16,
               `train --bf16`, no scaler).
    """

    epoch: int
    epochs: int
    step: int
    generator: torch.Generator
    device: torch.device
    amp: bool = False
    scaler: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def progress(self) -> float:
        return self.epoch / max(1, self.epochs)


def optimizer_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, ctx: TrainContext) -> None:
    """zero_grad → backward → step, through the trainer's GradScaler when AMP is on.

    The scaler is *not* updated here: GradScaler wants one update per iteration after every optimiser
    has stepped, so each train_step ends with `end_iteration(ctx)`.
    """
    optimizer.zero_grad(set_to_none=True)
    if ctx.scaler is not None:
        ctx.scaler.scale(loss).backward()
        ctx.scaler.step(optimizer)
    else:
        loss.backward()
        optimizer.step()


def end_iteration(ctx: TrainContext) -> None:
    """Update the AMP loss scale once per training iteration (no-op without AMP)."""
    if ctx.scaler is not None:
        ctx.scaler.update()


def config_flag(key: str) -> str:
    """The `train` flag of a config key, for messages: hint_p → --hint-p."""
    return "--" + key.replace("_", "-")


def check_numbers(model: str, config: dict[str, Any]) -> None:
    """Every numeric config value finite and `width` > 0: a NaN weight trains silently into a model that
    `run` refuses later. Raises ValueError (a UsageError through `from_config`) naming the key and its flag."""
    for key, value in config.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not math.isfinite(value) or (key == "width" and value <= 0):
            need = "> 0" if key == "width" else "a finite number"
            raise ValueError(f"{model}: config {key} ({config_flag(key)}) {value!r} must be {need}")


class ColorizerModel(nn.Module):
    """Subclass this, set the class attributes, implement `colorize` (and the training hooks)."""

    name: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    hint_kind: ClassVar[HintKind] = HintKind.NONE
    labels: ClassVar[tuple[str, ...]] = ()
    aliases: ClassVar[tuple[str, ...]] = ()
    # State-dict prefixes needed only for training (discriminators): shipped checkpoints may omit them.
    training_only: ClassVar[tuple[str, ...]] = ()
    # False for non-learned colorizers: evaluated from their default config, no checkpoint.
    needs_checkpoint: ClassVar[bool] = True

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__()
        cfg = dict(self.default_config())
        unknown = set(config or {}) - set(cfg)
        if unknown:
            raise UsageError(f"{self.name}: unknown config keys {sorted(unknown)}; known: {sorted(cfg)}")
        cfg.update(config or {})
        check_numbers(self.name, cfg)
        self.config: dict[str, Any] = cfg

    def __getattr__(self, name: str) -> Any:
        # Under torchrun, while the trainer runs a train_step, `self.gen` is gen's DistributedDataParallel
        # wrapper (colorbench.training.ddp.ParallelNets): models call their nets as always and their gradients are
        # averaged over ranks, while the module tree, and so every state-dict name, stays the model's own.
        nets = self.__dict__.get("_parallel_nets")
        if nets is not None and name in nets:
            return nets[name]
        return super().__getattr__(name)

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def default_config(cls) -> dict[str, Any]:
        """Every architecture/training knob with its CPU-sized default (JSON-able values only)."""
        return {"width": 0.25}

    @classmethod
    def config_choices(cls) -> dict[str, tuple[str, ...]]:
        """The allowed values of the string config keys that have a fixed set (`train` offers them as choices)."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any] | None = None) -> ColorizerModel:
        """The model of `config`. Constructors raise ValueError only to reject a config value (`train ours
        --stage typo`, a checkpoint's config): that is the user's to fix, so it becomes a UsageError."""
        try:
            return cls(config)
        except UsageError:
            raise
        except ValueError as exc:
            raise UsageError(str(exc)) from exc

    @classmethod
    def info(cls) -> ModelInfo:
        return ModelInfo(cls.name, cls.display_name or cls.name, cls.hint_kind, list(cls.labels))

    def inference_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights `colorize`/`propose_regions` need (no discriminator)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith(self.training_only)}

    # -- inference --------------------------------------------------------------------------
    def colorize(self, sketch: torch.Tensor, hints: Hints) -> torch.Tensor:
        """sketch [B,1,H,W] in [-1,1] + hints → Ŷ [B,3,H,W] in [-1,1]."""
        raise NotImplementedError

    def propose_regions(self, sketch: torch.Tensor) -> torch.Tensor | None:
        """Ordered one-hot regions S [B,Nc,H,W] in {0,1}; None for models without regions."""
        return None

    def learned_order(self, sketch: torch.Tensor) -> torch.Tensor | None:
        """Optional, region models whose `propose_regions` reorders their network's channels (e.g. by area):
        the network's own channel order as indices [B,Nc] int64 into `propose_regions`' regions (the hint_policy
        protocol hints them in that order too). None: the priority is the network's order, or there is none."""
        return None

    # -- training hooks ---------------------------------------------------------------------
    def configure_optimizers(self, lr: float, betas: tuple[float, float]) -> dict[str, torch.optim.Optimizer]:
        """Named optimizers; the trainer attaches the lr schedule to each and saves their state."""
        raise NotImplementedError(f"{self.name} is not trainable")

    def train_step(
        self, batch: dict[str, torch.Tensor], optimizers: dict[str, torch.optim.Optimizer], ctx: TrainContext
    ) -> dict[str, float]:
        """One optimisation step on batch {"sketch" [B,1,H,W], "color" [B,3,H,W]}; returns losses."""
        raise NotImplementedError(f"{self.name} is not trainable")

    def training_defaults(self) -> dict[str, Any]:
        """Trainer defaults this model's paper uses (lr, betas); CLI flags override."""
        return {"lr": 2e-4, "betas": (0.5, 0.999)}
