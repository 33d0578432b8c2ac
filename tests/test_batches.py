"""Test images in batches (colorbench.evaluation.batches): the order of the ids whatever the prefetching, the first batch
decoded from the call on (the runner loads the checkpoint meanwhile), and `close` ending the decoding thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import torch

from colorbench.data import open_dataset
from colorbench.evaluation.batches import iter_batches


class _Watched:
    """A dataset whose `get` records the ids asked for and sets `started` at the first."""

    def __init__(self) -> None:
        self.base = open_dataset("toon", "test", size=32, limit=6)
        self.asked: list[str] = []
        self.started = threading.Event()

    def ids(self) -> list[str]:
        return self.base.ids()

    def get(self, image_id: str) -> dict[str, Any]:
        self.asked.append(image_id)
        self.started.set()
        return self.base.get(image_id)


def _data_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("colorbench-data")]


def test_batches_follow_the_ids_and_the_first_decodes_before_it_is_asked_for() -> None:
    ds = _Watched()
    ids = ds.ids()[::-1]  # any order the caller gives
    batches = iter_batches(ds, ids, 4, torch.device("cpu"))
    assert ds.started.wait(10), "the first batch did not start decoding before the first next()"
    got = [b.ids for b in batches]
    assert got == [ids[:4], ids[4:]]
    assert ds.asked == ids


def test_close_ends_the_decoding_thread() -> None:
    ds = _Watched()
    before = set(_data_threads())  # threads of other tests' streams are not this one's
    batches = iter_batches(ds, ds.ids(), 2, torch.device("cpu"))
    next(batches)
    ours = set(_data_threads()) - before
    assert ours
    batches.close()
    deadline = time.monotonic() + 10
    while any(t.is_alive() for t in ours) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.is_alive() for t in ours)
    assert list(batches) == []  # a closed stream yields nothing more
