"""Tiny, fast stand-ins used by engine/CLI tests: a dataset of random flat-coloured blobs and two small
models (a point-hint U-Net and a region model), registered under test-only names."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from colorbench.api import HintKind, Hints
from colorbench.checkpoints import save_checkpoint
from colorbench.data.base import ColorDataset
from colorbench.model import ColorizerModel
from colorbench.nn import UNet, init_weights
from colorbench.registry import DATASETS, MODELS


class Blobs(ColorDataset):
    """Random rectangles of random colours; deterministic per id."""

    name = "blobs"
    nri_threshold = 18.0

    def __init__(self, split="test", size=32, root=None, limit=None, count=12):
        super().__init__(split, size, root, limit)
        self.count = count

    def all_ids(self):
        return [f"{self.split}-{i:04d}" for i in range(self.count)]

    def load(self, image_id):
        seed = int(hashlib.sha256(image_id.encode()).hexdigest()[:8], 16)
        rng = np.random.default_rng(seed)
        s = self.size
        color = np.full((s, s, 3), 230, np.uint8)
        sketch = np.full((s, s), 255, np.uint8)
        for _ in range(4):
            y0, x0 = rng.integers(0, s - 8, 2)
            h, w = rng.integers(4, s // 2, 2)
            color[y0 : y0 + h, x0 : x0 + w] = rng.integers(0, 255, 3)
            sketch[y0, x0 : x0 + w] = 0
            sketch[min(s - 1, y0 + h), x0 : x0 + w] = 0
            sketch[y0 : y0 + h, x0] = 0
            sketch[y0 : y0 + h, min(s - 1, x0 + w)] = 0
        return sketch, color


class TinyPoint(ColorizerModel):
    name = "tinypoint"
    hint_kind = HintKind.POINT

    @classmethod
    def default_config(cls):
        return {"width": 0.0625}

    def __init__(self, config=None):
        super().__init__(config)
        self.net = UNet(5, 3, self.config["width"])
        init_weights(self.net)

    def colorize(self, sketch, hints: Hints):
        return torch.tanh(self.net(torch.cat([sketch, hints.color, hints.mask], 1)))


class TinyRegion(ColorizerModel):
    name = "tinyregion"
    hint_kind = HintKind.REGION

    @classmethod
    def default_config(cls):
        return {"width": 0.0625, "nc": 30}

    def __init__(self, config=None):
        super().__init__(config)
        nc = self.config["nc"]
        self.f = UNet(1, nc, self.config["width"])
        self.g = UNet(nc + 5, 3, self.config["width"])
        init_weights(self)

    def propose_regions(self, sketch):
        logits = self.f(sketch)
        return nn.functional.one_hot(logits.argmax(1), logits.shape[1]).permute(0, 3, 1, 2).float()

    def colorize(self, sketch, hints: Hints):
        s = hints.regions if hints.regions is not None else self.propose_regions(sketch)
        return torch.tanh(self.g(torch.cat([sketch, hints.color, hints.mask, s], 1)))


def register_fakes() -> None:
    for reg, name, obj in ((DATASETS, "blobs", Blobs), (MODELS, "tinypoint", TinyPoint), (MODELS, "tinyregion", TinyRegion)):
        if name not in reg.names():
            reg.register(name, obj)


def make_checkpoint(model_cls, path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = model_cls()
    save_checkpoint(path, model.state_dict(), {"model": model_cls.name, "config": model.config, "dataset": "blobs"})
    return path
