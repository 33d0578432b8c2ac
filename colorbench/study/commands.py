"""`colorbench study serve` and `colorbench study report`: the human study's two commands (click).

Heavy imports (torch, the web server) wait until a command runs, so `colorbench --help` stays fast.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from colorbench.progress import STDERR


def _names(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@click.group()
def study() -> None:
    """The human study of paper §4.4 / supplement E: a colorization page that records TPI, QS and CS."""


@study.command()
@click.option("--models", default="ours,rtug", show_default=True, help="Models participants colorize with.")
@click.option("--dataset", default="toon", show_default=True, help="toon, snail, or a prepared dataset name.")
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="NAME[@TAG]=PATH",
              help="A checkpoint instead of the shipped one (repeatable), as in `colorbench run`.")
@click.option("--rank-models", default=None, help="Models of the ranking page (Table 6) [default: --models].")
@click.option("--db", default="study.db", show_default=True,
              help="SQLite file, or a database URL (e.g. postgresql://host/study) for a shared server.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; localhost only by default.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--size", default=64, show_default=True, type=int, help="Image size (px) the models run at.")
@click.option("--limit", default=12, show_default=True, type=click.IntRange(min=1), help="Test images in the study.")
@click.option("--images-per-model", default=3, show_default=True, type=click.IntRange(min=1),
              help="Images each participant colorizes with each model (the paper: 3).")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, envvar="COLORBENCH_DATA")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1), help="torch CPU threads.")
def serve(models: str, dataset: str, checkpoints: tuple[str, ...], rank_models: str | None, db: str, host: str,
          port: int, size: int, limit: int, images_per_model: int, data_root: str | None, threads: int) -> None:
    """Serve the study page at http://HOST:PORT/ (ranking page at /rank) until Ctrl-C."""
    import torch
    import uvicorn

    from colorbench.study.app import create_app
    from colorbench.study.backend import StudyModels
    from colorbench.study.db import Store

    torch.set_num_threads(threads)
    backend = StudyModels(_names(models), dataset, list(checkpoints), size=size, limit=limit, data_root=data_root,
                          rank_models=_names(rank_models if rank_models is not None else models))
    store = Store(db)
    if not _is_loopback(host):
        STDERR.print(f"[yellow]warning: serving on {host}: anyone who can reach this address can take part "
                     "(and write to the database)[/yellow]")
    STDERR.print(f"study of {', '.join(backend.interactive)} on {backend.dataset.name} "
                 f"({len(backend.image_ids)} images): http://{host}:{port}/  ·  ranking: http://{host}:{port}/rank  "
                 f"·  database: {db}", markup=False, soft_wrap=True)
    try:
        uvicorn.run(create_app(backend, store, images_per_model), host=host, port=port, log_level="warning")
    finally:
        store.close()


@study.command()
@click.argument("db")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder of table2.md/.csv/.png and table6.md/.csv [default: DB's folder/study-report].")
def report(db: str, out: str | None) -> None:
    """Render Table 2 (TPI, QS, CS, time per image) and Table 6 (rankings) from a study database."""
    from colorbench.study.report import write_report

    folder = Path(out) if out else (Path(db).expanduser().resolve().parent / "study-report" if "://" not in db
                                    else Path("study-report"))
    tables = write_report(db, folder)
    click.echo(tables["table2"])
    if tables["table6"]:
        click.echo(tables["table6"])
    STDERR.print(f"written to {folder}", markup=False)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
