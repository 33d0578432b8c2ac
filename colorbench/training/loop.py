"""The one training loop every model uses: data, epochs, lr schedule, checkpoints, resume, val PSNR.

Models own their losses and optimizer steps (`ColorizerModel.train_step`); this file owns everything
around them so that all five models are trained under the same budget and bookkeeping. `train_model` reads
top-down: `_set_up` (data, model, optimizers, resume state), then per epoch `_train_one_epoch` and, on rank 0,
`_validate` and `_save_checkpoints`, then `_summarise`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from colorbench.atomic import atomic_write_text
from colorbench.checkpoints import load_checkpoint, load_into, save_checkpoint
from colorbench.errors import UsageError
from colorbench.model import ColorizerModel, TrainContext
from colorbench.registry import MODELS
from colorbench.training.checks import check_out_dir, clear_run, validate_train_config
from colorbench.training.config import TrainConfig
from colorbench.training.ddp import (
    DistContext,
    GlobalBatchSampler,
    ParallelNets,
    on_every_rank,
    rank_seed,
    steps_per_epoch,
)
from colorbench.training.ddp import init as init_ddp
from colorbench.training.machine import compute_platform, cpu_has_bf16, resolve_device
from colorbench.training.state import (
    WEIGHTS,
    flatten_optimizers,
    read_resume_state,
    restore_optimizers,
    restore_scaler,
    scaler_state,
)
from colorbench.training.validation import validation_psnr
from colorbench.versions import versions

# Imported from here by the CLI, the zoo build, benchmarks and tests.
__all__ = ["TrainConfig", "TrainResult", "build_model", "lr_factor", "resolve_device", "train_model",
           "validation_psnr"]


def lr_factor(step: int, total_steps: int) -> float:
    """Constant lr for the first half of training, then linear decay to 0 (paper supplement C)."""
    t = step / max(1, total_steps)
    return 1.0 if t < 0.5 else max(0.0, 2.0 * (1.0 - t))


def build_model(name: str, config: dict[str, Any] | None = None) -> ColorizerModel:
    """Registered model `name` built from `config` (`ColorizerModel.from_config`)."""
    cls = MODELS.get(name)
    return cls.from_config(config or {})


@dataclass
class TrainResult:
    """Where a run's checkpoints are, its per-epoch history rows and its wall time."""

    checkpoint: Path
    best_checkpoint: Path
    history: list[dict[str, float]]
    seconds: float


@dataclass
class _Run:
    """One training run as `_set_up` leaves it: what every epoch reads, and the progress it carries on (restored
    by --resume)."""

    cfg: TrainConfig
    out: Path
    name: str  # the model's canonical registry name
    ddp: DistContext
    device: torch.device
    model: ColorizerModel
    optimizers: dict[str, torch.optim.Optimizer]
    base_lrs: dict[str, list[float]]  # per optimizer and param group, before the schedule scales them
    train_set: Any
    val_set: Any
    total_steps: int
    generator: torch.Generator  # the model's training randomness (hints, noise), one stream per rank
    scaler: torch.amp.GradScaler | None  # CUDA AMP only
    autocast: bool
    meta_base: dict[str, Any]  # what every checkpoint's metadata says about the run
    start_epoch: int = 0
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    timing: list[dict[str, float]] = field(default_factory=list)
    best: float = -math.inf

    @property
    def last(self) -> Path:
        return self.out / "last.safetensors"

    @property
    def last_train(self) -> Path:
        return self.out / "last.train.safetensors"

    @property
    def best_path(self) -> Path:
        return self.out / "best.safetensors"


@dataclass
class _EpochTally:
    """What one epoch's steps add up to on this rank."""

    sums: dict[str, float]  # loss name → sum over the epoch's steps
    count: int  # steps
    images: int  # images over all ranks
    started: float  # perf_counter at the epoch's start


def train_model(cfg: TrainConfig, out_dir: str | Path, resume: bool = False, command: str = "",
                progress: bool = True, log: Callable[[str], None] = print, epoch_lines: bool = False,
                overwrite: bool = False) -> TrainResult:
    """Train `cfg.model` on `cfg.dataset` into out_dir: {last,best}.safetensors, last.train.safetensors (the resume
    state, weights included), history.json, training.csv, training.png and TensorBoard events in tensorboard/.

    `resume`: continue out_dir's run (refused without its last.train.safetensors, or when the run's dataset,
    model config or optimisation differ); without it an out_dir holding a run is refused unless `overwrite`.
    With `cfg.threads` set, torch runs on that many intra-op threads for the run and gets its count back after.
    `epoch_lines`: `log` one plain line per epoch, for where no progress bar can show (a piped log)."""
    before = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        return _train_model(cfg, out_dir, resume, command, progress, log, epoch_lines, overwrite)
    finally:
        torch.set_num_threads(before)


def _train_model(cfg: TrainConfig, out_dir: str | Path, resume: bool, command: str, progress: bool,
                 log: Callable[[str], None], epoch_lines: bool, overwrite: bool) -> TrainResult:
    from colorbench.progress import make_progress
    from colorbench.training.log import TB_DIR, TrainLog

    run = _set_up(cfg, Path(out_dir), resume, command, log, overwrite)
    # DDP per trained net (colorbench.training.ddp explains why); its constructor gives every rank rank 0's weights.
    nets = ParallelNets(run.model, run.ddp, run.device)
    board = TrainLog(run.out, run.step + 1 if resume else None, log, epoch_lines) if run.ddp.is_main else None
    if run.ddp.is_main:
        log(f"TensorBoard curves: tensorboard --logdir {run.out / TB_DIR}")

    t0 = time.perf_counter()
    step0 = run.step
    with make_progress(enabled=progress and run.ddp.is_main) as bar:
        task = bar.add_task(f"train {run.name}", total=run.total_steps, completed=run.step, info="")
        for epoch in range(run.start_epoch, cfg.epochs):
            tally = _train_one_epoch(run, nets, epoch, board,
                                     lambda info: bar.update(task, advance=1, info=info))
            rng_states = run.ddp.all_gather(run.generator.get_state())  # collective: every rank takes part
            if not run.ddp.is_main:  # rank 0 alone validates and writes checkpoints
                continue
            val = _validate(run, epoch, tally, t0)
            bar.update(task, info=f"epoch {epoch + 1}/{cfg.epochs} val PSNR {val:.2f} dB")
            assert board is not None
            seconds = run.timing[-1]["seconds"]
            board.epoch(run.history[-1] | run.timing[-1], cfg.epochs, run.total_steps,
                        seconds / max(1, run.step - step0) * (run.total_steps - run.step))
            _save_checkpoints(run, epoch, val, rng_states)
    nets.close()
    run.ddp.barrier()
    if run.ddp.is_main:
        assert board is not None
        board.close()
        _summarise(run)
    return TrainResult(run.last, run.best_path, run.history, time.perf_counter() - t0)


def _set_up(cfg: TrainConfig, out: Path, resume: bool, command: str, log: Callable[[str], None],
            overwrite: bool) -> _Run:
    """Everything before the first step: checks, device, model (initial weights from --seed), optimizers, data,
    the training RNG, AMP, and with `resume` the saved run's state; makes `out` (emptied with `overwrite`)."""
    from colorbench.data.grayscale import dataset_default_input, training_input

    validate_train_config(cfg)
    ddp = init_ddp(cfg.device)  # under torchrun: one rank of a data-parallel run; else world 1
    # Every rank checks --out; all refuse together (across nodes an --out only some ranks see is refused too).
    on_every_rank(ddp, lambda: check_out_dir(out, resume, overwrite))
    device = ddp.device(cfg.device) if ddp.is_distributed else resolve_device(cfg.device)
    name = MODELS.canonical(cfg.model)
    mode, model_config = training_input(name, MODELS.get(name).default_config(), cfg.model_config,
                                        dataset_default_input(cfg.dataset, cfg.size, cfg.data_root))
    model = _initial_model(name, model_config, cfg.seed, device)
    defaults = model.training_defaults()
    lr = cfg.lr if cfg.lr is not None else float(defaults["lr"])
    betas = cfg.adam_betas(defaults["betas"])
    optimizers = model.configure_optimizers(lr, betas)  # type: ignore[arg-type]
    # Base lrs before a resume restores param_groups: those hold the last *scheduled* lr, not the base.
    base_lrs = {k: [g["lr"] for g in o.param_groups] for k, o in optimizers.items()}
    train_set, val_set = _open_splits(cfg, mode)

    generator = torch.Generator(device=device if device.type == "cuda" else "cpu")
    generator.manual_seed(rank_seed(cfg.seed, ddp.rank))
    scaler = _loss_scaler(cfg, device, ddp, log)
    meta_base = {
        "model": name,
        "config": model.config,
        "dataset": cfg.dataset,
        "dataset_fingerprint": train_set.fingerprint(),
        "size": cfg.size,
        "train": cfg.to_json() | {"lr": lr, "betas": list(betas)},
        "world": ddp.world,  # processes: the global batch is batch_size × world
        "versions": versions(),
        "platform": compute_platform(),
        "command": command,
    }
    run = _Run(cfg, out, name, ddp, device, model, optimizers, base_lrs, train_set, val_set,
               total_steps=cfg.epochs * steps_per_epoch(len(train_set), cfg.batch_size, ddp.world),
               generator=generator, scaler=scaler,
               autocast=scaler is not None or cfg.bf16,  # bf16 needs no loss scaling: it has float32's exponent range
               meta_base=meta_base)
    if resume:
        _resume(run, log)
    elif hasattr(model, "prepare_training"):
        model.prepare_training(train_set)  # e.g. CIC's empirical colour-bin prior
    if overwrite and ddp.is_main:
        clear_run(out)  # the old run's best must never be named this run's
    if ddp.is_main:
        out.mkdir(parents=True, exist_ok=True)
    return run


def _initial_model(name: str, config: dict[str, Any], seed: int, device: torch.device) -> ColorizerModel:
    """Model `name` with its initial weights drawn from `seed` alone, whatever the global RNG holds."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # initial weights follow --seed, not whatever the global RNG holds
        config = dict(config)
        if "init_seed" in MODELS.get(name).default_config():  # models that seed their own init follow --seed too
            config.setdefault("init_seed", seed)
        return build_model(name, config).to(device)


def _loss_scaler(cfg: TrainConfig, device: torch.device, ddp: DistContext,
                 log: Callable[[str], None]) -> torch.amp.GradScaler | None:
    """The AMP loss scaler on CUDA (None elsewhere); refuses --bf16 off the CPU, warns where bf16 is emulated."""
    scaler = torch.amp.GradScaler("cuda") if (cfg.amp and device.type == "cuda") else None
    if cfg.bf16 and device.type != "cpu":
        raise UsageError(f"--bf16 is for CPU training (got device {device.type}); on CUDA, AMP (fp16) is on already")
    if cfg.bf16 and not cpu_has_bf16() and ddp.is_main:
        log("warning: --bf16 on a CPU without bf16 instructions (AVX512-BF16 / AMX): bf16 is emulated there, "
            "several times slower than float32 (benchmarks/README.md)")
    return scaler


def _open_splits(cfg: TrainConfig, mode: str) -> tuple[Any, Any]:
    """The train and val splits read in the model's input `mode`; UsageError when either is empty."""
    from colorbench.data import open_dataset
    from colorbench.data.grayscale import with_input

    train_set = with_input(open_dataset(cfg.dataset, "train", size=cfg.size, root=cfg.data_root, limit=cfg.limit),
                           mode)
    val_set = with_input(open_dataset(cfg.dataset, "val", size=cfg.size, root=cfg.data_root, limit=cfg.val_limit),
                         mode)
    if len(train_set) == 0:
        raise UsageError(f"dataset {cfg.dataset!r} has no training images")
    if len(val_set) == 0:
        raise UsageError(f"dataset {cfg.dataset!r} has no validation images: best.safetensors is the epoch with the "
                         "best validation PSNR; give the dataset a val split (colorbench prepare makes one)")
    return train_set, val_set


def _rng_key(ddp: DistContext) -> str:
    """This rank's training-RNG state inside last.train.safetensors."""
    return "rng/generator" if ddp.is_main else f"rng/generator.rank{ddp.rank}"


def _resume(run: _Run, log: Callable[[str], None]) -> None:
    """Load out's last.train.safetensors into `run`: weights, optimizers, loss scale, RNG, epoch, history."""
    ddp = run.ddp
    state = on_every_rank(ddp, lambda: read_resume_state(run.out, run.name, run.meta_base, ddp.world))
    weights, train_tensors, train_meta = state
    load_into(run.model, weights, str(run.last_train))
    restore_optimizers(run.optimizers, train_tensors, train_meta["param_groups"])
    restore_scaler(run.scaler, train_meta.get("grad_scaler"))
    if _rng_key(ddp) in train_tensors:  # a rank the saved run did not have keeps its fresh seed
        run.generator.set_state(train_tensors[_rng_key(ddp)])
    run.start_epoch, run.step = int(train_meta["epoch"]), int(train_meta["step"])
    run.history, run.timing, run.best = train_meta["history"], train_meta.get("timing", []), float(train_meta["best"])
    if ddp.is_main:
        log(f"resumed {run.name} from {run.last_train} at epoch {run.start_epoch}/{run.cfg.epochs}")
        was, now = train_meta.get("platform", {}), compute_platform()
        changed = [k for k in ("threads", "cpu_capability") if k in was and was[k] != now[k]]
        if changed and run.device.type == "cpu":
            log(f"warning: {', '.join(f'{k} {was[k]} → {now[k]}' for k in changed)} since the run started: "
                "CPU training rounds differently, so this run will not match an uninterrupted one bit for bit "
                "(--threads sets the count)")


def _train_one_epoch(run: _Run, nets: ParallelNets, epoch: int, board: Any,
                     tick: Callable[[str], None]) -> _EpochTally:
    """One pass over this rank's share of the training set: per step the scheduled lr, the model's
    `train_step`, a check that every loss is finite, TensorBoard's step curves and `tick(losses shown)`."""
    cfg, device = run.cfg, run.device
    run.model.train()
    # Shuffling is a function of (seed, epoch) only, so a resumed run sees the same batches; every rank
    # draws the same permutation and takes its block of each global batch.
    order = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
    sampler = GlobalBatchSampler(len(run.train_set), cfg.batch_size, run.ddp.rank, run.ddp.world, order)
    loader = DataLoader(run.train_set, batch_size=cfg.batch_size, sampler=sampler, generator=order,
                        num_workers=cfg.num_workers)
    tally = _EpochTally({}, 0, 0, time.perf_counter())
    t_step = tally.started
    for batch in loader:
        for opt_name, opt in run.optimizers.items():
            for group, base in zip(opt.param_groups, run.base_lrs[opt_name]):
                group["lr"] = base * lr_factor(run.step, run.total_steps)
        ctx = TrainContext(epoch, cfg.epochs, run.step, run.generator, device, amp=run.autocast, scaler=run.scaler)
        tensors = {"sketch": batch["sketch"].to(device), "color": batch["color"].to(device)}
        with nets.active():
            losses = run.model.train_step(tensors, run.optimizers, ctx)
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        if bad:
            raise FloatingPointError(f"{run.name}: non-finite loss {bad} at epoch {epoch} step {run.step}; "
                                     "lower --lr or check the data")
        for k, v in losses.items():
            tally.sums[k] = tally.sums.get(k, 0.0) + v
        tally.count += 1
        run.step += 1
        batch_images = len(tensors["sketch"]) * run.ddp.world
        tally.images += batch_images
        now = time.perf_counter()
        if board is not None:
            board.step(run.step, losses, {k: o.param_groups[0]["lr"] for k, o in run.optimizers.items()},
                       batch_images / max(now - t_step, 1e-9))
        t_step = now
        tick(" ".join(f"{k}={v:.3g}" for k, v in list(losses.items())[:4]))
    return tally


def _validate(run: _Run, epoch: int, tally: _EpochTally, t0: float) -> float:
    """Rank 0 after epoch `epoch`: the validation PSNR, appended to the history with the epoch's mean losses and
    lrs, and the timing row (`seconds` since the first epoch of this process started at `t0`). → the PSNR."""
    val = validation_psnr(run.model, run.val_set, run.device)
    lrs = {f"lr_{k}": o.param_groups[0]["lr"] for k, o in run.optimizers.items()}
    row = ({"epoch": epoch + 1, "step": run.step, "val_psnr": val}
           | {k: v / max(1, tally.count) for k, v in tally.sums.items()} | lrs)
    run.history.append(row)
    elapsed = time.perf_counter() - t0
    run.timing.append({"images_per_s": tally.images / max(time.perf_counter() - tally.started, 1e-9),
                       "seconds": elapsed})
    return val


def _save_checkpoints(run: _Run, epoch: int, val: float, rng_states: list[torch.Tensor]) -> None:
    """Rank 0 after epoch `epoch`: best.safetensors when `val` is the best validation PSNR yet, last.safetensors,
    last.train.safetensors (everything --resume needs, every rank's RNG state included) and training.csv."""
    from colorbench.training.log import write_csv

    meta = run.meta_base | {"epoch": epoch + 1, "step": run.step, "val_psnr": val, "history": run.history}
    state = run.model.state_dict()
    if val > run.best:
        run.best = val
        save_checkpoint(run.best_path, state, meta | {"selected": "best val PSNR"})
    save_checkpoint(run.last, state, meta | {"selected": "last"})
    # One file holds everything a resume needs, weights included: a kill between this write and the one
    # above can never pair one epoch's weights with another epoch's optimizer state.
    opt_tensors, groups = flatten_optimizers(run.optimizers)
    opt_tensors |= {f"{WEIGHTS}{k}": v for k, v in state.items()}
    opt_tensors["rng/generator"] = rng_states[0]
    opt_tensors.update({f"rng/generator.rank{r}": s for r, s in enumerate(rng_states[1:], start=1)})
    save_checkpoint(run.last_train, opt_tensors, meta | {"best": run.best, "param_groups": groups,
                                                         "timing": run.timing,
                                                         "grad_scaler": scaler_state(run.scaler), "weights": True})
    write_csv(run.out / "training.csv", [h | t for h, t in zip(run.history, run.timing)])


def _summarise(run: _Run) -> None:
    """Rank 0 after the last epoch: best.safetensors (a copy of last when no validation PSNR was finite),
    history.json and the training.png curves."""
    from colorbench.training.log import plot_history

    if not run.best_path.exists() and run.last.exists():
        save_checkpoint(run.best_path, *load_checkpoint(run.last))  # validation PSNR was never finite: last stands for best
    atomic_write_text(run.out / "history.json", json.dumps(run.history, indent=2))
    if run.history:
        plot_history(run.out / "training.png", run.history, f"{run.name} on {run.cfg.dataset}")
