"""Interrupted commands clean up and say so by their exit code: Ctrl-C (SIGINT) is 130, not the regression code
1, and SIGTERM (143) still removes `check`'s temporary folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_check_interrupted_exits_with_the_signal_code_and_removes_its_temp_folder(tmp_path: Path, signum, code):
    env = os.environ | {"TMPDIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    # A job started with `&` by a non-interactive shell inherits SIGINT ignored, and so would the child: give it
    # Python's usual handler first, as a terminal would.
    boot = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "sys.argv[0] = 'colorbench'; runpy.run_module('colorbench', run_name='__main__')")
    proc = subprocess.Popen([sys.executable, "-c", boot, "check", "--model", "rtug", "--dataset", "toon",
                             "--no-fid", "--limit", "64"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300  # a liveness bound only: importing torch on a loaded CI machine is slow
    while not list(tmp_path.glob("colorbench-check*")):  # the evaluation has started in its temp folder
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == code, err.decode()
    assert b"Traceback" not in err, err.decode()
    assert not list(tmp_path.glob("colorbench-check*")), "the temporary folder was left behind"


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_that_surfaces_as_another_error_still_exits_with_the_signal_code(tmp_path: Path, signum, code,
                                                                                       monkeypatch) -> None:
    """The soak (benchmarks/soak_interrupt.py) caught SIGTERM during a figure's drawing: the SystemExit raised in
    a callback of matplotlib's C++ renderer came out as "ValueError: Invalid bounding box", a traceback, exit 1."""
    from click.testing import CliRunner

    from colorbench import cli
    from colorbench.cli import group

    def interrupted_render(*_args: object) -> None:
        group._RECEIVED.append(signum)  # what group._on_signal records before raising
        raise ValueError("Invalid bounding box")

    monkeypatch.setattr(group, "_RECEIVED", [])
    monkeypatch.setattr("colorbench.reports.render.render_report", interrupted_render)
    (tmp_path / "records.csv").write_text("variant\n")
    res = CliRunner().invoke(cli.main, ["report", str(tmp_path)])
    assert res.exit_code == code and "interrupted" in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
