"""Validation PSNR after every epoch: the number that picks best.safetensors."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from colorbench.api import HintKind
from colorbench.color.grayscale import GRAYSCALE, config_input
from colorbench.hints import BoundedGeometric, image_seed, simulate
from colorbench.metrics.psnr import psnr
from colorbench.model import ColorizerModel


@torch.inference_mode()
def validation_psnr(model: ColorizerModel, dataset: Any, device: torch.device, batch_size: int = 16) -> float:
    """Mean PSNR on the val split, each image with a fixed stratified Nh ~ G (E7.3) and its own seeded
    hints: deterministic, unlike the official code's random-Nh validation."""
    ids = dataset.ids()
    if not ids:
        return float("nan")
    nh_all = BoundedGeometric().stratified([f"val|{i}" for i in ids])
    was_training = model.training
    model.eval()
    values: list[float] = []
    for start in range(0, len(ids), batch_size):
        items = [dataset.get(i) for i in ids[start : start + batch_size]]
        sketch = torch.stack([it["sketch"] for it in items]).to(device)
        color = torch.stack([it["color"] for it in items]).to(device)
        kind = type(model).hint_kind
        regions = model.propose_regions(sketch) if kind is HintKind.REGION else None
        seeds = [image_seed(dataset.name, it["id"], kind.value) for it in items]
        space = "lab" if config_input(getattr(model, "config", None)) == GRAYSCALE else "rgb"
        seq = simulate(kind, color, seeds, regions=regions, space=space)
        hints = seq.at(torch.as_tensor(nh_all[start : start + len(items)], device=device))
        values += psnr(model.colorize(sketch, hints), color).tolist()
    model.train(was_training)
    return float(np.mean(values))
