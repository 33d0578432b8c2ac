"""FLOPs of a registered model's forwards and training step, counted with torch's FlopCounterMode.

The basis of the README's GPU throughput estimate: `python -m colorbench.evaluation.flops --size 256 --width 1.0`.
Counts are of matmuls and convolutions (2 FLOPs per multiply-add), the work a GPU's tensor cores do;
element-wise ops are left out, so real throughput is lower than FLOPs / peak.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from colorbench.api import HintKind, Hints
from colorbench.model import TrainContext
from colorbench.registry import MODELS


def _counted(fn: Any, *args: Any) -> int:
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return int(counter.get_total_flops())


def model_flops(name: str, size: int, width: float, train: bool = True, batch: int = 2) -> dict[str, float]:
    """Per image: {"segment": f's forward (region models), "colorize": one colorization forward,
    "train_step": one optimizer step of the model's own train_step, all its nets and backward passes}."""
    torch.manual_seed(0)
    model = MODELS.get(name).from_config({"width": width})
    sketch = torch.rand(batch, 1, size, size) * 2 - 1
    color = torch.rand(batch, 3, size, size) * 2 - 1
    hints = Hints(color, (torch.rand(batch, 1, size, size) > 0.9).float())
    out: dict[str, float] = {}
    model.eval()
    with torch.inference_mode():
        if type(model).hint_kind is HintKind.REGION:
            out["segment"] = _counted(model.propose_regions, sketch) / batch
            hints = Hints(hints.color, hints.mask, model.propose_regions(sketch))  # colorize runs g alone
        out["colorize"] = _counted(model.colorize, sketch, hints) / batch
    if train:
        model.train()
        optimizers = model.configure_optimizers(1e-4, model.training_defaults()["betas"])
        ctx = TrainContext(0, 1, 0, torch.Generator().manual_seed(0), torch.device("cpu"))
        out["train_step"] = _counted(model.train_step, {"sketch": sketch, "color": color}, optimizers, ctx) / batch
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="guidingpainter,rtug")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--no-train", action="store_true", help="forwards only (the train step is slow on CPU)")
    args = parser.parse_args(argv)
    for name in args.models.split(","):
        counts = model_flops(MODELS.canonical(name), args.size, args.width, train=not args.no_train)
        print(f"{name} {args.size} px width {args.width}: "
              + ", ".join(f"{k} {v / 1e9:.1f} GFLOP" for k, v in counts.items()) + " per image")


if __name__ == "__main__":
    main()
