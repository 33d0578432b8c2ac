"""The embedded default's model zoo: train every built-in model on a synthetic set with one equal budget,
export the inference weights (float16, no discriminator) into colorbench/zoo/, record how they were made.

`colorbench zoo build` is the one command that reproduces the shipped checkpoints.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from colorbench.checkpoints import load_checkpoint, save_checkpoint
from colorbench.registry import MODELS
from colorbench.training import TrainConfig, build_model, train_model
from colorbench.variants import ZOO_DIR, zoo_checkpoint

BUILTIN = ("guidingpainter", "rtug", "alacgan", "pix2pix", "cic")


@dataclass
class ZooBudget:
    """The same data, steps and image size for every model: the comparison is fair by construction."""

    dataset: str = "toon"
    size: int = 64
    width: float = 0.125
    epochs: int = 12
    limit: int = 2048  # training images per epoch
    batch_size: int = 16
    lr: float = 1e-3  # one lr for all: at this budget the papers' lrs leave f in one region (GuidingPainter
    # at 2e-4, measured) or barely move CIC (3e-5); betas stay each paper's
    seed: int = 0
    # Torch intra-op threads. Part of the budget because CPU-trained weights depend on it (TrainConfig.threads):
    # with the shipped checkpoints' count a rebuild gives back the same weights on the same instruction set.
    threads: int = 1

    def describe(self) -> str:
        steps = self.epochs * (self.limit // self.batch_size)
        return (f"{self.epochs} epochs × {self.limit} {self.dataset} images at {self.size} px, batch {self.batch_size} "
                f"({steps} optimizer steps), width {self.width}, lr {self.lr:g}, seed {self.seed}, "
                f"{self.threads} thread{'s' if self.threads != 1 else ''}")

    def command(self) -> str:
        """The one command that rebuilds every shipped checkpoint with this budget."""
        return (f"colorbench zoo build --models all --dataset {self.dataset} --epochs {self.epochs} --limit {self.limit} "
                f"--size {self.size} --width {self.width:g} --batch-size {self.batch_size} --lr {self.lr:g} "
                f"--threads {self.threads}")


def export_inference(src: Path, dst: Path, command: str, budget: ZooBudget) -> Path:
    """Copy a training checkpoint's inference tensors as float16 (halves the size; the fp16 weights
    *are* the shipped model, its baselines are measured from them)."""
    tensors, meta = load_checkpoint(src)
    model = build_model(meta["model"], meta["config"])
    keep = set(model.inference_state_dict())
    out = {k: (v.half() if v.is_floating_point() else v) for k, v in tensors.items() if k in keep}
    meta = meta | {"zoo": {"budget": budget.__dict__, "budget_text": budget.describe(), "command": command,
                           "dtype": "float16", "source": str(src)}}
    save_checkpoint(dst, out, meta)
    return dst


def build_zoo(models: list[str], budget: ZooBudget, work_dir: Path, device: str = "cpu",
              log: Callable[[str], None] = print) -> list[Path]:
    """Train (resumably) and export each model; returns the exported paths."""
    command = "colorbench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    written = []
    for name in models:
        key = MODELS.canonical(name)
        cfg = TrainConfig(model=key, dataset=budget.dataset, epochs=budget.epochs, size=budget.size,
                          batch_size=budget.batch_size, lr=budget.lr, seed=budget.seed, device=device, limit=budget.limit,
                          model_config={"width": budget.width}, threads=budget.threads)
        result = train_model(cfg, work_dir / f"{key}-{budget.dataset}", resume=True, command=command)
        dst = export_inference(result.best_checkpoint, zoo_checkpoint(key, budget.dataset), command, budget)
        log(f"{key}: {result.seconds:.0f}s, val PSNR {result.history[-1]['val_psnr']:.2f} dB → {dst}")
        written.append(dst)
    # The canonical command, not this invocation's: a partial rebuild (`--models cic`) reproduces the same zoo.
    # With the instruction set: a rebuild gives back these weights only where the kernels round the same way.
    (ZOO_DIR / "README.json").write_text(json.dumps({"budget": budget.__dict__, "text": budget.describe(),
                                                     "command": budget.command(), "torch": torch.__version__,
                                                     "cpu_capability": torch.backends.cpu.get_cpu_capability()},
                                                    indent=2) + "\n")
    return written
