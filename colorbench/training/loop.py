"""The one training loop every model uses: data, epochs, lr schedule, checkpoints, resume, val PSNR.

Models own their losses and optimizer steps (`ColorizerModel.train_step`); this file owns everything
around them so that all five models are trained under the same budget and bookkeeping.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from colorbench.api import HintKind
from colorbench.atomic import atomic_write_text
from colorbench.checkpoints import CheckpointError, load_checkpoint, load_into, save_checkpoint
from colorbench.color.grayscale import GRAYSCALE, config_input
from colorbench.defaults import TrainDefaults
from colorbench.errors import UsageError
from colorbench.evaluation.allocator import retain_freed_memory
from colorbench.hints import BoundedGeometric, image_seed, simulate
from colorbench.metrics.psnr import psnr
from colorbench.model import ColorizerModel, TrainContext
from colorbench.registry import MODELS
from colorbench.training import ddp as dist
from colorbench.training.checks import (
    check_out_dir,
    check_resume_identity,
    clear_run,
    identity,
    validate_train_config,
)
from colorbench.versions import versions


@dataclass
class TrainConfig:
    """Every flag that shapes a training run; stored in the checkpoint metadata."""

    model: str
    dataset: str
    epochs: int = TrainDefaults.epochs
    size: int = 64
    batch_size: int = TrainDefaults.batch_size
    lr: float | None = None  # None → the model's paper default
    betas: tuple[float, float] | None = None  # None → the model's paper default
    beta1: float | None = None  # replaces β1 only (`--beta1`): β2 stays the model's (AlacGAN 0.9, CIC 0.99)
    seed: int = TrainDefaults.seed
    device: str = TrainDefaults.device
    amp: bool = True  # only ever active on CUDA
    # CPU only: the train step under bf16 autocast (`train --bf16`). 0.40× the official step's time on an
    # AVX512-BF16 CPU, but ~6× slower where bf16 is emulated (AVX2): benchmarks/README.md, train_step.
    bf16: bool = False
    limit: int | None = None  # cap on training images
    val_limit: int = TrainDefaults.val_limit
    num_workers: int = 0
    data_root: str | None = None
    model_config: dict[str, Any] = field(default_factory=dict)
    # Torch intra-op threads (None: torch's default, the usable cores). On a CPU the trained weights depend
    # on it: oneDNN splits a convolution's weight-gradient sum over the threads, so another count rounds
    # differently and, over many steps, trains another model. The count used is recorded either way.
    threads: int | None = None

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["betas"] = list(self.betas) if self.betas else None
        return d

    def adam_betas(self, model_default: tuple[float, float]) -> tuple[float, float]:
        """The Adam betas of this run: `betas`, else the model's default, with `beta1` replacing β1."""
        b1, b2 = tuple(self.betas) if self.betas is not None else tuple(model_default)
        return (float(self.beta1) if self.beta1 is not None else b1, b2)


def resolve_device(spec: str) -> torch.device:
    """auto → cuda if present, else mps, else cpu."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise UsageError(f"--device {spec!r}: {exc}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for but no CUDA device is visible; use --device cpu")
    backend = getattr(torch.backends, "mps", None)
    if device.type == "mps" and (backend is None or not backend.is_available()):
        raise UsageError("--device mps was asked for but this machine has no MPS device (Apple-silicon GPU); "
                         "use --device cpu")
    return device


def lr_factor(step: int, total_steps: int) -> float:
    """Constant lr for the first half of training, then linear decay to 0 (paper supplement C)."""
    t = step / max(1, total_steps)
    return 1.0 if t < 0.5 else max(0.0, 2.0 * (1.0 - t))


def build_model(name: str, config: dict[str, Any] | None = None) -> ColorizerModel:
    cls = MODELS.get(name)
    return cls.from_config(config or {})


def _flatten_optimizers(optimizers: dict[str, torch.optim.Optimizer]) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer states as safetensors-storable tensors + JSON (no pickle anywhere)."""
    tensors: dict[str, torch.Tensor] = {}
    groups: dict[str, Any] = {}
    for name, opt in optimizers.items():
        sd = opt.state_dict()
        groups[name] = sd["param_groups"]
        for idx, st in sd["state"].items():
            for key, val in st.items():
                tensors[f"optim/{name}/{idx}/{key}"] = torch.as_tensor(val).detach().cpu().clone()
    return tensors, groups


def _restore_optimizers(optimizers: dict[str, torch.optim.Optimizer], tensors: dict[str, torch.Tensor], groups: dict) -> None:
    for name, opt in optimizers.items():
        state: dict[int, dict[str, torch.Tensor]] = {}
        prefix = f"optim/{name}/"
        for key, val in tensors.items():
            if key.startswith(prefix):
                idx, sub = key[len(prefix):].split("/", 1)
                state.setdefault(int(idx), {})[sub] = val
        opt.load_state_dict({"state": state, "param_groups": groups[name]})


def scaler_state(scaler: torch.amp.GradScaler | None) -> dict[str, Any] | None:
    """The AMP loss scale and its growth tracker as JSON, for the train-state checkpoint (None without AMP).
    Without it a resumed run restarts at scale 2^16 and skips steps on overflow until it backs off again."""
    return None if scaler is None else scaler.state_dict()  # plain floats and ints: JSON as it is


def restore_scaler(scaler: torch.amp.GradScaler | None, state: dict[str, Any] | None) -> None:
    """Inverse of `scaler_state`; a run saved without AMP (or resumed with AMP turned off) keeps its default."""
    if scaler is not None and state:
        scaler.load_state_dict(state)


@torch.inference_mode()
def validation_psnr(model: ColorizerModel, dataset: Any, device: torch.device, batch_size: int = 16) -> float:
    """Mean PSNR on the val split, each image with a fixed stratified Nh ~ G (E7.3) and its own seeded
    hints: deterministic, unlike the official code's random-Nh validation (brief §2.9.10)."""
    ids = dataset.ids()
    if not ids:
        return float("nan")
    nh_all = BoundedGeometric().stratified([f"val|{i}" for i in ids])
    was_training = model.training
    model.eval()
    values: list[float] = []
    for start in range(0, len(ids), batch_size):
        items = [dataset.get(i) for i in ids[start : start + batch_size]]
        sketch = torch.stack([it["sketch"] for it in items]).to(device)
        color = torch.stack([it["color"] for it in items]).to(device)
        kind = type(model).hint_kind
        regions = model.propose_regions(sketch) if kind is HintKind.REGION else None
        seeds = [image_seed(dataset.name, it["id"], kind.value) for it in items]
        space = "lab" if config_input(getattr(model, "config", None)) == GRAYSCALE else "rgb"
        seq = simulate(kind, color, seeds, regions=regions, space=space)
        hints = seq.at(torch.as_tensor(nh_all[start : start + len(items)], device=device))
        values += psnr(model.colorize(sketch, hints), color).tolist()
    model.train(was_training)
    return float(np.mean(values))


@dataclass
class TrainResult:
    checkpoint: Path
    best_checkpoint: Path
    history: list[dict[str, float]]
    seconds: float


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


def cpu_has_bf16() -> bool:
    """True when this CPU runs bf16 in hardware (AVX512-BF16 or AMX), so bf16 autocast is fast on it."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def compute_platform() -> dict[str, Any]:
    """What CPU training results depend on beyond code and versions: torch's intra-op thread count and the
    instruction set its kernels use (AVX2 and AVX-512 kernels round differently)."""
    return {"threads": torch.get_num_threads(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "machine": platform.machine()}


def _train_model(cfg: TrainConfig, out_dir: str | Path, resume: bool, command: str, progress: bool,
                 log: Callable[[str], None], epoch_lines: bool, overwrite: bool) -> TrainResult:
    from colorbench.data import open_dataset
    from colorbench.data.grayscale import dataset_default_input, training_input, with_input

    out = Path(out_dir)
    validate_train_config(cfg)
    ddp = dist.init(cfg.device)  # under torchrun: one rank of a data-parallel run; else world 1
    # Every rank checks --out; all refuse together (across nodes an --out only some ranks see is refused too).
    _on_every_rank(ddp, lambda: check_out_dir(out, resume, overwrite))
    retain_freed_memory()  # every step frees and reallocates the same activations: keep them mapped
    device = ddp.device(cfg.device) if ddp.is_distributed else resolve_device(cfg.device)
    name = MODELS.canonical(cfg.model)
    mode, model_config = training_input(name, MODELS.get(name).default_config(), cfg.model_config,
                                        dataset_default_input(cfg.dataset, cfg.size, cfg.data_root))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)  # initial weights follow --seed, not whatever the global RNG holds
        config = dict(model_config)
        if "init_seed" in MODELS.get(name).default_config():  # models that seed their own init follow --seed too
            config.setdefault("init_seed", cfg.seed)
        model = build_model(name, config).to(device)
    defaults = model.training_defaults()
    lr = cfg.lr if cfg.lr is not None else float(defaults["lr"])
    betas = cfg.adam_betas(defaults["betas"])
    optimizers = model.configure_optimizers(lr, betas)  # type: ignore[arg-type]
    # Base lrs before a resume restores param_groups: those hold the last *scheduled* lr, not the base.
    base_lrs = {k: [g["lr"] for g in o.param_groups] for k, o in optimizers.items()}

    train_set = with_input(open_dataset(cfg.dataset, "train", size=cfg.size, root=cfg.data_root, limit=cfg.limit),
                           mode)
    val_set = with_input(open_dataset(cfg.dataset, "val", size=cfg.size, root=cfg.data_root, limit=cfg.val_limit),
                         mode)
    if len(train_set) == 0:
        raise UsageError(f"dataset {cfg.dataset!r} has no training images")
    if len(val_set) == 0:
        raise UsageError(f"dataset {cfg.dataset!r} has no validation images: best.safetensors is the epoch with the "
                         "best validation PSNR; give the dataset a val split (colorbench prepare makes one)")
    steps_per_epoch = dist.steps_per_epoch(len(train_set), cfg.batch_size, ddp.world)
    total_steps = cfg.epochs * steps_per_epoch

    generator = torch.Generator(device=device if device.type == "cuda" else "cpu")
    generator.manual_seed(dist.rank_seed(cfg.seed, ddp.rank))
    rng_key = "rng/generator" if ddp.is_main else f"rng/generator.rank{ddp.rank}"
    scaler = torch.amp.GradScaler("cuda") if (cfg.amp and device.type == "cuda") else None
    if cfg.bf16 and device.type != "cpu":
        raise UsageError(f"--bf16 is for CPU training (got device {device.type}); on CUDA, AMP (fp16) is on already")
    if cfg.bf16 and not cpu_has_bf16() and ddp.is_main:
        log("warning: --bf16 on a CPU without bf16 instructions (AVX512-BF16 / AMX): bf16 is emulated there, "
            "several times slower than float32 (benchmarks/README.md)")
    autocast = scaler is not None or cfg.bf16  # bf16 needs no loss scaling: it has float32's exponent range
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
    start_epoch, step, history, timing, best = 0, 0, [], [], -math.inf
    last, last_train, best_path = out / "last.safetensors", out / "last.train.safetensors", out / "best.safetensors"
    if resume:
        state = _on_every_rank(ddp, lambda: _read_resume_state(out, name, meta_base, ddp.world))
        weights, train_tensors, train_meta = state
        load_into(model, weights, str(last_train))
        _restore_optimizers(optimizers, train_tensors, train_meta["param_groups"])
        restore_scaler(scaler, train_meta.get("grad_scaler"))
        if rng_key in train_tensors:  # a rank the saved run did not have keeps its fresh seed
            generator.set_state(train_tensors[rng_key])
        start_epoch, step = int(train_meta["epoch"]), int(train_meta["step"])
        history, timing, best = train_meta["history"], train_meta.get("timing", []), float(train_meta["best"])
        if ddp.is_main:
            log(f"resumed {name} from {last_train} at epoch {start_epoch}/{cfg.epochs}")
            was, now = train_meta.get("platform", {}), compute_platform()
            changed = [k for k in ("threads", "cpu_capability") if k in was and was[k] != now[k]]
            if changed and device.type == "cpu":
                log(f"warning: {', '.join(f'{k} {was[k]} → {now[k]}' for k in changed)} since the run started: "
                    "CPU training rounds differently, so this run will not match an uninterrupted one bit for bit "
                    "(--threads sets the count)")
    elif hasattr(model, "prepare_training"):
        model.prepare_training(train_set)  # e.g. CIC's empirical colour-bin prior
    if overwrite and ddp.is_main:
        clear_run(out)  # the old run's best must never be named this run's
    if ddp.is_main:
        out.mkdir(parents=True, exist_ok=True)
    # DDP per trained net (colorbench.training.ddp explains why); its constructor gives every rank rank 0's weights.
    nets = dist.ParallelNets(model, ddp, device)
    from colorbench.progress import make_progress
    from colorbench.training.log import TB_DIR, TrainLog, plot_history, write_csv

    board = TrainLog(out, step + 1 if resume else None, log, epoch_lines) if ddp.is_main else None
    if ddp.is_main:
        log(f"TensorBoard curves: tensorboard --logdir {out / TB_DIR}")

    t0 = time.perf_counter()
    step0 = step
    with make_progress(enabled=progress and ddp.is_main) as bar:
        task = bar.add_task(f"train {name}", total=total_steps, completed=step, info="")
        for epoch in range(start_epoch, cfg.epochs):
            model.train()
            # Shuffling is a function of (seed, epoch) only, so a resumed run sees the same batches; every rank
            # draws the same permutation and takes its block of each global batch.
            order = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
            sampler = dist.GlobalBatchSampler(len(train_set), cfg.batch_size, ddp.rank, ddp.world, order)
            loader = DataLoader(train_set, batch_size=cfg.batch_size, sampler=sampler, generator=order,
                                num_workers=cfg.num_workers)
            sums: dict[str, float] = {}
            count, images, t_epoch = 0, 0, time.perf_counter()
            t_step = t_epoch
            for batch in loader:
                for opt_name, opt in optimizers.items():
                    for group, base in zip(opt.param_groups, base_lrs[opt_name]):
                        group["lr"] = base * lr_factor(step, total_steps)
                ctx = TrainContext(epoch, cfg.epochs, step, generator, device, amp=autocast, scaler=scaler)
                tensors = {"sketch": batch["sketch"].to(device), "color": batch["color"].to(device)}
                with nets.active():
                    losses = model.train_step(tensors, optimizers, ctx)
                bad = [k for k, v in losses.items() if not math.isfinite(v)]
                if bad:
                    raise FloatingPointError(f"{name}: non-finite loss {bad} at epoch {epoch} step {step}; "
                                             "lower --lr or check the data")
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                step += 1
                batch_images = len(tensors["sketch"]) * ddp.world
                images += batch_images
                now = time.perf_counter()
                if board is not None:
                    board.step(step, losses, {k: o.param_groups[0]["lr"] for k, o in optimizers.items()},
                               batch_images / max(now - t_step, 1e-9))
                t_step = now
                bar.update(task, advance=1, info=" ".join(f"{k}={v:.3g}" for k, v in list(losses.items())[:4]))
            rng_states = ddp.all_gather(generator.get_state())  # collective: every rank takes part
            if not ddp.is_main:  # rank 0 alone validates and writes checkpoints
                continue
            val = validation_psnr(model, val_set, device)
            lrs = {f"lr_{k}": o.param_groups[0]["lr"] for k, o in optimizers.items()}
            row = ({"epoch": epoch + 1, "step": step, "val_psnr": val} | {k: v / max(1, count) for k, v in sums.items()}
                   | lrs)
            history.append(row)
            elapsed = time.perf_counter() - t0
            timing.append({"images_per_s": images / max(time.perf_counter() - t_epoch, 1e-9), "seconds": elapsed})
            bar.update(task, info=f"epoch {epoch + 1}/{cfg.epochs} val PSNR {val:.2f} dB")
            board.epoch(row | timing[-1], cfg.epochs, total_steps, elapsed / max(1, step - step0) * (total_steps - step))
            meta = meta_base | {"epoch": epoch + 1, "step": step, "val_psnr": val, "history": history}
            state = model.state_dict()
            if val > best:
                best = val
                save_checkpoint(best_path, state, meta | {"selected": "best val PSNR"})
            save_checkpoint(last, state, meta | {"selected": "last"})
            # One file holds everything a resume needs, weights included: a kill between this write and the one
            # above can never pair one epoch's weights with another epoch's optimizer state.
            opt_tensors, groups = _flatten_optimizers(optimizers)
            opt_tensors |= {f"{WEIGHTS}{k}": v for k, v in state.items()}
            opt_tensors["rng/generator"] = rng_states[0]
            opt_tensors.update({f"rng/generator.rank{r}": s for r, s in enumerate(rng_states[1:], start=1)})
            save_checkpoint(last_train, opt_tensors, meta | {"best": best, "param_groups": groups, "timing": timing,
                                                             "grad_scaler": scaler_state(scaler), "weights": True})
            write_csv(out / "training.csv", [h | t for h, t in zip(history, timing)])
    nets.close()
    ddp.barrier()
    if not ddp.is_main:
        return TrainResult(last, best_path, history, time.perf_counter() - t0)
    board.close()
    if not best_path.exists() and last.exists():
        save_checkpoint(best_path, *load_checkpoint(last))  # validation PSNR was never finite: last stands for best
    atomic_write_text(out / "history.json", json.dumps(history, indent=2))
    if history:
        plot_history(out / "training.png", history, f"{name} on {cfg.dataset}")
    return TrainResult(last, best_path, history, time.perf_counter() - t0)


WEIGHTS = "model/"  # prefix of the weights inside last.train.safetensors


def _on_every_rank(ddp: dist.DistContext, check: Callable[[], Any]) -> Any:
    """`check()` on every rank; when it raises on any rank, every rank raises (no rank is left waiting in a
    collective for one that stopped). Returns check()'s value."""
    try:
        value, error = check(), None
    except UsageError as exc:
        value, error = None, exc
    if ddp.is_distributed and not ddp.all_agree(error is None):
        raise error or UsageError("another rank refused this run (see its message); under torchrun across nodes "
                                  "--out must be a folder every node sees")
    if error is not None:
        raise error
    return value


def _read_resume_state(out: Path, name: str, meta_now: dict[str, Any], world: int
                       ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any]]:
    """(weights, optimizer/RNG tensors, metadata) of OUT's run, refused when it is another run than this one."""
    last, last_train = out / "last.safetensors", out / "last.train.safetensors"
    train_tensors, train_meta = load_checkpoint(last_train)
    if train_meta.get("model") != name:
        raise CheckpointError(f"{last_train} holds a {train_meta.get('model')!r} run, not {name!r}; use another --out")
    if train_meta.get("weights"):
        weights = {k[len(WEIGHTS):]: v for k, v in train_tensors.items() if k.startswith(WEIGHTS)}
        saved = train_meta
    else:  # written before the weights moved in: last.safetensors must be of the same epoch
        weights, saved = load_checkpoint(last)
        if int(saved.get("epoch", -1)) != int(train_meta["epoch"]):
            raise CheckpointError(f"--resume: {last} is of epoch {saved.get('epoch')} but {last_train} of epoch "
                                  f"{train_meta['epoch']} (the run was killed between the two writes); train into "
                                  "another --out or with --overwrite")
    check_resume_identity(identity(saved, int(saved.get("world", 1))), identity(meta_now, world), last_train)
    return weights, train_tensors, train_meta
