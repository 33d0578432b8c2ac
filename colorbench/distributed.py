"""torchrun support: rank/world from the environment, gloo on CPU, NCCL on CUDA, a no-op when single.

Evaluation shards image ids strided (`ids[rank::world]`); every rank writes its own content-keyed
chunk files, so nothing collective runs per batch and rank 0 merges by reading the chunks.
Training keeps the models' own `train_step` (they own their optimizer steps): parameters start equal
(broadcast from rank 0), gradients are averaged as autograd accumulates them, BatchNorm buffers follow
rank 0 after every step — what DistributedDataParallel does, without wrapping the nets (state-dict names
and the models' `self.net(...)` calls stay as they are).
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as tdist
from torch import nn


@dataclass
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_distributed(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes reports and checkpoints."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.is_distributed and tdist.is_initialized():
            tdist.barrier()

    def device(self, spec: str) -> torch.device:
        """One CUDA device per local rank under torchrun; CPU otherwise."""
        if spec in ("auto", "cuda") and torch.cuda.is_available():
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")

    # -- training -------------------------------------------------------------------------------
    def broadcast_module(self, module: nn.Module) -> None:
        """Copy rank 0's parameters and buffers to every rank (the DDP constructor's broadcast)."""
        if not self.is_distributed:
            return
        with torch.no_grad():
            for tensor in list(module.parameters()) + list(module.buffers()):
                tdist.broadcast(tensor.data, src=0)

    def broadcast_buffers(self, module: nn.Module) -> None:
        """BatchNorm running statistics (every buffer) from rank 0, as DDP's broadcast_buffers=True."""
        if not self.is_distributed:
            return
        with torch.no_grad():
            for buf in module.buffers():
                tdist.broadcast(buf.data, src=0)

    def sync_gradients(self, module: nn.Module) -> list[Any]:
        """Average every parameter's gradient over ranks as soon as backward accumulates it.

        Averaging is linear, so a parameter that collects gradients from several backward passes
        before its optimizer steps still ends with the mean over ranks. Because the mean is taken
        before any optimizer (or AMP GradScaler inf check) looks at the gradients, every rank sees the
        same numbers and takes the same decision. Returns the hook handles (`.remove()` to detach).
        """
        if not self.is_distributed:
            return []
        world = float(self.world)

        def average(param: torch.Tensor) -> None:
            if param.grad is not None:
                tdist.all_reduce(param.grad, op=tdist.ReduceOp.SUM)
                param.grad.div_(world)

        return [p.register_post_accumulate_grad_hook(average) for p in module.parameters() if p.requires_grad]

    def all_gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's `tensor` (same shape and dtype on all ranks), in rank order; [tensor] when single."""
        if not self.is_distributed:
            return [tensor]
        # NCCL only moves CUDA tensors (e.g. a CPU generator state must travel through the GPU).
        where = torch.device("cuda", self.local_rank) if tdist.get_backend() == "nccl" else torch.device("cpu")
        local = tensor.contiguous().to(where)
        parts = [torch.empty_like(local) for _ in range(self.world)]
        tdist.all_gather(parts, local)
        return [p.to(tensor.device) for p in parts]


def rank_seed(seed: int, rank: int) -> int:
    """The training RNG seed of one rank: `seed` itself on rank 0 (so a single process is unchanged),
    a distinct value on the others (different hint draws for different shards)."""
    return seed if rank == 0 else (seed * 1_000_003 + rank * 7_919) % (2**63)


def init(device: str = "auto") -> DistContext:
    """Join the process group torchrun describes (WORLD_SIZE > 1), else a single-process context.

    NCCL when the run uses CUDA, gloo otherwise (CPU, or `--device cpu` on a CUDA machine).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if not tdist.is_initialized():
        cuda = (torch.cuda.is_available() and device in ("auto", "cuda")) or device.startswith("cuda:")
        tdist.init_process_group(backend="nccl" if cuda else "gloo")
        # Tear the group down before the interpreter does: letting gloo's threads die at exit aborts the
        # process ("terminate called without an active exception") after all the work succeeded.
        atexit.register(_shutdown)
    return DistContext(rank, world, local)


def _shutdown() -> None:
    if tdist.is_initialized():
        try:
            if tdist.get_backend() == "gloo":
                _quiesce()
            else:
                tdist.barrier()
        finally:
            tdist.destroy_process_group()


def _quiesce(timeout: float = 30.0) -> None:
    """Sync every rank and wait until gloo's worker threads have let go of the last collective.

    A gloo worker frees a finished collective (and drops its tensors' Python references, which takes the
    GIL) only after the waiting caller has moved on. If the interpreter is already finalizing by then, the
    worker dies inside that destructor and the process aborts ("terminate called without an active
    exception") although all work succeeded — 5 of 80 two-rank runs of `colorbench train` here. So the
    final sync is an all-reduce on a token whose refcount we can watch: the C++ side holds one reference
    until the worker that ran it has released it (and, before it, every work that thread ran); sleeping
    releases the GIL it needs. gloo's other worker finished its last work before the token was queued and
    had the whole all-reduce, GIL free, to release it. 0 aborts in 100 runs since.
    """
    token = torch.zeros(1)
    base = sys.getrefcount(token)
    tdist.all_reduce(token)  # also the barrier: every rank reaches exit before any tears the group down
    deadline = time.monotonic() + timeout
    while sys.getrefcount(token) > base and time.monotonic() < deadline:
        time.sleep(0.001)
