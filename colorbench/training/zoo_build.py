"""The embedded default's model zoo: train every built-in model on a synthetic set with one equal budget,
export the inference weights (float16, no discriminator) into colorbench/zoo/, record how they were made.

`colorbench zoo build` is the one command that reproduces the shipped checkpoints.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from colorbench.checkpoints import load_checkpoint, save_checkpoint
from colorbench.defaults import ZooBudget
from colorbench.errors import UsageError
from colorbench.evaluation.variants import ZOO_DIR, zoo_checkpoint
from colorbench.registry import MODELS
from colorbench.training.checks import resume_if_possible
from colorbench.training.loop import TrainConfig, build_model, train_model

BUILTIN = ("guidingpainter", "rtug", "alacgan", "pix2pix", "cic")

# Per-model config on top of each model's defaults: the CPU-scale recipes that make the conditional models
# use their hints. Every entry is a deviation from the reference, argued in docs/recipes.md.
RECIPES: dict[str, dict[str, object]] = {
    "guidingpainter": {"lambda_tv": 50.0, "region_order": "area", "lambda_use": 0.5, "g_regions": "argmax"},
    "alacgan": {"hint_sigma": 0.01},  # twice the scaled hint density: ~16 cells per hinted sample (docs/recipes.md)
}
# Per-dataset changes on top of RECIPES. OpenMoji: without the official code's augmentation (colour jitter of the
# target against the unchanged sketch, crops) g learns a colour per shape, not one wash for all: +1.0 dB at n = 0
# on its test set (docs/line-art.md). The toon zoo keeps the augmentation.
DATASET_RECIPES: dict[str, dict[str, dict[str, object]]] = {
    "openmoji": {"guidingpainter": {"augment": False}},
}


def recipe_for(model: str, dataset: str) -> dict[str, object]:
    """The zoo's config for `model` trained on `dataset`: RECIPES, then that dataset's DATASET_RECIPES entry."""
    return {**RECIPES.get(model, {}), **DATASET_RECIPES.get(dataset, {}).get(model, {})}


def readme_name(dataset: str) -> str:
    """The build record of a zoo: README.json for the embedded default's dataset, README-DATASET.json for
    another (toon-gray), so building one dataset's checkpoints never overwrites another's record."""
    return "README.json" if dataset == ZooBudget.dataset else f"README-{dataset}.json"


class ZooBuildError(RuntimeError):
    """Some models of a parallel zoo build failed (the others were exported)."""


def export_inference(src: Path, dst: Path, command: str, budget: ZooBudget) -> Path:
    """Copy a training checkpoint's inference tensors as float16 (halves the size; the fp16 weights
    *are* the shipped model, its baselines are measured from them)."""
    tensors, meta = load_checkpoint(src)
    model = build_model(meta["model"], meta["config"])
    keep = set(model.inference_state_dict())
    out = {k: (v.half() if v.is_floating_point() else v) for k, v in tensors.items() if k in keep}
    meta = meta | {"zoo": {"budget": budget.__dict__, "budget_text": budget.describe(), "command": command,
                           "dtype": "float16", "source": str(src)}}
    save_checkpoint(dst, out, meta)
    return dst


def build_zoo(models: list[str], budget: ZooBudget, work_dir: Path, device: str = "cpu",
              log: Callable[[str], None] = print, jobs: int = 1, out_dir: Path = ZOO_DIR) -> list[Path]:
    """Train (resumably) and export each model into `out_dir`; returns the exported paths.

    jobs > 1 trains that many models at once, each in its own process with the budget's thread count:
    the same weights as one at a time (each process pins its threads), in about 1/jobs of the time when
    the machine has jobs × threads cores. Models already exported stay exported if another one fails.
    """
    command = "colorbench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    keys = []
    for key in (MODELS.canonical(name) for name in models):
        if MODELS.get(key).needs_checkpoint:
            keys.append(key)
        else:  # `--models all` includes the non-learned floor
            log(f"{key}: not a learned model, nothing to train")
    if not keys:
        raise UsageError("zoo build: none of the given models is learned; nothing to build")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if jobs <= 1 or len(keys) <= 1:
        written = [_log_done(log, *_train_and_export(key, budget, work_dir, device, command, out_dir, None))
                   for key in keys]
    else:
        written, failed = _build_parallel(keys, budget, work_dir, device, command, out_dir, jobs, log)
        if failed:
            raise ZooBuildError(f"zoo build: {', '.join(failed)} failed (see above); {len(written)} exported, "
                               "the rest resume from their work directories when you run the command again")
    # The canonical command, not this invocation's: a partial rebuild (`--models cic`) reproduces the same zoo.
    # With the instruction set: a rebuild gives back these weights only where the kernels round the same way.
    recipes = {key: recipe_for(key, budget.dataset) for key in [*RECIPES, *DATASET_RECIPES.get(budget.dataset, {})]}
    record = {"budget": budget.__dict__, "recipes": recipes, "text": budget.describe(), "command": budget.command(),
              "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    (out_dir / readme_name(budget.dataset)).write_text(json.dumps(record, indent=2) + "\n")
    return written


def _train_and_export(key: str, budget: ZooBudget, work_dir: Path, device: str, command: str, out_dir: Path,
                      prefix: str | None) -> tuple[str, float, float, Path]:
    """Train one model with the budget and export it → (model, seconds, last val PSNR, exported path).
    `prefix` set: runs in a worker process, so no progress bar; one line per epoch on stderr instead."""
    cfg = TrainConfig(model=key, dataset=budget.dataset, epochs=budget.epochs, size=budget.size,
                      batch_size=budget.batch_size, lr=budget.lr, seed=budget.seed, device=device, limit=budget.limit,
                      model_config={"width": budget.width, **recipe_for(key, budget.dataset)}, threads=budget.threads)
    quiet = prefix is not None
    # Seed 0 keeps its historical work directory; another seed must not resume seed 0's run.
    run = f"{key}-{budget.dataset}" + (f"-seed{budget.seed}" if budget.seed else "")
    result = train_model(cfg, work_dir / run, **resume_if_possible(work_dir / run), command=command,
                         progress=not quiet, epoch_lines=quiet,
                         log=(lambda m: print(f"{prefix}{m}", file=sys.stderr, flush=True)) if quiet else print)
    dst = export_inference(result.best_checkpoint, out_dir / zoo_checkpoint(key, budget.dataset).name, command, budget)
    return key, result.seconds, result.history[-1]["val_psnr"], dst


def _log_done(log: Callable[[str], None], key: str, seconds: float, val: float, dst: Path) -> Path:
    log(f"{key}: {seconds:.0f}s, val PSNR {val:.2f} dB → {dst}")
    return dst


def _build_parallel(keys: list[str], budget: ZooBudget, work_dir: Path, device: str, command: str, out_dir: Path,
                    jobs: int, log: Callable[[str], None]) -> tuple[list[Path], list[str]]:
    """`_train_and_export` for every model in `jobs` spawned processes (fresh interpreters: torch's thread
    pool is per process) → (exported paths, models that failed)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    written: list[Path] = []
    failed: list[str] = []
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(keys)), mp_context=ctx) as pool:
        futures = {pool.submit(_train_and_export, key, budget, work_dir, device, command, out_dir, f"[{key}] "): key
                   for key in keys}
        log(f"training {len(keys)} models, {min(jobs, len(keys))} at a time ({budget.threads} thread(s) each)")
        for future in as_completed(futures):
            try:
                written.append(_log_done(log, *future.result()))
            except Exception as exc:  # noqa: BLE001 — the others finish (and export) first, then we report
                failed.append(futures[future])
                log(f"{futures[future]}: failed: {type(exc).__name__}: {exc}")
    return written, failed
