"""Two-rank GuidingPainter training-step time (gloo, CPU, one thread per rank): the hand-written gradient sync
colorbench used before (one blocking all_reduce per parameter from a gradient hook, every buffer broadcast after
every step) next to torch's DistributedDataParallel as `colorbench train` wraps the nets now
(`colorbench.training.ddp.ParallelNets`), and next to no sync at all (the ranks' compute alone), from which the
communication share of each step is (t_sync − t_none) / t_sync.

    .venv/bin/python benchmarks/ddp_step.py [--width 0.25] [--size 64] [--batch 4] [--steps 8] [--warmup 2]

It launches itself under torchrun with 2 processes. Each method gets the same model, shapes and batch on
every rank (per-rank batch --batch); the three alternate per round so load drifts hit them alike; each time is
the median over --steps rounds, as measured on rank 0 after a barrier (a step ends when both ranks are done).
The old sync is kept here only, for this comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import torch
import torch.distributed as tdist
from torch import nn


# -------------------------------------------------------------------------------- the old hand-written sync
def old_broadcast_module(module: nn.Module) -> None:
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            tdist.broadcast(tensor.data, src=0)


def old_sync_gradients(module: nn.Module, world: int) -> list[Any]:
    def average(param: torch.Tensor) -> None:
        if param.grad is not None:
            tdist.all_reduce(param.grad, op=tdist.ReduceOp.SUM)
            param.grad.div_(float(world))

    return [p.register_post_accumulate_grad_hook(average) for p in module.parameters() if p.requires_grad]


def old_broadcast_buffers(module: nn.Module) -> None:
    with torch.no_grad():
        for buf in module.buffers():
            tdist.broadcast(buf.data, src=0)


# ------------------------------------------------------------------------------------------------ ranks
def rank_main(args: argparse.Namespace) -> None:
    from colorbench.guidingpainter.model import GuidingPainter
    from colorbench.model import TrainContext
    from colorbench.training import ddp

    torch.set_num_threads(1)
    ctx = ddp.init("cpu")
    model = GuidingPainter({"width": args.width, "augment": False})
    optimizers = model.configure_optimizers(2e-4, (0.5, 0.999))
    gen = torch.Generator().manual_seed(ctx.rank)
    batch = {"sketch": torch.rand(args.batch, 1, args.size, args.size, generator=gen) * 2 - 1,
             "color": torch.rand(args.batch, 3, args.size, args.size, generator=gen) * 2 - 1}
    step_ctx = TrainContext(0, 10, 0, torch.Generator().manual_seed(7 + ctx.rank), torch.device("cpu"))
    old_broadcast_module(model)
    nets = ddp.ParallelNets(model, ctx, torch.device("cpu"))

    def none() -> None:
        model.train_step(batch, optimizers, step_ctx)

    def ddp() -> None:
        with nets.active():
            model.train_step(batch, optimizers, step_ctx)

    def old() -> None:
        model.train_step(batch, optimizers, step_ctx)
        old_broadcast_buffers(model)

    methods = {"no sync": none, "old sync": old, "DDP": ddp}
    times: dict[str, list[float]] = {k: [] for k in methods}
    collectives = sum(1 for p in model.parameters() if p.requires_grad)
    for round_ in range(args.warmup + args.steps):
        for name, step in methods.items():
            hooks = old_sync_gradients(model, ctx.world) if name == "old sync" else []
            tdist.barrier()
            t = time.perf_counter()
            step()
            tdist.barrier()
            if round_ >= args.warmup:
                times[name].append(time.perf_counter() - t)
            for h in hooks:
                h.remove()
    if ctx.rank == 0:
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"GuidingPainter train_step, 2 ranks (gloo, 1 thread each), width {args.width}, {args.size} px, "
              f"batch {args.batch} per rank, median of {args.steps}:")
        print(f"  no sync (compute alone): {med['no sync'] * 1e3:.0f} ms")
        for name in ("old sync", "DDP"):
            share = (med[name] - med["no sync"]) / med[name]
            print(f"  {name:8s}: {med[name] * 1e3:.0f} ms, communication share {100 * share:.0f}%")
        print(f"  old sync: {collectives} all_reduce + {len(list(model.buffers()))} broadcasts per step; "
              f"DDP / old = {med['DDP'] / med['old sync']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    if "RANK" in os.environ:
        rank_main(args)
        return
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", "29533", __file__, *sys.argv[1:]]
    sys.exit(subprocess.run(cmd, env=env, check=False).returncode)


if __name__ == "__main__":
    main()
