"""Soak test of one shared run directory: N `colorbench run --limit 4` invocations, two in three of them
two at a time (different batch sizes, so their chunk files overlap; the cache is wiped before every other
pair so that both runs compute and race), checking after every round that no file is corrupt and that the
merged records equal a clean run's. Uses the test fakes (tests/plugin_fixture), so it takes minutes on a
CPU. Run by hand:

    .venv/bin/python benchmarks/soak.py [--runs 200] [--work DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.fakes / tests.plugin_fixture, as the subprocesses see them

import numpy as np
import pandas as pd

from colorbench.evaluation.records import read_records
from tests.fakes import TinyPoint, TinyRegion, make_checkpoint
from tests.plugin_fixture import colorbench_cmd, plugin_env

BATCH_SIZES = (1, 2, 4)  # chunk boundaries differ between runs, so concurrent runs write overlapping chunks
# Rounds cycle: one run; a pair on a wiped (cold) cache, so both compute and race on the same chunks; one run;
# a pair on the warm cache (both only merge and render).
CYCLE = ("single", "cold pair", "single", "warm pair")


@dataclass
class Figures:
    runs: int = 0
    concurrent_runs: int = 0
    failures: list[str] = field(default_factory=list)
    checks: int = 0
    chunk_files_checked: int = 0
    corrupt: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    run_seconds: list[float] = field(default_factory=list)


def _args(out: Path, specs: list[str], batch_size: int) -> list[str]:
    return ["run", "--models", "", "--dataset", "blobs", "--size", "32", "--limit", "4", "--modes",
            "native,equalized,ablation,perturbed", "--no-fid", "--quiet", "--batch-size", str(batch_size),
            "--out", str(out), *[a for s in specs for a in ("--checkpoint", s)]]


def _start(out: Path, specs: list[str], batch_size: int, cwd: Path) -> tuple[subprocess.Popen, float]:
    proc = subprocess.Popen(colorbench_cmd(*_args(out, specs, batch_size)), cwd=cwd, env=plugin_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return proc, time.perf_counter()


def _finish(proc: subprocess.Popen, t0: float, label: str, figures: Figures) -> None:
    _, err = proc.communicate()
    figures.runs += 1
    figures.run_seconds.append(time.perf_counter() - t0)
    if proc.returncode != 0:
        figures.failures.append(f"{label}: exit {proc.returncode}: {err.strip().splitlines()[-1:]}")


def _check(out: Path, reference: pd.DataFrame, figures: Figures, label: str) -> None:
    """Every chunk and result file loads; records.csv equals the clean run's bit for bit."""
    figures.checks += 1
    for path in sorted(out.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            if path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as z:
                    for key in z.files:
                        z[key]
                figures.chunk_files_checked += path.parent.parent.name == "cache"
            elif path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix == ".png":
                from PIL import Image

                with Image.open(path) as im:
                    im.load()
        except Exception as exc:  # noqa: BLE001 - any failure to read is what we count
            figures.corrupt.append(f"{label}: {path.relative_to(out)}: {exc}")
    try:
        pd.testing.assert_frame_equal(read_records(out / "records.csv"), reference, check_exact=True)
    except (AssertionError, OSError, ValueError) as exc:
        figures.mismatches.append(f"{label}: {str(exc).splitlines()[0]}")


def soak(runs: int, work: Path) -> Figures:
    ckpt = work / "ckpt"
    ckpt.mkdir(parents=True, exist_ok=True)
    specs = [f"tinypoint={make_checkpoint(TinyPoint, ckpt / 'p.safetensors')}",
             f"tinyregion={make_checkpoint(TinyRegion, ckpt / 'r.safetensors', seed=1)}"]
    clean = work / "clean"
    proc, _ = _start(clean, specs, 4, work)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"the clean reference run failed:\n{err}")
    reference = read_records(clean / "records.csv")

    out = work / "shared"
    figures = Figures()
    started = time.perf_counter()
    round_no = 0
    while figures.runs < runs:
        kind = CYCLE[round_no % len(CYCLE)]
        if kind == "cold pair":
            shutil.rmtree(out / "cache", ignore_errors=True)
        bs = BATCH_SIZES[round_no % len(BATCH_SIZES)]
        if kind.endswith("pair") and runs - figures.runs >= 2:  # two at a time
            other = BATCH_SIZES[(round_no + 1) % len(BATCH_SIZES)]
            pair = [_start(out, specs, bs, work), _start(out, specs, other, work)]
            for i, (p, t0) in enumerate(pair):
                _finish(p, t0, f"round {round_no} run {i}", figures)
            figures.concurrent_runs += 2
        else:
            p, t0 = _start(out, specs, bs, work)
            _finish(p, t0, f"round {round_no}", figures)
        _check(out, reference, figures, f"round {round_no}")
        round_no += 1
        if round_no % 10 == 0:
            print(f"  {figures.runs}/{runs} runs, {time.perf_counter() - started:.0f} s, "
                  f"{len(figures.failures)} failures, {len(figures.corrupt)} corrupt, "
                  f"{len(figures.mismatches)} mismatches", file=sys.stderr, flush=True)
    figures.run_seconds.append(time.perf_counter() - started)  # last entry: wall time of the soak
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--work", type=Path, default=None, help="Working directory [a fresh temp dir].")
    parser.add_argument("--keep", action="store_true", help="Keep the working directory.")
    opts = parser.parse_args()
    work = opts.work or Path(tempfile.mkdtemp(prefix="colorbench-soak-"))
    try:
        f = soak(opts.runs, work)
    finally:
        if not opts.keep and opts.work is None:
            shutil.rmtree(work, ignore_errors=True)
    wall, per_run = f.run_seconds[-1], f.run_seconds[:-1]
    print(f"runs: {f.runs} ({f.concurrent_runs} of them two at a time) against one OUT directory")
    print(f"wall time: {wall:.0f} s; per run: median {np.median(per_run):.1f} s, max {max(per_run):.1f} s")
    print(f"failed runs: {len(f.failures)}")
    print(f"integrity checks: {f.checks} (chunk files loaded: {f.chunk_files_checked}); "
          f"corrupt files: {len(f.corrupt)}; records differing from a clean run: {len(f.mismatches)}")
    for line in (f.failures + f.corrupt + f.mismatches)[:20]:
        print("  " + line)
    return 0 if not (f.failures or f.corrupt or f.mismatches) else 1


if __name__ == "__main__":
    sys.exit(main())
