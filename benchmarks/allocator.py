"""Does asking glibc to keep freed memory (mallopt: no trimming, mmap threshold raised) pay on this machine?
Runs an evaluation and a few GuidingPainter training steps, each in a fresh subprocess with and without the
setting, and prints wall time and minor page faults (resource.getrusage) of each, medians over --repeat, and
the median time ratio of the back-to-back pairs.

    .venv/bin/python benchmarks/allocator.py [--limit 32] [--steps 3] [--repeat 3] [--threads 1]

Evaluation: `run_evaluation` of the shipped GuidingPainter and RTUG toon checkpoints at 64 px (native and
ablation modes, FID off, a fresh --out), after a 2-image warm-up run in the same process. Training:
`GuidingPainter.train_step` at 64 px, batch 8, width 1.0, on a fixed random batch, after one warm-up step.
Only the timed part is counted. The with/without subprocesses alternate, so load on a shared machine falls
on both. The setting is colorbench's own (`colorbench.evaluation.allocator.retain_freed_memory`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 0.05  # time saved, on evaluation or training, for colorbench to keep the setting


def _measure(fn: Any) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    fn()
    return {"seconds": time.perf_counter() - t0,
            "minor_faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}


def _eval_child(limit: int) -> dict[str, float]:
    from colorbench.evaluation.engine import EvalPlan
    from colorbench.evaluation.runner import RunConfig, run_evaluation

    tmp = Path(tempfile.mkdtemp(prefix="allocator-bench-"))

    def run(n: int, out: str) -> None:
        cfg = RunConfig(models=["guidingpainter", "rtug"], dataset="toon", out=str(tmp / out), size=64, limit=n,
                        fid=False, resume=False, device="cpu", plan=EvalPlan(modes=["native", "ablation"]))
        run_evaluation(cfg, progress=False, log=lambda _msg: None)

    try:
        run(2, "warm")
        return _measure(lambda: run(limit, "timed"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _train_child(steps: int) -> dict[str, float]:
    import torch

    from colorbench.model import TrainContext
    from colorbench.training.loop import build_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model("guidingpainter", {"width": 1.0, "augment": False}).train()
    opts = model.configure_optimizers(2e-4, (0.5, 0.999))
    g = torch.Generator().manual_seed(0)
    batch = {"sketch": torch.rand(8, 1, 64, 64, generator=g) * 2 - 1,
             "color": torch.rand(8, 3, 64, 64, generator=g) * 2 - 1}

    def step(i: int) -> None:
        ctx = TrainContext(epoch=0, epochs=1, step=i, generator=g, device=torch.device("cpu"), amp=False)
        model.train_step(batch, opts, ctx)

    step(0)
    return _measure(lambda: [step(i) for i in range(1, steps + 1)])


def _child(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    from colorbench.evaluation import allocator

    applied = allocator.retain_freed_memory() if args.retain else False
    allocator._RETAINING[:] = [applied]  # decided once per process: run_evaluation's own call changes nothing
    result = _eval_child(args.limit) if args.workload == "eval" else _train_child(args.steps)
    print(json.dumps(result | {"applied": applied}))


def _spawn(workload: str, retain: bool, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", workload, "--limit", str(args.limit), "--steps", str(args.steps),
           "--threads", str(args.threads)] + (["--retain"] if retain else [])
    env = os.environ | {"OMP_NUM_THREADS": str(args.threads)}
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"allocator: the {workload} subprocess failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=32, help="toon test images of the timed evaluation")
    ap.add_argument("--steps", type=int, default=3, help="timed training steps")
    ap.add_argument("--repeat", type=int, default=3, help="subprocess pairs per workload (medians reported)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the machine is shared)")
    ap.add_argument("--workloads", default="eval,train")
    ap.add_argument("--child", choices=("eval", "train"), help=argparse.SUPPRESS)
    ap.add_argument("--retain", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        args.workload = args.child
        _child(args)
        return 0
    print(f"allocator: glibc keep-freed-memory on/off, {args.threads} thread(s), median of {args.repeat} "
          f"fresh subprocesses each; load average {os.getloadavg()[0]:.2f}")
    gains = []
    for workload in (w.strip() for w in args.workloads.split(",") if w.strip()):
        runs: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        for r in range(args.repeat):
            for retain in ((False, True) if r % 2 == 0 else (True, False)):
                runs[retain].append(_spawn(workload, retain, args))
        what = f"{args.limit} toon images, ours+rtug, 64 px" if workload == "eval" else f"{args.steps} steps, 64 px"
        med = {k: {m: statistics.median(x[m] for x in v) for m in ("seconds", "minor_faults")}
               for k, v in runs.items()}
        for retain in (False, True):
            times = ", ".join(f"{x['seconds']:.2f}" for x in runs[retain])
            print(f"  {workload:5s} ({what}) {'with   ' if retain else 'without'}: {med[retain]['seconds']:7.2f} s "
                  f"(runs {times}), {med[retain]['minor_faults'] / 1e3:8.0f} k minor faults"
                  + ("" if not retain or all(x["applied"] for x in runs[True]) else "  (mallopt refused)"))
        # Each pair ran back to back: its ratio cancels most of the load other processes put on a shared machine.
        paired = statistics.median(w["seconds"] / wo["seconds"] for w, wo in zip(runs[True], runs[False]))
        print(f"  {workload:5s} time saved with the setting: {100 * (1 - paired):+.1f} % (median of paired ratios; "
              f"{100 * (1 - med[True]['seconds'] / med[False]['seconds']):+.1f} % between the medians)")
        gains.append(1 - paired)
    met = max(gains, default=0.0) >= TARGET
    print(f"  worth keeping (≥ {100 * TARGET:.0f} % less time on one workload): {'yes' if met else 'NO'}; "
          f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
