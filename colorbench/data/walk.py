"""The source folder as `prepare` sees it: every file once, folder links followed once (no loop), hidden files
counted, and file names that are not valid UTF-8 turned into printable ids instead of crashing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Walk:
    """What a walk of one folder found; every entry it saw is in exactly one list."""

    files: list[Path] = field(default_factory=list)  # non-hidden files, sorted
    hidden: list[Path] = field(default_factory=list)  # dot-files and dot-folders (.DS_Store, .git): not read
    linked: list[tuple[Path, Path]] = field(default_factory=list)  # (folder link, its target) followed
    repeated: list[tuple[Path, Path]] = field(default_factory=list)  # (folder link, target) already read: not again
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # (folder, why) that could not be listed

    @property
    def n_seen(self) -> int:
        return len(self.files) + len(self.hidden) + len(self.unreadable)


def walk(root: Path) -> Walk:
    """Every file under `root`, sorted. Links to folders are followed, each real folder is read once: a link
    back to a parent (a loop) or a second link to a folder already read is listed in `repeated`, not read."""
    out = Walk()
    seen = {_identity(root)}

    def unreadable(exc: OSError) -> None:
        out.unreadable.append((Path(exc.filename), exc.strerror or str(exc)))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=True):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            path = here / d
            if d.startswith("."):
                out.hidden.append(path)
                continue
            try:
                ident = _identity(path)
            except OSError:  # gone since it was listed, or not stat-able: `prepare` skips it as a file, with why
                out.files.append(path)
                continue
            if ident in seen:
                out.repeated.append((path, path.resolve()))
                continue
            seen.add(ident)
            if path.is_symlink():
                out.linked.append((path, path.resolve()))
            keep.append(d)
        dirnames[:] = keep
        for f in filenames:
            (out.hidden if f.startswith(".") else out.files).append(here / f)
    out.files.sort()
    out.hidden.sort()
    return out


def _identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)  # follows links: two paths to one folder have one identity
    return st.st_dev, st.st_ino


def printable(text: str | Path) -> str:
    """`text` (a path or a file stem) as a valid str: a file name whose bytes are not UTF-8 (made on a Latin-1
    system, or unpacked from an old zip) reaches Python as lone surrogates, which cannot be printed, hashed as
    UTF-8 or written to JSON; its undecodable bytes become \\xNN escapes, so the name stays readable and unique."""
    return os.fsencode(text).decode("utf-8", errors="backslashreplace")
