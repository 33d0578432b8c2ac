"""How subprocesses, torchrun ranks and the soak benchmark find the test fakes: this folder holds an
installed-distribution layout whose entry points name tests/fakes.py and tests/plugin_fixture/models.py.

Put this folder and the repository root on PYTHONPATH (`plugin_env()`) and every `colorbench` process
discovers `blobs`, `tinypoint`, `tinyregion`, `nanpoint` and `tinysgd` exactly like a pip-installed plugin.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parent
REPO_ROOT = PLUGIN_DIR.parent.parent
TORCHRUN_TIMEOUT = 240  # seconds; a hung collective must fail the test, not the whole suite


def plugin_env(**extra: str) -> dict[str, str]:
    """os.environ + PYTHONPATH reaching the fakes, one thread per process, no colour codes in output."""
    env = dict(os.environ)
    parts = [str(PLUGIN_DIR), str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env.update(PYTHONPATH=os.pathsep.join(parts), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NO_COLOR="1",
               TERM="dumb", COLUMNS="200")
    env.pop("WORLD_SIZE", None)  # a test run under torchrun must not make its children think they are ranks
    env.update(extra)
    return env


def colorbench_cmd(*args: str) -> list[str]:
    """`python -m colorbench ARGS` with the interpreter running the tests."""
    return [sys.executable, "-m", "colorbench", *args]


def torchrun_cmd(nproc: int, *args: str) -> list[str]:
    """`torchrun --nproc_per_node N ARGS` (ARGS: `-m colorbench …` or a script) on 127.0.0.1, a free port."""
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
            "--master_addr", "127.0.0.1", "--master_port", str(free_port()), *args]


def torchrun_ok(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Run `torchrun` with 2 processes in `cwd` (see torchrun_cmd); fails the test with its output unless rc 0."""
    res = subprocess.run(torchrun_cmd(2, *args), cwd=cwd, env=plugin_env(), capture_output=True, text=True,
                         timeout=TORCHRUN_TIMEOUT, check=False)
    assert res.returncode == 0, f"torchrun failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
