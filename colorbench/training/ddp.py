"""torchrun support: rank/world from the environment, gloo on CPU, NCCL on CUDA, a no-op when single.

Evaluation shards image ids strided (`ids[rank::world]`); every rank writes its own content-keyed
chunk files, so nothing collective runs per batch and rank 0 merges by reading the chunks.
Training wraps each net a model trains in its own torch DistributedDataParallel (`ParallelNets`) and gives
every rank a block of each global batch (`GlobalBatchSampler`); the models keep their own `train_step`.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as tdist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Sampler

from colorbench.errors import UsageError


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

    def all_agree(self, flag: bool) -> bool:
        """True when `flag` is the same on every rank (a collective: every rank must call it)."""
        flags = self.all_gather(torch.tensor([int(flag)]))
        return len({int(f) for f in flags}) == 1


# -- training: DistributedDataParallel per net -------------------------------------------------------------
# Why one DDP per trained net and not one DDP (static_graph=True) around the whole model: a colorbench model
# owns its train_step, which runs several backward passes per step over different nets (GuidingPainter: the G
# step backpropagates through f, g and a *frozen* D; the D step through D alone, called twice — real and fake
# — before its one backward). One wrapper around the model would see a different set of parameters receive
# gradients in every backward, which DDP only follows with find_unused_parameters (a graph walk per forward)
# or a static graph (which assumes one forward-backward pattern per iteration, not two optimizers'). A wrapper
# per net matches how GANs are trained with DDP: every backward that reaches a net's parameters reaches all of
# them, so the plain reducer (buckets, overlap with backward, no graph walk) applies; D called twice before one
# backward is fine because each parameter's gradient accumulates once per backward. The frozen D of the G
# step goes through its wrapper too: with requires_grad off no hook fires, so nothing is reduced for it.
# State-dict names stay the model's own: the wrappers live outside the module tree, and the model's attribute
# lookups (`self.gen`) return them only while a step runs (`ColorizerModel.__getattr__`).
class ParallelNets:
    """The DDP wrappers of `model`'s trained child nets on this rank; empty (a no-op) in a single process."""

    def __init__(self, model: nn.Module, ctx: DistContext, device: torch.device) -> None:
        self.model, self.wrappers = model, {}
        self._depth = 0  # wrapper forwards running: a trained net called outside one would skip the reduction
        self._hooks: list[Any] = []
        if not ctx.is_distributed:
            return
        stray = [n for n, p in model.named_parameters(recurse=False) if p.requires_grad]
        if stray:
            raise UsageError(f"{type(model).__name__} has trainable parameters {stray} outside a child net; "
                             "under torchrun each trained tensor must belong to a child module (self.net = ...)")
        ids = [device.index] if device.type == "cuda" else None
        for name, net in model.named_children():
            if any(p.requires_grad for p in net.parameters()):
                # The constructor checks every rank holds the same shapes and copies rank 0's weights and buffers
                # to the others; by default DDP also syncs buffers (BatchNorm statistics) from rank 0 at each forward.
                self.wrappers[name] = _Wrapper(self, net, device_ids=ids)
                self._hooks.append(net.register_forward_pre_hook(self._guard(name)))

    def _guard(self, name: str) -> Any:
        def check(module: nn.Module, args: Any) -> None:
            if self._depth == 0 and self.model.__dict__.get("_parallel_nets") and torch.is_grad_enabled() \
                    and any(p.requires_grad for p in module.parameters()):
                raise UsageError(f"{type(self.model).__name__}.train_step called `{name}` without going through "
                                 f"self.{name}: under torchrun its gradients would not be averaged over ranks")
        return check

    def close(self) -> None:
        """Detach the guards from the nets (the model outlives the run)."""
        for hook in self._hooks:
            hook.remove()
        self._hooks, self.wrappers = [], {}

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """While a train_step runs: `model.<net>` is that net's DDP wrapper."""
        if not self.wrappers:
            yield
            return
        self.model.__dict__["_parallel_nets"] = self.wrappers
        try:
            yield
        finally:
            del self.model.__dict__["_parallel_nets"]


class _Wrapper(DistributedDataParallel):
    """DistributedDataParallel that counts its running forwards for `ParallelNets`' guard."""

    def __init__(self, owner: ParallelNets, module: nn.Module, **kwargs: Any) -> None:
        super().__init__(module, **kwargs)
        self.__dict__["_owner"] = owner  # not a submodule: no second path to the parameters

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            # `self.gen.encoder(x)` in a train_step: the part would run outside the wrapper, unaveraged.
            module = self.__dict__["_modules"]["module"]
            if not name.startswith("_") and hasattr(module, name):
                raise UsageError(f"{type(module).__name__}.{name}: under torchrun a train_step calls its nets, not "
                                 "their parts (colorbench wraps each net in DistributedDataParallel)") from None
            raise

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        self._owner._depth += 1
        try:
            return super().forward(*args, **kwargs)
        finally:
            self._owner._depth -= 1


class GlobalBatchSampler(Sampler[int]):
    """This rank's images of every global batch: step k's global batch is images [k·B·W, (k+1)·B·W) of the
    epoch's permutation and rank r takes its r-th block of B — so W ranks at `--batch-size B` train on the
    batches of one process at batch size B·W. The permutation is `torch.randperm(n, generator)`, the draw of
    a shuffling DataLoader's RandomSampler: with W = 1 this yields exactly what
    DataLoader(shuffle=True, generator, drop_last=n > B) did before DDP, so single-process runs are unchanged.

    As torch's DistributedSampler, every rank gets the same number of images: a last partial global batch is
    dropped when the epoch has a full one, and a set smaller than one global batch is padded by repeating its
    first images (DDP averages the ranks' mean gradients, which is the global mean only for equal shards).
    """

    def __init__(self, n: int, batch_size: int, rank: int, world: int, generator: torch.Generator) -> None:
        self.n, self.rank, self.world, self.generator = n, rank, world, generator
        self.steps = steps_per_epoch(n, batch_size, world)
        self.per_rank = min(batch_size, math.ceil(n / world))  # images per rank and step

    def __iter__(self) -> Iterator[int]:
        order = torch.randperm(self.n, generator=self.generator).tolist()
        need = self.steps * self.per_rank * self.world
        order = (order * math.ceil(need / self.n))[:need]
        for step in range(self.steps):
            start = (step * self.world + self.rank) * self.per_rank
            yield from order[start : start + self.per_rank]

    def __len__(self) -> int:
        return self.steps * self.per_rank


def steps_per_epoch(n: int, batch_size: int, world: int) -> int:
    """Optimizer steps per epoch over `n` images at `batch_size` per rank: the last partial global batch is
    dropped unless it is the only one."""
    return max(1, n // (batch_size * world))


def check_shared_folder(ctx: DistContext, folder: Path, flag: str = "--out") -> None:
    """Refuse (on every rank) a `folder` some rank does not see as rank 0 does: across nodes rank 0 merges the
    files every rank writes there, so it must be one shared folder (NFS, Lustre, …). A collective."""
    if not ctx.is_distributed:
        return
    token = int(ctx.all_gather(torch.randint(0, 2**62, (1,)))[0])  # rank 0's random number, on every rank
    probe = folder / f".shared-probe-{token}"
    if ctx.is_main:
        folder.mkdir(parents=True, exist_ok=True)
        probe.touch()
    ctx.barrier()
    seen = probe.exists()
    everyone = ctx.all_gather(torch.tensor([int(seen)]))
    if ctx.is_main:
        probe.unlink(missing_ok=True)
    blind = [r for r, s in enumerate(everyone) if not int(s)]
    if blind:
        raise UsageError(f"{flag} {folder}: rank(s) {', '.join(map(str, blind))} do not see the folder rank 0 "
                         f"writes; under torchrun across nodes {flag} must be one folder every node shares")


def on_every_rank(ctx: DistContext, check: Callable[[], Any]) -> Any:
    """`check()` on every rank; when it raises on any rank, every rank raises (no rank is left waiting in a
    collective for one that stopped). Returns check()'s value."""
    try:
        value, error = check(), None
    except UsageError as exc:
        value, error = None, exc
    if ctx.is_distributed and not ctx.all_agree(error is None):
        raise error or UsageError("another rank refused this run (see its message); under torchrun across nodes "
                                  "--out must be a folder every node sees")
    if error is not None:
        raise error
    return value


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
