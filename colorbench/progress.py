"""Rich progress bars on stderr (stdout stays free for --json), disabled cleanly when not wanted."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

STDERR = Console(stderr=True)


def make_progress(enabled: bool = True) -> Progress:
    """A Progress with an `info` field; invisible when disabled or when stderr is not a terminal in CI."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=STDERR,
        disable=not enabled,
        transient=False,
        refresh_per_second=4 if sys.stderr.isatty() else 0.2,
    )
