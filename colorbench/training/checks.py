"""What `colorbench train` refuses before its first step: bad flag values, an --out it would overwrite, a
resume without its state or of another run. Each refusal is a UsageError (one line, exit 2) naming the flag."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from colorbench.errors import UsageError

# Everything a run writes into --out; `--overwrite` removes exactly these (and nothing else the folder holds).
RUN_FILES = ("last.safetensors", "last.train.safetensors", "best.safetensors", "history.json", "training.csv",
             "training.png")
RUN_DIRS = ("tensorboard",)


def _whole(value: Any, flag: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UsageError(f"{flag} {value!r}: must be a whole number >= {low}")


def _real(value: Any, flag: str, inside: Callable[[float], bool], where: str) -> None:
    """`value` a finite number for which `inside` holds (`where` says the range in the message)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and inside(value)):
        raise UsageError(f"{flag} {value!r}: must be a finite number {where}")


def validate_train_config(cfg: Any) -> None:
    """Every TrainConfig value in range (the model's own config keys are checked when it is built)."""
    _whole(cfg.epochs, "--epochs", 1)
    _whole(cfg.size, "--size", 16)
    _whole(cfg.batch_size, "--batch-size", 1)
    _whole(cfg.seed, "--seed", 0)
    _whole(cfg.val_limit, "--val-limit", 1)
    _whole(cfg.num_workers, "num_workers", 0)
    if cfg.limit is not None:
        _whole(cfg.limit, "--limit", 1)
    if cfg.threads is not None:
        _whole(cfg.threads, "--threads", 1)
    if cfg.lr is not None:
        _real(cfg.lr, "--lr", lambda v: v > 0, "> 0")
    if cfg.beta1 is not None:
        _real(cfg.beta1, "--beta1", lambda v: 0 <= v < 1, "in [0, 1)")
    for beta in cfg.betas or ():
        _real(beta, "betas", lambda v: 0 <= v < 1, "in [0, 1)")


def check_out_dir(out: Path, resume: bool, overwrite: bool) -> None:
    """--resume needs OUT/last.train.safetensors; without --resume an OUT holding a run needs --overwrite."""
    if resume and overwrite:
        raise UsageError("--resume and --overwrite contradict each other: continue the run in --out or replace it")
    if resume:
        if not (out / "last.train.safetensors").is_file():
            raise UsageError(f"--resume: {out} has no last.train.safetensors to continue from; train without --resume "
                             "(add --overwrite if the folder holds files of another run)")
        return
    found = [name for name in (*RUN_FILES, *RUN_DIRS) if (out / name).exists()]
    if found and not overwrite:
        raise UsageError(f"--out {out} already holds a training run ({', '.join(found)}): add --resume to continue "
                         "it or --overwrite to replace it")


def clear_run(out: Path) -> None:
    """Remove a previous run's files (`--overwrite`): its best checkpoint must never be named this run's."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for name in RUN_DIRS:
        shutil.rmtree(out / name, ignore_errors=True)


def identity(meta: dict[str, Any], world: int) -> dict[str, Any]:
    """What a resumed run must share with the saved one, keyed by the flag that sets it: the data (the
    validation scores `best` compares come from it), the model and the optimisation (global batch, lr)."""
    train = meta.get("train", {})
    out = {"--dataset": meta.get("dataset"), "--size": meta.get("size"), "--limit": train.get("limit"),
           "--val-limit": train.get("val_limit"), "--seed": train.get("seed"), "--lr": train.get("lr"),
           "--beta1": (train.get("betas") or [None])[0],
           # --batch-size is per process: the global batch is what the run trained with.
           "--batch-size × processes": train.get("batch_size", 0) * int(meta.get("world", 1)),
           "the dataset's files": meta.get("dataset_fingerprint")}
    out |= {f"--{k.replace('_', '-')}": v for k, v in (meta.get("config") or {}).items()}
    return out


def check_resume_identity(saved: dict[str, Any], now: dict[str, Any], source: Path) -> None:
    """Refuse a resume whose training identity (`identity`) differs from the run saved in `source`."""
    for key, was in saved.items():
        if key in now and now[key] != was:
            if key == "the dataset's files":
                raise UsageError(f"--resume: the files of this dataset changed since {source} was written; "
                                 "train into another --out")
            raise UsageError(f"--resume: {source} was trained with {key} {was}, not {now[key]}; resume with the "
                             "same flags or train into another --out")


def resume_if_possible(out: Path) -> dict[str, bool]:
    """train_model's resume/overwrite for callers that continue a run where there is one and otherwise start
    afresh (the zoo build, the snail experiment): files of a run killed before its first resume state go."""
    resumable = (out / "last.train.safetensors").is_file()
    return {"resume": resumable, "overwrite": not resumable}
