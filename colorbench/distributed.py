"""torchrun support: rank/world from the environment, gloo on CPU, NCCL on CUDA, a no-op when single.

Evaluation shards image ids strided (`ids[rank::world]`); every rank writes its own content-keyed
chunk files, so nothing collective runs per batch and rank 0 merges by reading the chunks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist


@dataclass
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_distributed(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.is_distributed and tdist.is_initialized():
            tdist.barrier()

    def device(self, spec: str) -> torch.device:
        """One CUDA device per local rank under torchrun; CPU otherwise."""
        if spec in ("auto", "cuda") and torch.cuda.is_available():
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")


def init() -> DistContext:
    """Join the process group torchrun describes (WORLD_SIZE > 1), else a single-process context."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if not tdist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        tdist.init_process_group(backend=backend)
    return DistContext(rank, world, local)
