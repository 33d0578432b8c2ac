"""Atomic file writes (temp file + fsync + rename): readers never see a half-written file.

Torch-free on purpose, so reports and protocols can write without importing torch.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def atomic_write(path: str | Path, write: Any) -> None:
    """Call write(tmp_path), fsync, then rename over `path`: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{writer_tag()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            # mkstemp makes the file 0600; the result gets the mode any new file gets here (0644 under umask 022),
            # so a shared results folder stays readable by the group and others the umask allows.
            os.fchmod(fh.fileno(), 0o666 & ~current_umask())
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def current_umask() -> int:
    """This process's umask, read without changing it (/proc on Linux); elsewhere set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def writer_tag() -> str:
    """host-pid of this process, put into temp names so that `sweep_stale` can tell a live writer's files
    (keep) from those of a killed one (remove)."""
    return f"{socket.gethostname().replace('.', '_')}-{os.getpid()}"


_TAG = re.compile(r"\.(?P<host>[^.]+)-(?P<pid>\d+)\.[^.]*\.(tmp|partial)$")


def sweep_stale(folder: str | Path, pattern: str = "**/.*.tmp") -> list[Path]:
    """Remove temp files (or `.partial` folders) under `folder` left by writers of this host that are no longer
    running (kill -9); → what was removed. Files of live processes, of other hosts and of unknown names stay."""
    removed = []
    host = socket.gethostname().replace(".", "_")
    for path in Path(folder).glob(pattern):
        m = _TAG.search(path.name)
        if m is None or m["host"] != host or _alive(int(m["pid"])):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


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


@contextmanager
def scratch_dir(prefix: str, suffix: str = "") -> Iterator[Path]:
    """A temporary folder removed on exit, also when Ctrl-C or SIGTERM lands while it is being created.

    tempfile.TemporaryDirectory leaks its folder if the signal arrives between mkdir and its cleanup being
    armed; here both signals are held back (and delivered inside the `try`) until the path is known.
    """
    held = {signal.SIGINT, signal.SIGTERM}
    main = threading.current_thread() is threading.main_thread()  # signal masks are per thread; only main gets them
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held) if main else None
    path: Path | None = None
    try:
        path = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix))
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        yield path
    finally:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)
