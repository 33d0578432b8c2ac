"""Run the registered protocols over a run directory's records (never over models).

`compute_all` reads records.csv + run.json once and runs every protocol whose record modes are present;
`required_modes` tells the engine which modes a set of protocols needs.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from colorbench.errors import UsageError
from colorbench.evaluation.records import mode_family, read_records
from colorbench.evaluation.rundir import check_records, read_run
from colorbench.protocols.base import Protocol, ProtocolContext
from colorbench.protocols.options import resolve_options
from colorbench.registry import PROTOCOLS


class RunDirError(UsageError, FileNotFoundError):
    """The directory is not a finished colorbench run (records.csv / run.json missing)."""


def load_run(run_dir: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(records, parsed run.json) of a run directory, both checked (colorbench.evaluation.rundir); raises RunDirError
    saying what to do when either is missing."""
    run_dir = Path(run_dir)
    for name in ("records.csv", "run.json"):
        if not (run_dir / name).is_file():
            raise RunDirError(
                f"{run_dir} is not a colorbench run directory (no {name}); "
                f"run `colorbench run --out {run_dir} …` first"
            )
    run = read_run(run_dir)
    return check_records(read_records(run_dir / "records.csv"), run, run_dir / "records.csv"), run


def get_protocol(name: str) -> Protocol:
    """The registered protocol `name`, instantiated."""
    target = PROTOCOLS.get(name)
    return target() if isinstance(target, type) else target


def required_modes(names: Iterable[str] | None = None) -> set[str]:
    """Union of the record modes the named protocols (default: all registered) need."""
    out: set[str] = set()
    for name in names if names is not None else PROTOCOLS.names():
        out |= set(getattr(PROTOCOLS.get(name), "modes", ("native",)))
    return out


def compute_all(
    run_dir: str | Path, names: Iterable[str] | None = None, options: Mapping[str, Any] | None = None,
    loaded: tuple[pd.DataFrame, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """{"results": {protocol: result}, "skipped": {protocol: reason}, "options": resolved options}.

    With `names=None` every registered protocol runs whose modes the records have; one that cannot be
    imported is skipped with a warning. Protocols named explicitly must load and have their modes.
    `loaded`: the directory's `load_run` result when the caller already has it (read once per report).
    """
    run_dir = Path(run_dir)
    records, run = loaded or load_run(run_dir)
    opts = resolve_options(options)
    ctx = ProtocolContext(run_dir=run_dir, run=run, options=opts)
    present = {mode_family(m) for m in set(records["mode"])} | set(records["mode"])  # "policies/area" → policies
    explicit = names is not None
    if not explicit and not PROTOCOLS.names():
        raise UsageError(
            "no protocols are registered (entry-point group colorbench.protocols is empty): the installed "
            "metadata predates pyproject.toml — reinstall with `pip install -e .`"
        )
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in sorted(names) if explicit else PROTOCOLS.names():
        try:
            protocol = get_protocol(name)
        except Exception as exc:
            if explicit:
                raise
            warnings.warn(f"protocol {name!r} could not be loaded and is skipped: {exc}", stacklevel=2)
            skipped[name] = f"could not be loaded: {exc}"
            continue
        missing = sorted(set(protocol.modes) - present)
        if missing:
            reason = (
                f"needs record modes {', '.join(missing)}; rerun `colorbench run` with --modes including them"
            )
            if explicit:
                raise UsageError(f"protocol {name!r} {reason}")
            skipped[name] = reason
            continue
        try:
            results[name] = protocol.compute(records, ctx)
        except UsageError:
            raise  # a bad option (--compare, --paper-rows …) keeps its own one-line message
        except Exception as exc:
            raise RuntimeError(f"protocol {name!r} failed on {run_dir}: {exc}") from exc
    return {"results": results, "skipped": skipped, "options": opts}
