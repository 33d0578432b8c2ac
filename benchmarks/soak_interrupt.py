"""Soak of interrupted runs: `colorbench run` on 4 toon images is interrupted at random (kill -9, SIGTERM
or Ctrl-C after a random delay), `--runs` times, into a few shared folders — one in four rounds two runs at once
(floor and RTUG into one folder, each maybe interrupted) — and resumed. After every round the folder must hold no
litter (temp files, staging folders) and records equal to a clean run's for the variants it holds, and every
interrupted run must have exited with its signal's code (130 Ctrl-C, 143 SIGTERM) and no traceback.

Runs are forked children of one preloaded process (tests/faults.py: real processes and real signals, without
~6 s of imports each), on random batch sizes so that chunk files overlap. Run by hand from the repository root:

    .venv/bin/python benchmarks/soak_interrupt.py [--runs 100] [--folders 3] [--seed 0] [--work DIR]
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.faults, as the fork server sees it

import pandas as pd

from colorbench.evaluation.records import read_records
from tests.faults import EXIT_CODES, Fault, ForkServer, litter

MODELS = ("floor", "rtug")
SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)


@dataclass
class Figures:
    runs: int = 0
    concurrent_runs: int = 0
    interrupts: Counter = field(default_factory=Counter)  # by signal name
    finished_before_signal: int = 0
    failures: list[str] = field(default_factory=list)  # wrong exit code or a traceback
    mismatches: list[str] = field(default_factory=list)
    litter: list[str] = field(default_factory=list)


def _args(out: Path, model: str, batch_size: int) -> list[str]:
    return ["run", "--models", model, "--dataset", "toon", "--limit", "4", "--size", "32", "--no-fid", "--quiet",
            "--modes", "native", "--sweep", "2", "--samples", "1", "--batch-size", str(batch_size), "--out", str(out)]


def _outcome(rc: int, fault: Fault | None, log: Path, label: str, figures: Figures) -> bool:
    """Record one run's exit; → whether it was interrupted."""
    figures.runs += 1
    text = log.read_text(errors="replace")
    if "Traceback" in text:
        figures.failures.append(f"{label}: traceback: {text.strip().splitlines()[-1]}")
    if fault is None or rc == 0:
        if rc != 0:
            figures.failures.append(f"{label}: exit {rc}: {text.strip().splitlines()[-1:]}")
        figures.finished_before_signal += fault is not None
        return False
    sig = signal.Signals(fault.signal)
    if rc != EXIT_CODES[sig]:
        figures.failures.append(f"{label}: {sig.name} after {fault.delay:.2f} s gave exit {rc}, not {EXIT_CODES[sig]}")
    figures.interrupts[sig.name] += 1
    return True


def soak(runs: int, n_folders: int, seed: int, work: Path) -> Figures:
    rng = random.Random(seed)
    server = ForkServer(warm=work / "warm")
    try:
        clean = work / "clean"
        for model in MODELS:
            assert server.run(_args(clean, model, 4), work / f"clean-{model}.log") == 0, \
                (work / f"clean-{model}.log").read_text()[-2000:]
        t0 = time.perf_counter()
        for model in MODELS:  # again, from the cache: the random delays span the shorter of the two kinds of run
            server.run(_args(clean, model, 4), work / f"clean-{model}.log")
        duration = (time.perf_counter() - t0) / len(MODELS)
        reference = read_records(clean / "records.csv")
        folders = [work / f"shared-{k}" for k in range(n_folders)]
        held: dict[Path, set[str]] = {f: set() for f in folders}  # variants each folder has finished at least once
        figures = Figures()
        round_no = 0
        while sum(figures.interrupts.values()) < runs:
            out = rng.choice(folders)
            pair = round_no % 4 == 3
            models = list(MODELS) if pair else [rng.choice(MODELS)]
            faults = {m: Fault(signal=int(rng.choice(SIGNALS)), delay=rng.uniform(0.05, duration))
                      if (not pair or rng.random() < 0.75) else None for m in models}
            logs = {m: work / f"round-{round_no}-{m}.log" for m in models}
            failed = len(figures.failures)
            pids = {m: server.start(_args(out, m, rng.choice((1, 2, 4))), logs[m], faults[m]) for m in models}
            figures.concurrent_runs += len(models) if pair else 0
            cut = [m for m in models
                   if _outcome(server.wait(pids[m]), faults[m], logs[m], f"round {round_no} {m}", figures)]
            held[out] |= set(models) - set(cut)
            for m in cut:  # resume what was interrupted
                log = work / f"round-{round_no}-{m}-resume.log"
                _outcome(server.run(_args(out, m, rng.choice((1, 2, 4))), log), None, log,
                         f"round {round_no} {m} resume", figures)
                held[out].add(m)
            found = litter(out)
            figures.litter += [f"round {round_no}: {p}" for p in found]
            want = reference[reference["variant"].isin(held[out])].reset_index(drop=True)
            try:
                pd.testing.assert_frame_equal(read_records(out / "records.csv"), want, check_exact=True)
            except (AssertionError, OSError, ValueError) as exc:
                figures.mismatches.append(f"round {round_no} ({out.name}): {str(exc).strip().splitlines()[0]}")
            for log in logs.values() if len(figures.failures) == failed else ():  # a failed round's stay
                log.unlink(missing_ok=True)
            round_no += 1
            if round_no % 10 == 0:
                print(f"  round {round_no}: {sum(figures.interrupts.values())}/{runs} interrupts, "
                      f"{len(figures.failures)} failures, {len(figures.mismatches)} mismatches, "
                      f"{len(figures.litter)} litter", file=sys.stderr, flush=True)
        return figures
    finally:
        server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="Interrupted runs to make.")
    parser.add_argument("--folders", type=int, default=3, help="Shared run folders.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="Working directory [a fresh temp dir, removed].")
    opts = parser.parse_args()
    work = opts.work or Path(tempfile.mkdtemp(prefix="colorbench-soak-interrupt-"))
    started = time.perf_counter()
    try:
        f = soak(opts.runs, opts.folders, opts.seed, work)
    finally:
        if opts.work is None:
            shutil.rmtree(work, ignore_errors=True)
    interrupts = ", ".join(f"{name} {f.interrupts[name]}" for name in ("SIGKILL", "SIGTERM", "SIGINT"))
    print(f"runs: {f.runs} ({f.concurrent_runs} of them two at a time) into {opts.folders} shared folders, "
          f"seed {opts.seed}, {time.perf_counter() - started:.0f} s")
    print(f"interrupts: {sum(f.interrupts.values())} ({interrupts}); finished before their signal: "
          f"{f.finished_before_signal}")
    print(f"wrong exit codes or tracebacks: {len(f.failures)}; records differing from a clean run: "
          f"{len(f.mismatches)}; litter found: {len(f.litter)}")
    for line in (f.failures + f.mismatches + f.litter)[:20]:
        print("  " + line)
    return 0 if not (f.failures or f.mismatches or f.litter) else 1


if __name__ == "__main__":
    sys.exit(main())
