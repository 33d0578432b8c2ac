"""What the hint_policy protocol costs: a toon run of ours,rtug with the default modes, and the same run with
the policies mode added (`--modes native,equalized,ablation,perturbed,policies`); prints both wall times, their
ratio (target ≤ 2.5×) and the model rows (image forwards) per image each variant needs with and without it.

    .venv/bin/python benchmarks/policy_cost.py [--limit 64] [--repeat 2] [--models ours,rtug]

Both runs: in-process `run_evaluation` + `render_report`, FID off, resume off, fresh directories, the shipped
checkpoints; a warm-up run at --limit 2 pays imports and lazy initialisation first. Times are the best of
--repeat (other processes only ever add time). Exit code 0 when the ratio meets the target. Rows are counted at the model-call wrapper the engine uses
(`fixed_rows` as `colorbench.evaluation.engine` and `colorbench.evaluation.level_forward` call it), padding rows excluded; `propose_regions` calls count as rows too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from colorbench.defaults import EVAL
from colorbench.evaluation import engine, hint_policies, level_forward
from colorbench.evaluation.engine import EvalPlan
from colorbench.evaluation.runner import RunConfig, run_evaluation
from colorbench.registry import resolve_model_names
from colorbench.reports.render import render_report

TARGET = 2.5  # with / without
ROWS: Counter = Counter()  # model rows per variant label of the run being counted
_CURRENT: list[str] = [""]


def _counting(fixed_rows: Any) -> Any:
    def wrapped(fn: Any, rows: int, *tensors: Any) -> Any:
        ROWS[_CURRENT[0]] += next(t for t in tensors if t is not None).shape[0]
        return fixed_rows(fn, rows, *tensors)
    return wrapped


def _run(models: list[str], modes: list[str], limit: int, out: Path) -> float:
    cfg = RunConfig(models=models, dataset="toon", out=str(out), limit=limit, fid=False, resume=False, device="cpu",
                    plan=EvalPlan(modes=modes))
    t0 = time.perf_counter()
    run_evaluation(cfg, progress=False, log=lambda _msg: None)
    render_report(out)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="ours,rtug")
    ap.add_argument("--limit", type=int, default=64, help="toon test images (256 in all)")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    models = resolve_model_names(args.models)
    base = list(EVAL.run_modes)
    with_policies = base + [hint_policies.MODE]
    tmp = Path(tempfile.mkdtemp(prefix="policy-cost-"))
    try:
        _run(models, with_policies, 2, tmp / "warm")
        times: dict[str, list[float]] = {"without": [], "with": []}
        for r in range(args.repeat):
            for name, modes in (("without", base), ("with", with_policies)):
                times[name].append(_run(models, modes, args.limit, tmp / f"{name}-{r}"))
        rows: dict[str, Counter] = {}
        original = engine.fixed_rows
        try:  # one more run of each, counting rows per variant (every model call goes through it)
            engine.fixed_rows = level_forward.fixed_rows = _counting(original)
            for name, modes in (("without", base), ("with", with_policies)):
                ROWS.clear()
                from colorbench.evaluation.variants import Variant

                load = Variant.load

                def tracking(self: Any, device: Any = "cpu", overrides: Any = None, _load: Any = load) -> Any:
                    _CURRENT[0] = self.label
                    return _load(self, device, overrides)

                Variant.load = tracking  # type: ignore[method-assign]
                try:
                    _run(models, modes, args.limit, tmp / f"count-{name}")
                finally:
                    Variant.load = load  # type: ignore[method-assign]
                rows[name] = Counter(ROWS)
        finally:
            engine.fixed_rows = level_forward.fixed_rows = original
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    best = {k: min(v) for k, v in times.items()}
    print(f"policy_cost: toon, {args.limit} test images, models {','.join(models)}, best of {args.repeat}")
    print(f"  without policies ({','.join(base)}): {best['without']:.1f} s")
    print(f"  with policies    (+{hint_policies.MODE}): {best['with']:.1f} s")
    ratio = best["with"] / best["without"]
    print(f"  ratio with / without: {ratio:.2f}× (target ≤ {TARGET}×: {'met' if ratio <= TARGET else 'NOT met'})")
    print(f"  load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    for label in sorted(set(rows["with"]) | set(rows["without"])):
        a, b = rows["without"][label] / args.limit, rows["with"][label] / args.limit
        print(f"  {label}: {a:.1f} → {b:.1f} model rows per image (+{b - a:.1f} for the policies)")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
