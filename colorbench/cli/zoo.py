"""`colorbench zoo build`: train every built-in model with one equal budget and export the shipped checkpoints."""

from __future__ import annotations

from pathlib import Path

import click

from colorbench.cli.flags import (
    device_flag,
    warn,
)
from colorbench.defaults import ZooBudget
from colorbench.progress import STDERR


@click.group()
def zoo() -> None:
    """The shipped checkpoints of the embedded default."""


@zoo.command("build")
@click.option("--models", default="all", show_default=True)
@click.option("--dataset", default="toon", show_default=True)
@click.option("--epochs", default=ZooBudget.epochs, show_default=True)
@click.option("--limit", default=ZooBudget.limit, show_default=True, help="Training images per epoch.")
@click.option("--lr", default=ZooBudget.lr, show_default=True, help="One learning rate for every model.")
@click.option("--size", default=ZooBudget.size, show_default=True)
@click.option("--width", default=ZooBudget.width, show_default=True)
@click.option("--batch-size", default=ZooBudget.batch_size, show_default=True)
@click.option("--threads", default=ZooBudget.threads, show_default=True, type=click.IntRange(min=1),
              help="Torch intra-op threads per model (the shipped checkpoints': 1).")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(min=1),
              help="Models trained at once, each in its own process with --threads threads: about 1/jobs of "
                   "the time given jobs × threads cores.")
@click.option("--work-dir", type=click.Path(file_okay=False), default="runs/zoo", show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Export here instead of into the package's zoo (e.g. to compare a rebuild with the shipped files).")
@click.option("--seed", default=ZooBudget.seed, show_default=True,
              help="Training seed (the shipped checkpoints': 0). Other seeds, exported with --out, are what a "
                   "pooled gate baseline measures the seed spread from (docs/gate.md).")
@click.option("--device", default="cpu", show_default=True, callback=device_flag)
def zoo_build(models: str, dataset: str, epochs: int, limit: int, lr: float, size: int, width: float,
              batch_size: int, threads: int, jobs: int, work_dir: str, out: str | None, seed: int,
              device: str) -> None:
    """Train every model with one equal budget and export the shipped checkpoints (resumable)."""
    from colorbench.evaluation.variants import ZOO_DIR
    from colorbench.registry import resolve_model_names
    from colorbench.training.zoo_build import ZooBuildError, build_zoo

    budget = ZooBudget(dataset=dataset, size=size, width=width, epochs=epochs, limit=limit, batch_size=batch_size,
                       lr=lr, seed=seed, threads=threads)
    STDERR.print(f"budget: {budget.describe()}")
    try:
        build_zoo(resolve_model_names(models, warn), budget, Path(work_dir), device=device, log=STDERR.print, jobs=jobs,
                  out_dir=Path(out) if out else ZOO_DIR)
    except ZooBuildError as exc:
        raise click.ClickException(str(exc)) from exc
