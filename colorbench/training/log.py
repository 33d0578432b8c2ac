"""What a training run shows while it runs and leaves behind (rank 0 only): TensorBoard event files, one plain
line per epoch for logs, OUT/training.csv (one row per epoch) and the OUT/training.png curves at the end."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from colorbench.atomic import atomic_write, atomic_write_text

TB_DIR = "tensorboard"


def best_epoch(history: list[dict[str, float]]) -> dict[str, float] | None:
    """The history row `best.safetensors` was saved at: the first epoch with the highest validation PSNR."""
    rows = [r for r in history if math.isfinite(r.get("val_psnr", math.nan))]
    return max(rows, key=lambda r: r["val_psnr"]) if rows else None


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


class TrainLog:
    """Per-step and per-epoch scalars of one run into OUT/tensorboard (torch.utils.tensorboard's SummaryWriter).

    `resume_step`: the first step a resumed run logs (steps are counted from 1); events a killed run wrote from
    it on are purged, so the curves never show the replayed steps twice.
    """

    def __init__(self, out: Path, resume_step: int | None, log: Callable[[str], None], lines: bool) -> None:
        from torch.utils.tensorboard import SummaryWriter  # lazily: tensorboard is only needed while training

        self.out, self.log, self.lines = out, log, lines
        self.writer = SummaryWriter(str(out / TB_DIR), purge_step=resume_step)

    def step(self, step: int, losses: dict[str, float], lrs: dict[str, float], images_per_s: float) -> None:
        """One optimizer step: every value train_step returned, each optimizer's lr and the global throughput."""
        for key, value in losses.items():
            self.writer.add_scalar(f"train/{key}", value, step)
        for key, value in lrs.items():
            self.writer.add_scalar(f"lr/{key}", value, step)
        self.writer.add_scalar("throughput/images_per_s", images_per_s, step)

    def epoch(self, row: dict[str, Any], epochs: int, total_steps: int, seconds_left: float) -> None:
        """One finished epoch (a history row): validation PSNR into TensorBoard, a plain line when asked."""
        self.writer.add_scalar("val/psnr", row["val_psnr"], row["step"])
        self.writer.flush()
        if self.lines:
            terms = " ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch", "step", "val_psnr", "lr",
                                                                                  "images_per_s", "seconds"))
            self.log(f"epoch {row['epoch']}/{epochs} step {row['step']}/{total_steps}: {terms}; val PSNR "
                     f"{row['val_psnr']:.2f} dB; {row['images_per_s']:.1f} img/s; ETA {_duration(seconds_left)}")

    def close(self) -> None:
        self.writer.close()


def write_csv(path: Path, history: list[dict[str, Any]]) -> None:
    """OUT/training.csv: one row per epoch, every column any epoch has (rewritten whole: a resume continues it)."""
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, buf.getvalue())


def plot_history(path: Path, history: list[dict[str, Any]], title: str) -> None:
    """OUT/training.png: validation PSNR (best epoch marked), the loss terms, and any other logged value
    (GuidingPainter's regions per image and τ, RTUG's hinted pixels), each against the epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in history]
    skip = {"epoch", "step", "val_psnr", "images_per_s", "seconds"}
    keys = [k for k in history[-1] if k not in skip and not k.startswith("lr_")]
    losses = [k for k in keys if k.startswith("loss")]
    others = [k for k in keys if k not in losses]
    panels = 2 + bool(others)
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 3.6), constrained_layout=True)
    ax = axes[0]
    ax.plot(epochs, [r["val_psnr"] for r in history], marker="o", ms=3)
    best = best_epoch(history)
    if best is not None:
        ax.plot([best["epoch"]], [best["val_psnr"]], marker="*", ms=12, color="tab:red", ls="none",
                label=f"best: epoch {best['epoch']}, {best['val_psnr']:.2f} dB")
        ax.legend(loc="lower right", fontsize=8)
    ax.set(xlabel="epoch", ylabel="validation PSNR (dB)", title="validation")
    ax = axes[1]
    for key in losses:
        values = [r.get(key, math.nan) for r in history]
        if any(v > 0 for v in values):
            ax.plot(epochs, values, label=key)
    ax.set(xlabel="epoch", ylabel="epoch mean (unweighted)", title="losses", yscale="log")
    ax.legend(fontsize=8)
    if others:
        ax = axes[2]
        for key in others:
            ax.plot(epochs, [r.get(key, math.nan) for r in history], label=key)
        ax.set(xlabel="epoch", title="other logged values")
        ax.legend(fontsize=8)
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    fig.suptitle(title)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
