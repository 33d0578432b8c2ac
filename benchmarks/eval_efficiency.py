"""How much of a `colorbench run` is model compute: times the bare forwards a native evaluation needs and
the whole in-process evaluation + report of the same work, and prints their ratio (target ≥ 0.90).

    .venv/bin/python benchmarks/eval_efficiency.py --model guidingpainter --size 64 --width 0.25 --limit 32

(a) "forwards": exactly the model calls a `native` evaluation needs, on inputs pre-built outside the clock
    with the engine's shapes, batch shapes and memory layout: per batch of --batch-size images one
    `propose_regions` (region models) and `colorize` on the (Nc + 1)·B rows of levels 0..Nc in chunks of
    --batch-size rows, minus the chunks whose hints repeat the previous chunk's bit for bit (a region
    model past its last non-empty region: their outputs are the earlier ones, colorbench copies them).
    The inputs are the test images' own (hint lists, the model's regions): which chunks are needed
    depends on them. Nothing else.
(b) "whole": `run_evaluation` (data generation, checkpoint load, hint simulation, forwards, PSNR, chunk
    files, merge, records.csv, run.json) with modes ["native"], FID off, resume off, into a fresh directory,
    then `colorbench.reports.render.render_report` (protocols, bootstrap, tables, figures, results.json, report.md).
Excluded from both: interpreter start and imports (a warm-up run at --limit 2 pays every lazy import and
one-time initialisation first). Both are timed --repeat times, alternating; the ratio uses the best of
each (other processes only ever add time) and the ratio of the medians is printed too.

Each is also measured in CPU seconds of this process (all its threads, time.process_time): on a machine
other jobs load, wall times swing by tens of percent between repetitions, CPU seconds far less. Work the
worker threads overlap with the model on a spare core counts fully in CPU seconds, so their ratio is a
lower bound of the wall ratio on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from colorbench.api import HintKind, Hints
from colorbench.checkpoints import save_checkpoint
from colorbench.data import open_dataset
from colorbench.data.base import ColorDataset
from colorbench.evaluation.allocator import retain_freed_memory
from colorbench.evaluation.engine import SEED_TAGS, EvalPlan
from colorbench.evaluation.forward import fixed_rows, pad_rows
from colorbench.evaluation.level_forward import same_bits
from colorbench.evaluation.runner import RunConfig, run_evaluation
from colorbench.evaluation.variants import Variant
from colorbench.hints import image_seed, simulate
from colorbench.model import ColorizerModel
from colorbench.registry import MODELS
from colorbench.reports.render import render_report
from colorbench.training.loop import build_model

TARGET = 0.90
CPU: list[float] = []  # CPU seconds of every timed call, in call order (time_forwards / time_whole append)


def fresh_checkpoint(name: str, width: float, path: Path, seed: int = 0, torch_init: bool = False) -> Path:
    """A freshly initialised `name` at `width`, saved where `--checkpoint NAME=PATH` can read it.
    Weights never change the speed of a forward, so untrained ones measure the same work. `torch_init`
    re-draws every layer with PyTorch's default init instead of the paper's N(0, 0.02): outputs then vary
    with the hints, which an agreement check needs (N(0, 0.02) nets output one grey at every n)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # initial weights from an explicit seed, global RNG restored afterwards
        model = build_model(name, {"width": width})
        if torch_init:
            for module in model.modules():
                if module is not model and hasattr(module, "reset_parameters"):
                    module.reset_parameters()
    save_checkpoint(path, model.state_dict(), {"model": name, "config": model.config})
    return path


@torch.inference_mode()
def forward_plan(model: ColorizerModel, dataset: ColorDataset, batch_size: int,
                 levels: list[int]) -> tuple[list[tuple[torch.Tensor, list[tuple[torch.Tensor, Hints]]]], int, int]:
    """The model calls a native evaluation needs, with their inputs built here, outside the clock:
    per image batch (sketch [B,1,H,W], [(sketch rows, Hints) per chunk of `batch_size` level-major rows]).

    Inputs come from the test images (their hint lists, the model's own regions) because which calls are
    needed depends on them: a full chunk whose hints repeat those one chunk earlier bit for bit (a region
    model past its last non-empty region) needs no forward — its outputs are the earlier ones.
    → (plan, chunks needed, chunks in all).
    """
    kind = type(model).hint_kind
    ids = dataset.ids()
    plan, needed, total = [], 0, 0
    for s in range(0, len(ids), batch_size):
        items = [dataset.get(i) for i in ids[s : s + batch_size]]
        sketch = torch.stack([it["sketch"] for it in items])
        color = torch.stack([it["color"] for it in items])
        b = sketch.shape[0]
        regions = fixed_rows(model.propose_regions, batch_size, sketch) if kind is HintKind.REGION else None
        seeds = [image_seed(dataset.name, it["id"], SEED_TAGS[kind]) for it in items]
        hints = simulate(kind, color, seeds, regions=regions, k=EvalPlan().nc).stacked(levels, with_regions=False)
        n = len(levels) * b
        chunks = []
        for c in range(0, n, batch_size):
            e = min(n, c + batch_size)
            total += 1
            if (batch_size % b == 0 and c >= batch_size and e - c == batch_size
                    and same_bits(hints.color[c:e], hints.color[c - batch_size : e - batch_size])
                    and same_bits(hints.mask[c:e], hints.mask[c - batch_size : e - batch_size])):
                continue
            first = c % b
            rows = slice(first, first + e - c) if first + e - c <= b else torch.arange(c, e) % b
            # Padded to batch_size rows like the engine's calls (colorbench.evaluation.forward.fixed_rows).
            chunk_hints = Hints(pad_rows(hints.color[c:e], batch_size).clone(),
                                pad_rows(hints.mask[c:e], batch_size).clone(),
                                None if regions is None else pad_rows(regions[rows], batch_size))
            chunks.append((pad_rows(sketch[rows], batch_size), chunk_hints))
        needed += len(chunks)
        plan.append((pad_rows(sketch, batch_size), chunks))
    return plan, needed, total


@torch.inference_mode()
def time_forwards(model: ColorizerModel, plan: list[tuple[torch.Tensor, list[tuple[torch.Tensor, Hints]]]]) -> float:
    """Seconds of the model calls of a native evaluation: per image batch `propose_regions` once (region
    models), then `colorize` on every needed chunk of level rows."""
    region_model = type(model).hint_kind is HintKind.REGION
    t0, c0 = time.perf_counter(), time.process_time()
    for sketch, chunks in plan:
        if region_model:
            model.propose_regions(sketch)
        for rows, hints in chunks:
            model.colorize(rows, hints)
    CPU.append(time.process_time() - c0)
    return time.perf_counter() - t0


def time_whole(name: str, ckpt: Path, dataset: str, size: int, limit: int, batch_size: int, work: Path,
               metrics: list[dict[str, Any]] | None = None) -> float:
    """Seconds of run_evaluation (native, no FID, no resume, the per-image `metrics` beside PSNR) + render_report
    into a fresh run directory."""
    out = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    cfg = RunConfig(models=[], dataset=dataset, out=str(out), checkpoints=[f"{name}={ckpt}"], size=size, limit=limit,
                    device="cpu", resume=False, fid=False,
                    plan=EvalPlan(modes=["native"], batch_size=batch_size, forward_rows=batch_size,
                                  metrics=list(metrics or [])))
    t0, c0 = time.perf_counter(), time.process_time()
    run_evaluation(cfg, progress=False)
    render_report(out)
    CPU.append(time.process_time() - c0)
    return time.perf_counter() - t0


def _metrics(args: argparse.Namespace) -> list[dict[str, Any]]:
    """--metrics as EvalPlan.metrics (PSNR is always computed; dataset-level metrics are not timed here)."""
    from colorbench.metrics.registry import describe_metrics, per_image_metrics, resolve_metrics

    return describe_metrics([m.name for m in per_image_metrics(resolve_metrics(args.metrics))]) if args.metrics else []


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Warm up, then alternate (a) and (b) `args.repeat` times; → every timing and both ratios."""
    name = MODELS.canonical(args.model)
    retain_freed_memory()  # as run_evaluation does: (a) and (b) run under the same allocator settings
    ckpt = Path(args.checkpoint) if args.checkpoint else fresh_checkpoint(name, args.width, work / f"{name}.safetensors")
    model = Variant(name, name, ckpt).load("cpu")  # exactly the model the runner loads (config from the file)
    kind = type(model).hint_kind
    levels = list(range(EvalPlan().nc + 1)) if kind is not HintKind.NONE else [0]
    dataset = open_dataset(args.dataset, "test", size=args.size, limit=args.limit)
    calls, needed, total = forward_plan(model, dataset, args.batch_size, levels)
    # Warm-up: lazy imports (protocols, matplotlib), allocator and oneDNN primitive caches for these shapes.
    time_whole(name, ckpt, args.dataset, args.size, min(2, args.limit), args.batch_size, work, _metrics(args))
    time_forwards(model, calls)
    fwd, whole, cpu_fwd, cpu_whole = [], [], [], []
    for _ in range(args.repeat):
        fwd.append(time_forwards(model, calls))
        cpu_fwd.append(CPU[-1])
        whole.append(time_whole(name, ckpt, args.dataset, args.size, args.limit, args.batch_size, work, _metrics(args)))
        cpu_whole.append(CPU[-1])
    return {"model": name, "width": float(model.config.get("width", args.width)), "fwd": fwd, "whole": whole,
            "cpu_fwd": cpu_fwd, "cpu_whole": cpu_whole,
            "n_levels": len(levels), "needed": needed, "total": total, "checkpoint": str(ckpt)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="guidingpainter", help="registered model name or alias")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--width", type=float, default=0.25, help="channel multiplier (paper: 1.0); ignored with --checkpoint")
    ap.add_argument("--limit", type=int, default=32, help="test images")
    ap.add_argument("--dataset", default="toon")
    ap.add_argument("--batch-size", type=int, default=32, help="images per batch and rows per forward, as `colorbench run --batch-size N --forward-rows N`")
    ap.add_argument("--checkpoint", default=None, help="evaluate this file instead of a fresh model")
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions of (a) and (b), alternating")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the machine is shared)")
    ap.add_argument("--metrics", default="", help="per-image metrics beside PSNR, e.g. ssim,deltae,cf")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    load0 = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="cb-eval-eff-"))
    try:
        r = measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load1 = os.getloadavg()[0]

    def fmt(xs: list[float]) -> str:
        return ", ".join(f"{x:.2f}" for x in xs)

    print(f"eval_efficiency: {r['model']} width {r['width']:g}, {args.size} px, {args.limit} images "
          f"({args.dataset}), batch {args.batch_size}, {r['n_levels']} levels, {args.threads} thread(s), "
          f"load {load0:.1f}→{load1:.1f}")
    print(f"  colorize chunks needed  : {r['needed']} of {r['total']} (the rest repeat the previous level's hints)")
    # Other processes only ever add time, so the best of N is the estimate of each cost (as timeit does);
    # the medians are printed too, for a loaded machine.
    a, b = min(r["fwd"]), min(r["whole"])
    am, bm = statistics.median(r["fwd"]), statistics.median(r["whole"])
    print(f"  (a) forwards only       : best {a:.2f} s, median {am:.2f} s  [{fmt(r['fwd'])}]")
    print(f"  (b) run + report        : best {b:.2f} s, median {bm:.2f} s  [{fmt(r['whole'])}]")
    print(f"  toolkit overhead (b−a)  : {b - a:.2f} s (best), {bm - am:.2f} s (medians)")
    ca, cb = min(r["cpu_fwd"]), min(r["cpu_whole"])
    print(f"  CPU seconds (a) / (b)   : best {ca:.2f} / {cb:.2f} s [{fmt(r['cpu_fwd'])}] / [{fmt(r['cpu_whole'])}]: "
          f"ratio {ca / cb:.3f} (a lower bound of the idle wall ratio)")
    met = a / b >= TARGET
    print(f"  ratio a/b = {a / b:.3f} (best of {len(r['fwd'])}), {am / bm:.3f} (medians)  "
          f"(target ≥ {TARGET:.2f}: {'met' if met else 'NOT met'})")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
