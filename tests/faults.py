"""Fault injection for tests/test_faults.py and benchmarks/soak_interrupt.py: `colorbench` commands interrupted at
chosen points, and the checks that follow (exit code, litter, records equal to a clean run's).

A `ForkServer` is one Python process that imports the CLI, the runner and the report once, then forks one child
per command (a tiny `run` then costs ~1 s instead of ~6 s of imports on a loaded 2-core machine). Each child is
a real process running `colorbench.cli.main` with the signal dispositions of a terminal's foreground job; its
`Fault` sends it a signal at a chosen point: just before or just after its k-th rename (every atomic write and
every folder move ends in one: the moments where a half-done state could be left), or after a delay.

    python -m tests.faults     # the server (stdin/stdout JSON lines); started by ForkServer
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .plugin_fixture import REPO_ROOT, plugin_env

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}  # SIGKILL: as Popen says
LITTER = ("**/.*.tmp", "**/*.partial", "**/.*.old-*")  # temp files, staging folders, an old dataset moved aside


@dataclass
class Fault:
    """Send `signal` to the child at its `rename`-th rename (`after`: once it is done), or `delay` s after start.
    signal 0: no fault (a clean run); `count_to`: write the number of renames the child made to this file."""

    signal: int = 0
    rename: int = 0
    after: bool = False
    delay: float = 0.0
    count_to: str = ""


class ForkServer:
    """The server process (see the module docstring); `start` → pid, `wait(pid)` → exit code (−signal if killed)."""

    def __init__(self, warm: Path | None = None, env: dict[str, str] | None = None) -> None:
        """`warm`: a folder for one tiny `run` in the server itself before any fork, so that the children find
        matplotlib's fonts, the lazy imports and the protocol registry ready (a first report costs ~4 s)."""
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.faults"], cwd=REPO_ROOT, env=env or plugin_env(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self._ask({"op": "ping"})  # the imports are done
        if warm is not None:
            warm.mkdir(parents=True, exist_ok=True)
            tiny = ["--dataset", "toon", "--limit", "1", "--size", "32", "--no-fid"]
            for k, args in enumerate((["run", "--models", "floor", *tiny, "--quiet", "--modes", "native", "--sweep",
                                       "2", "--samples", "1", "--out", str(warm / "run")],
                                      ["check", "--model", "rtug", *tiny, "--update-reference", "--reference",
                                       str(warm / "baseline.json")])):
                log = warm / f"warm-{k}.log"
                rc = int(self._ask({"op": "warm", "args": args, "log": str(log)})["rc"])
                assert rc == 0, log.read_text()[-3000:]

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the fork server died (exit {self.proc.wait()})")
        return json.loads(line)

    def start(self, args: list[str], log: Path, fault: Fault | None = None, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> int:
        """Fork a child running `colorbench ARGS` (stdout and stderr into `log`); → its pid."""
        return int(self._ask({"op": "start", "args": args, "log": str(log), "fault": asdict(fault or Fault()),
                              "cwd": str(cwd or log.parent), "env": env or {}})["pid"])

    def wait(self, pid: int) -> int:
        return int(self._ask({"op": "wait", "pid": pid})["rc"])

    def run(self, args: list[str], log: Path, fault: Fault | None = None, **kw: Any) -> int:
        return self.wait(self.start(args, log, fault, **kw))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(timeout=30)


def load_whole(path: Path) -> None:
    """Open a result file the way its readers do; raises on a truncated or corrupt file."""
    import numpy as np
    import pandas as pd
    from PIL import Image

    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            for key in z.files:
                z[key]
    elif path.suffix == ".csv":
        pd.read_csv(path)
    elif path.suffix == ".json":
        json.loads(path.read_text())
    elif path.suffix == ".png":
        with Image.open(path) as im:
            im.load()


def litter(*folders: Path) -> list[Path]:
    """Temp files and staging folders of interrupted writers under `folders` (none should survive a next run)."""
    return sorted({p for folder in folders if folder.exists() for pattern in LITTER for p in folder.glob(pattern)})


# --------------------------------------------------------------------------------------------- the server side
def _arm(fault: Fault) -> None:
    """Make this process send itself `fault.signal` at the point `fault` names."""
    me = os.getpid()
    if fault.delay and fault.signal:
        timer = threading.Timer(fault.delay, os.kill, (me, fault.signal))
        timer.daemon = True
        timer.start()
    if not (fault.rename and fault.signal) and not fault.count_to:
        return
    count = [0]
    lock = threading.Lock()  # chunk and figure files are written from worker threads too
    for name in ("replace", "rename"):
        real = getattr(os, name)

        def wrapped(src: Any, dst: Any, *a: Any, _real: Any = real, **kw: Any) -> None:
            with lock:
                count[0] += 1
                hit = bool(fault.signal and fault.rename and count[0] == fault.rename)
            if hit and not fault.after:
                os.kill(me, fault.signal)
            _real(src, dst, *a, **kw)
            if hit and fault.after:
                os.kill(me, fault.signal)

        setattr(os, name, wrapped)
    if fault.count_to:
        import atexit

        atexit.register(lambda: Path(fault.count_to).write_text(str(count[0])))


def _child(request: dict[str, Any]) -> int:
    """In the forked child: run the command; → its exit code (what `python -m colorbench` would return)."""
    fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.environ.update(request["env"])
    import tempfile

    tempfile.tempdir = None  # computed again from this child's TMPDIR, not the server's cached one
    os.chdir(request["cwd"])
    # A terminal's foreground job: Ctrl-C raises KeyboardInterrupt, SIGTERM kills (until the CLI handles it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _arm(Fault(**request["fault"]))
    from colorbench.cli import main

    try:
        main.main(request["args"], prog_name="colorbench")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 — as the interpreter would: a traceback and exit 1
        import traceback

        traceback.print_exc()
        code = 1
    import atexit

    # The command is over: a signal still due now would interrupt only the harness's exit functions.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    atexit._run_exitfuncs()  # TemporaryDirectory finalizers and the like, as at a normal interpreter exit
    return code


def _warm(request: dict[str, Any]) -> int:
    """Run one command in the server process itself (output to the log); → its exit code."""
    import contextlib

    from colorbench.cli import main

    with open(request["log"], "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            main.main(request["args"], prog_name="colorbench", standalone_mode=False)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
    # Forking is safe only from a single thread: every worker pool of the command must be gone by now.
    return 0 if threading.active_count() == 1 else 99


def serve() -> None:

    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "start":
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    code = _child(request)
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code & 0xFF)
            reply: dict[str, Any] = {"pid": pid}
        elif request["op"] == "warm":
            reply = {"rc": _warm(request)}
        elif request["op"] == "wait":
            _, status = os.waitpid(request["pid"], 0)
            reply = {"rc": os.waitstatus_to_exitcode(status)}
        else:
            reply = {"ok": True}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
