"""Test images in fixed-order batches on the device, decoded one batch ahead (a thread, or DataLoader
worker processes): the order, and so every record, never depends on how they were loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import torch

from colorbench.data.base import ColorDataset
from colorbench.metrics.psnr import to_uint8


class Batch:
    """A batch of test images on the device: ids, sketch [B,1,H,W], colour [B,3,H,W] in [-1,1] and gt_u8,
    uint8 [B,3,H,W]: the dataset's own 8-bit colour image, every metric's ground truth (to_uint8 rounds,
    the exact inverse of the datasets' v/127.5 − 1)."""

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


class BatchStream(Iterator[Batch], Protocol):
    """An iterator of batches that `close()` stops early (it ends the decoding thread or workers)."""

    def close(self) -> None: ...


def iter_batches(dataset: ColorDataset, ids: Sequence[str], size: int, device: torch.device,
                 num_workers: int = 0) -> BatchStream:
    """Batches of `size` images in the order of `ids`; `num_workers` > 0 decodes them in DataLoader worker
    processes (batches still arrive in order, so records never depend on it).

    With num_workers = 0 the next batch is decoded in one background thread while the caller works on the
    current one (the model's forwards release the GIL), so data loading overlaps the forwards at no memory
    cost beyond one batch. The first batch starts decoding at this call, not at the first `next`: a caller
    that builds its model in between gets both at once (the engine loads the checkpoint meanwhile).
    """
    if num_workers <= 0:
        starts = list(range(0, len(ids), size))
        if not starts:
            return (b for b in ())

        def load(s: int) -> list[dict[str, Any]]:
            return [dataset.get(i) for i in ids[s : s + size]]

        return _Prefetched(load, starts, device)
    # A fixed generator: the loader would otherwise draw its worker seed from the global RNG.
    loader = torch.utils.data.DataLoader(_IdList(dataset, ids), batch_size=size, shuffle=False,
                                         num_workers=num_workers, collate_fn=list,
                                         generator=torch.Generator().manual_seed(0))
    return (Batch(items, device) for items in loader)


class _Prefetched:
    """The batches at `starts`, each decoded in one background thread while the caller works on the one
    before; the first is submitted at construction. The thread ends with the last batch, or at `close`."""

    def __init__(self, load: Callable[[int], list[dict[str, Any]]], starts: list[int], device: torch.device) -> None:
        self._load, self._starts, self._device, self._k = load, starts, device, 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="colorbench-data")
        self._pending: Future | None = self._pool.submit(load, starts[0])

    def __iter__(self) -> _Prefetched:
        return self

    def __next__(self) -> Batch:
        if self._pending is None:
            raise StopIteration
        try:
            items = self._pending.result()
        except BaseException:
            self.close()
            raise
        self._k += 1
        if self._k < len(self._starts):
            self._pending = self._pool.submit(self._load, self._starts[self._k])
        else:
            self.close()
        return Batch(items, self._device)

    def close(self) -> None:
        """Stop decoding (a batch in flight is dropped when it finishes)."""
        self._pending = None
        self._pool.shutdown(wait=False, cancel_futures=True)
