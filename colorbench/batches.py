"""Test images in fixed-order batches on the device, decoded one batch ahead (a thread, or DataLoader
worker processes): the order, and so every record, never depends on how they were loaded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from colorbench.data.base import ColorDataset
from colorbench.metrics import to_uint8


class Batch:
    """A batch of test images on the device: ids, sketch [B,1,H,W], colour [B,3,H,W], uint8 GT."""

    def __init__(self, items: list[dict[str, Any]], device: torch.device) -> None:
        self.ids = [it["id"] for it in items]
        self.sketch = torch.stack([it["sketch"] for it in items]).to(device)
        self.color = torch.stack([it["color"] for it in items]).to(device)
        self.gt_u8 = to_uint8(self.color)


class _IdList(torch.utils.data.Dataset):
    """The samples of a fixed list of ids, in that order: what DataLoader workers read."""

    def __init__(self, dataset: ColorDataset, ids: Sequence[str]) -> None:
        self.dataset, self.ids = dataset, list(ids)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.dataset.get(self.ids[index])


def iter_batches(dataset: ColorDataset, ids: Sequence[str], size: int, device: torch.device,
                 num_workers: int = 0) -> Iterator[Batch]:
    """Batches of `size` images in the order of `ids`; `num_workers` > 0 decodes them in DataLoader worker
    processes (batches still arrive in order, so records never depend on it).

    With num_workers = 0 the next batch is decoded in one background thread while the caller works on the
    current one (the model's forwards release the GIL), so data loading overlaps the forwards at no memory
    cost beyond one batch.
    """
    if num_workers <= 0:
        starts = list(range(0, len(ids), size))
        if not starts:
            return

        def load(s: int) -> list[dict[str, Any]]:
            return [dataset.get(i) for i in ids[s : s + size]]

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="colorbench-data") as pool:
            pending = pool.submit(load, starts[0])
            for k in range(len(starts)):
                items = pending.result()
                if k + 1 < len(starts):
                    pending = pool.submit(load, starts[k + 1])
                yield Batch(items, device)
        return
    # A fixed generator: the loader would otherwise draw its worker seed from the global RNG.
    loader = torch.utils.data.DataLoader(_IdList(dataset, ids), batch_size=size, shuffle=False,
                                         num_workers=num_workers, collate_fn=list,
                                         generator=torch.Generator().manual_seed(0))
    for items in loader:
        yield Batch(items, device)
