"""The listings of the registries: `colorbench models`, `metrics`, `datasets` and `protocols`, printed on
stdout (they are the command's output, so they can be piped)."""

from __future__ import annotations

import sys
from typing import Any

import click


def _print_listing(table: Any) -> None:
    """A listing is the command's output, not progress: stdout, so `colorbench models | grep rtug` works."""
    from rich.console import Console

    # Into a pipe, rows stay whole: rich would otherwise squeeze them into 80 columns and cut cells with "…".
    Console(width=None if sys.stdout.isatty() else 4096).print(table)


@click.command()
@click.option("-v", "--verbose", is_flag=True, help="Show origin, aliases and config options.")
def models(verbose: bool) -> None:
    """List registered models."""
    from rich.table import Table

    from colorbench.registry import MODELS

    table = Table("name", "aliases", "hints", "labels", *(["origin", "config"] if verbose else []))
    for name in MODELS.names():
        try:
            cls = MODELS.get(name)
        except Exception as exc:  # noqa: BLE001 — a broken plugin still shows up, with its problem
            table.add_row(name, "", "?", f"[red]{exc}[/red]")
            continue
        extra = [MODELS.origin(name), ", ".join(f"{k}={v}" for k, v in cls.default_config().items())] if verbose else []
        table.add_row(name, ", ".join(MODELS.aliases_of(name)), cls.hint_kind.value, ", ".join(cls.labels), *extra)
    _print_listing(table)


@click.command()
def metrics() -> None:
    """List registered metrics: their record columns, direction, and whether they need weights."""
    from rich.markup import escape
    from rich.table import Table

    from colorbench.metrics.registry import DEFAULT_METRICS, METRICS

    table = Table("name", "columns", "better", "kind", "weights", "default", "origin", "description")
    arrows = {True: "higher", False: "lower", None: "none"}
    for name in METRICS.names():
        try:
            m = METRICS.get(name)
        except Exception as exc:  # noqa: BLE001 — a broken plugin still shows up, with its problem
            table.add_row(name, "", "?", "", "", "", METRICS.origin(name), f"[red]{exc}[/red]")
            continue
        table.add_row(name, ", ".join(m.columns), ", ".join(arrows[h] for h in m.higher_is_better),
                      "dataset" if m.dataset_level else "per image", "needs weights" if m.needs_weights else "",
                      "yes" if name in DEFAULT_METRICS else "", METRICS.origin(name), escape(m.description))
    _print_listing(table)


@click.command()
def datasets() -> None:
    """List synthetic datasets and known dataset names (with their NRI thresholds)."""
    from rich.table import Table

    from colorbench.registry import DATASETS

    table = Table("name", "kind", "NRI threshold (dB)")
    for name in DATASETS.names():
        cls = DATASETS.get(name)
        kind = getattr(cls, "kind", None) or ("folder" if getattr(cls, "folder", False) else "synthetic")
        table.add_row(name, kind, f"{cls.nri_threshold:g}")
    try:
        from colorbench.data import known_thresholds

        for name, thr in sorted(known_thresholds().items()):
            if name not in DATASETS.names():
                table.add_row(name, "prepare with `colorbench prepare`", f"{thr:g}")
    except ImportError:
        pass
    _print_listing(table)


@click.command()
def protocols() -> None:
    """List registered protocols and the record modes they need."""
    from rich.table import Table

    from colorbench.registry import PROTOCOLS

    table = Table("name", "modes", "title")
    for name in PROTOCOLS.names():
        cls = PROTOCOLS.get(name)
        table.add_row(name, ",".join(cls.modes), cls.title)
    _print_listing(table)
