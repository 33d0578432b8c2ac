"""Atomic file writes (temp file + fsync + rename): readers never see a half-written file.

Torch-free on purpose, so reports and protocols can write without importing torch.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write(path: str | Path, write: Any) -> None:
    """Call write(tmp_path), fsync, then rename over `path`: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: str | Path, text: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    atomic_write(path, write)


def run_lock(out: str | Path) -> Any:
    """An exclusive lock on the run directory (OUT/.colorbench.lock) for the steps that rewrite its shared
    files (merge, report): concurrent runs into one OUT take turns there; chunk computing stays parallel.
    flock-based, so a killed holder releases it at once."""
    from filelock import FileLock

    Path(out).mkdir(parents=True, exist_ok=True)
    return FileLock(str(Path(out) / ".colorbench.lock"))
