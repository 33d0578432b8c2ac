"""Content hashes of a prepared dataset's files, re-computed only for files whose size or times changed."""

from __future__ import annotations

import json
import os
from pathlib import Path

from colorbench.atomic import atomic_write_text
from colorbench.checkpoints import file_sha256

STAT_CACHE_NAME = ".colorbench-stat.json"


class StatCache:
    """{path relative to `directory`: [size, mtime_ns, ctime_ns, sha256]} kept in DIRECTORY/.colorbench-stat.json.

    A file whose stat matches its entry is trusted to have the recorded hash; any other is hashed again. ctime
    joins size and mtime because tools that restore mtimes (`touch -r`, `rsync -t`, `cp -p`) still move it.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / STAT_CACHE_NAME
        self.dirty = False
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # none yet, or damaged: everything is hashed once more
            loaded = {}
        self.entries: dict[str, list] = loaded if isinstance(loaded, dict) else {}

    def sha256(self, path: Path) -> str:
        """sha256 of `path`'s bytes now (OSError if it cannot be read)."""
        st = os.stat(path)
        key = path.relative_to(self.directory).as_posix()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        entry = self.entries.get(key)
        if isinstance(entry, list) and len(entry) == 4 and entry[:3] == stamp:
            return str(entry[3])
        digest = file_sha256(path)
        self.entries[key] = [*stamp, digest]
        self.dirty = True
        return digest

    def save(self) -> None:
        """Write the cache if it changed; a read-only dataset folder just means hashing again next time."""
        if not self.dirty:
            return
        try:
            atomic_write_text(self.path, json.dumps(self.entries, sort_keys=True) + "\n")
            self.dirty = False
        except OSError:
            pass
