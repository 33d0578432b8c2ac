"""`TrainConfig`: every flag that shapes a training run, as stored in its checkpoints' metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from colorbench.defaults import TrainDefaults


@dataclass
class TrainConfig:
    """Every flag that shapes a training run; stored in the checkpoint metadata."""

    model: str
    dataset: str
    epochs: int = TrainDefaults.epochs
    size: int = 64
    batch_size: int = TrainDefaults.batch_size
    lr: float | None = None  # None → the model's paper default
    betas: tuple[float, float] | None = None  # None → the model's paper default
    beta1: float | None = None  # replaces β1 only (`--beta1`): β2 stays the model's (AlacGAN 0.9, CIC 0.99)
    seed: int = TrainDefaults.seed
    device: str = TrainDefaults.device
    amp: bool = True  # only ever active on CUDA
    # CPU only: the train step under bf16 autocast (`train --bf16`). 0.40× the official step's time on an
    # AVX512-BF16 CPU, but ~6× slower where bf16 is emulated (AVX2): benchmarks/README.md, train_step.
    bf16: bool = False
    limit: int | None = None  # cap on training images
    val_limit: int = TrainDefaults.val_limit
    num_workers: int = 0
    data_root: str | None = None
    model_config: dict[str, Any] = field(default_factory=dict)
    # Torch intra-op threads (None: torch's default, the usable cores). On a CPU the trained weights depend
    # on it: oneDNN splits a convolution's weight-gradient sum over the threads, so another count rounds
    # differently and, over many steps, trains another model. The count used is recorded either way.
    threads: int | None = None

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["betas"] = list(self.betas) if self.betas else None
        return d

    def adam_betas(self, model_default: tuple[float, float]) -> tuple[float, float]:
        """The Adam betas of this run: `betas`, else the model's default, with `beta1` replacing β1."""
        b1, b2 = tuple(self.betas) if self.betas is not None else tuple(model_default)
        return (float(self.beta1) if self.beta1 is not None else b1, b2)
