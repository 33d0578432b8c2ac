"""The dataset contract: a split of (id, sketch, colour) samples with a fingerprint and an NRI threshold.

Every dataset, synthetic or prepared from a folder, yields dicts
  {"id": str, "sketch": [1,H,W] float32 in [-1,1], "color": [3,H,W] float32 in [-1,1]}
and is registered by class under the `colorbench.datasets` entry-point group.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import Dataset

from colorbench.errors import UsageError

SPLITS = ("train", "val", "test")
MAX_SIZE = 4096  # px: a 4096² RGB image is 48 MB and one float32 batch row 200 MB; larger is a typo, not a size


class DatasetError(UsageError, RuntimeError):
    """A dataset cannot be opened as asked; the message says what to do (CLI exit code 2). Still a
    RuntimeError, its base before UsageError existed."""


class ColorDataset(Dataset):
    """Base class. Subclasses set `name`, `nri_threshold`, and implement `ids` and `load`."""

    name: ClassVar[str] = ""
    nri_threshold: ClassVar[float] = 20.5
    aliases: ClassVar[tuple[str, ...]] = ()

    def __init__(self, split: str = "test", size: int = 64, root: str | None = None, limit: int | None = None) -> None:
        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        if size < 16 or size % 16 or size > MAX_SIZE:
            raise DatasetError(f"--size must be a multiple of 16 (the U-Net pools 4 times) from 16 to {MAX_SIZE}, "
                               f"got {size}")
        self.split = split
        self.size = size
        self.root = root
        self.limit = limit

    # -- to implement ------------------------------------------------------------------------
    def all_ids(self) -> list[str]:
        """Every image id of the split, in a fixed order."""
        raise NotImplementedError

    def load(self, image_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(sketch [H,W] uint8, colour [H,W,3] uint8) at `self.size`."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Parameters that define the data (go into the fingerprint and results.json)."""
        return {}

    # -- shared ------------------------------------------------------------------------------
    def ids(self) -> list[str]:
        ids = self.all_ids()
        return ids if self.limit is None else ids[: self.limit]

    def __len__(self) -> int:
        return len(self.ids())

    def __getitem__(self, index: int) -> dict[str, Any]:
        image_id = self.ids()[index]
        return self.get(image_id)

    def get(self, image_id: str) -> dict[str, Any]:
        sketch, color = self.load(image_id)
        return {"id": image_id, "sketch": u8_to_tensor(sketch[None]), "color": u8_to_tensor(color.transpose(2, 0, 1))}

    def fingerprint(self) -> str:
        """sha256 over the dataset's definition and image ids: changes whenever the data could."""
        h = hashlib.sha256()
        h.update(repr(sorted(self.describe().items())).encode())
        h.update(f"{self.name}|{self.split}|{self.size}".encode())
        for i in self.ids():
            h.update(i.encode() + b"\0")
        return h.hexdigest()


def u8_to_tensor(array: np.ndarray) -> torch.Tensor:
    """uint8 [C,H,W] → float32 [C,H,W] in [-1,1]."""
    return torch.from_numpy(np.ascontiguousarray(array)).float().div_(127.5).sub_(1.0)
