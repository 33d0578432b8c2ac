"""`colorbench snail`: the Dark Snail experiment of paper §4.5 (Fig. 4)."""

from __future__ import annotations

import click

from colorbench.cli.flags import (
    csv_ints,
    device_flag,
)
from colorbench.progress import STDERR


@click.command()
@click.option("--out", type=click.Path(file_okay=False), default="results/snail", show_default=True)
@click.option("--epochs", default=16, show_default=True)
@click.option("--size", default=64, show_default=True)
@click.option("--width", type=float, default=0.125, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Learning rate (the paper's 2e-4 needs far more steps).")
@click.option("--train-limit", type=int, default=1024, show_default=True, help="Training images per epoch.")
@click.option("--k", default=8, show_default=True, help="Regions shown in the Fig. 4 picture.")
@click.option("--lambda-smth", type=float, default=0.0, show_default=True,
              help="Smoothness loss weight for both variants (paper: 1; at 64 px it merges every piece after the "
                   "first into one or two late regions, docs/dark-snail.md).")
@click.option("--lambda-tv", type=float, default=5.0, show_default=True,
              help="Total-variance loss weight, Eq. (11), for both variants (paper: 5).")
@click.option("--device", default="cpu", show_default=True, callback=device_flag)
@click.option("--seed", default=0, show_default=True)
@click.option("--seeds", default=None, help="Several seeds, e.g. 0,1,2: one run each in OUT/seed-N and the spread "
                                             "over seeds in OUT/seeds.json (one run of this toy is one draw).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Torch intra-op threads [torch's default]; the trained regions depend on it (docs/dark-snail.md).")
def snail(out: str, epochs: int, size: int, width: float, lr: float, train_limit: int, k: int, lambda_smth: float,
          lambda_tv: float, device: str, seed: int, seeds: str | None, threads: int | None) -> None:
    """Dark Snail experiment of paper Fig 4: does GuidingPainter ask for large regions first?

    Trains GuidingPainter and a fixed-Nh control on `snail` and reports region order vs object size."""
    from colorbench.experiments.snail import run_snail_experiment, run_snail_seeds

    common = {"epochs": epochs, "size": size, "width": width, "k": k, "device": device, "lr": lr,
              "train_limit": train_limit, "lambda_smth": lambda_smth, "lambda_tv": lambda_tv,
              "progress": True, "threads": threads}
    if seeds:
        result = run_snail_seeds(out, csv_ints(seeds), **common)
        STDERR.print_json(data=result["variants"])
        return
    result = run_snail_experiment(out, seed=seed, **common)
    STDERR.print_json(data=result.get("summary", result))
