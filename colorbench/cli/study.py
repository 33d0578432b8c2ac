"""`colorbench study serve` and `colorbench study report`: the human study's two commands (click).

Heavy imports (torch, the web server) wait until a command runs, so `colorbench --help` stays fast.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from pathlib import Path

import click

from colorbench.errors import UsageError
from colorbench.progress import STDERR
from colorbench.study.design import PARTICIPANT_ID


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
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 takes a free one (printed).")
@click.option("--size", default=64, show_default=True, type=int, help="Image size (px) the models run at.")
@click.option("--limit", default=12, show_default=True, type=click.IntRange(min=1), help="Test images in the study.")
@click.option("--images-per-model", default=3, show_default=True, type=click.IntRange(min=1),
              help="Images each participant colorizes with each model (the paper: 3).")
@click.option("--participants", default=None, metavar="N|ID,ID,...",
              help="Enrol participants at start: a count (P01..PN) or a list of ids; more from the organiser's page.")
@click.option("--rank-tasks", default=10, show_default=True, type=click.IntRange(min=1),
              help="Ranking tasks (Table 6) each participant does on /rank.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="A host name participants reach the server by (repeatable); others are refused (DNS rebinding).")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, envvar="COLORBENCH_DATA")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1), help="torch CPU threads.")
def serve(models: str, dataset: str, checkpoints: tuple[str, ...], rank_models: str | None, db: str, host: str,
          port: int, size: int, limit: int, images_per_model: int, participants: str | None, rank_tasks: int,
          allowed_hosts: tuple[str, ...], data_root: str | None, threads: int) -> None:
    """Serve the study page at http://HOST:PORT/?p=ID (ranking at /rank, organiser at /organiser) until Ctrl-C."""
    from colorbench.study.db import require_folder

    ids = _participant_ids(participants)
    require_folder(db)
    sock = _bind(host, port)  # before anything is loaded or created: a port in use leaves no empty database
    try:
        import torch
        import uvicorn

        from colorbench.study.app import create_app, host_name
        from colorbench.study.backend import StudyModels
        from colorbench.study.db import Store

        torch.set_num_threads(threads)
        backend = StudyModels(_names(models), dataset, list(checkpoints), size=size, limit=limit,
                              data_root=data_root, rank_models=_names(rank_models if rank_models is not None
                                                                      else models))
        store = Store(db)
        try:
            hosts = list(allowed_hosts) + ([] if _is_loopback(host) or host in ("0.0.0.0", "::")
                                           else [host]) + _own_names(host)
            app = create_app(backend, store, images_per_model, allowed_hosts=hosts, rank_tasks=rank_tasks)
            study = app.state.study
            study.enrol(ids)
            real_port = sock.getsockname()[1]
            shown = host if host not in ("0.0.0.0", "::") else socket.gethostname()
            base = f"http://{host_name(shown)}:{real_port}"
            if not _is_loopback(host):
                STDERR.print(f"[yellow]warning: serving on {host}: anyone who can reach this address and knows a "
                             "participant id can take part (and write to the database)[/yellow]")
            if study.design.blocks < len(study.design.models):
                STDERR.print(f"[yellow]warning: {len(backend.image_ids)} images cut into {study.design.blocks} "
                             f"block(s) of {study.images_per_model} for {len(study.design.models)} models: "
                             "participants colorize the same sketch with more than one model (raise --limit or "
                             "lower --images-per-model)[/yellow]")
            enrolled = store.participant_ids()
            STDERR.print(f"study of {', '.join(backend.interactive)} on {backend.dataset.name} "
                         f"({len(backend.image_ids)} images, {study.images_per_model} per model; balanced in groups "
                         f"of {study.design.period} participants)  ·  database: {db}\n"
                         f"participants ({len(enrolled)}): {base}/?p=ID  ·  ranking: {base}/rank?p=ID\n"
                         f"organiser: {base}/organiser?key={study.organiser_key}",
                         markup=False, soft_wrap=True)
            server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
            server.run(sockets=[sock])
        finally:
            store.close()
    finally:
        sock.close()


def _participant_ids(value: str | None) -> list[str]:
    """--participants: N → P01..PN, else the comma-separated ids (checked by the server)."""
    if value is None:
        return []
    if value.strip().isdigit():
        n = int(value)
        return [f"P{i:0{max(2, len(str(n)))}d}" for i in range(1, n + 1)]
    ids = _names(value)
    bad = [i for i in ids if not PARTICIPANT_ID.fullmatch(i)]
    if bad or not ids:
        raise UsageError(f"--participants {value}: give a count or ids of 1-32 letters, digits, '-' or '_'")
    return ids


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket (UsageError naming --port/--host when it cannot be had); port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        what = "is in use (another server? choose another --port, or 0 for a free one)" \
            if exc.errno == errno.EADDRINUSE else f"cannot be bound: {exc.strerror}"
        raise UsageError(f"--host {host} --port {port}: {host}:{port} {what}") from exc
    sock.listen(128)  # connections made before uvicorn starts wait in the backlog instead of being refused
    sock.set_inheritable(True)
    return sock


def _own_names(host: str) -> list[str]:
    """The machine's names when serving beyond loopback (participants type one of them)."""
    if _is_loopback(host):
        return []
    names = [socket.gethostname(), socket.getfqdn()]
    try:
        names += socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:  # no resolvable name: the names alone, and --allowed-host
        pass
    return list(dict.fromkeys(names))


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
