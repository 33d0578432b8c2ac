"""The training shard: one process gets exactly the batches its shuffling DataLoader gave before DDP (so single-
process training is unchanged), and W ranks at batch B together get one process's batches at B·W."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from colorbench.training.ddp import GlobalBatchSampler, steps_per_epoch


def _batches(n: int, batch: int, rank: int, world: int, seed: int) -> list[list[int]]:
    order = torch.Generator().manual_seed(seed)
    sampler = GlobalBatchSampler(n, batch, rank, world, order)
    return [b.tolist() for b in DataLoader(range(n), batch_size=batch, sampler=sampler, generator=order)]


@pytest.mark.parametrize("n, batch", [(4, 2), (5, 2), (7, 16), (16, 16), (33, 8), (12, 5)])
def test_one_process_gets_the_batches_of_a_shuffling_dataloader(n: int, batch: int) -> None:
    before = DataLoader(range(n), batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(11),
                        drop_last=n > batch)
    assert _batches(n, batch, 0, 1, 11) == [b.tolist() for b in before]


@pytest.mark.parametrize("n, batch, world", [(8, 2, 2), (9, 2, 2), (64, 16, 2), (30, 3, 4)])
def test_ranks_together_get_one_process_batches_at_the_global_batch(n: int, batch: int, world: int) -> None:
    ranks = [_batches(n, batch, r, world, 3) for r in range(world)]
    one = _batches(n, batch * world, 0, 1, 3)
    assert all(len(r) == len(one) == steps_per_epoch(n, batch, world) for r in ranks)
    for step, images in enumerate(one):
        assert [i for r in ranks for i in r[step]] == images


def test_a_set_smaller_than_one_global_batch_is_padded_to_equal_shards() -> None:
    ranks = [_batches(3, 4, r, 2, 0) for r in range(2)]
    assert [len(r) for r in ranks] == [1, 1] and [len(r[0]) for r in ranks] == [2, 2]
    assert {i for r in ranks for i in r[0]} == {0, 1, 2}
