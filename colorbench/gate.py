"""`colorbench check`: evaluate one checkpoint and compare its tracked metrics with a stored baseline.

Direction-aware, per-metric tolerances (pyiqa's calibration-file idea): PSNR may not drop by more than
its tolerance, NRI and FID may not rise by more than theirs. Baselines are small JSON files holding the
metrics, the tolerances and the provenance of the run that produced them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorbench.errors import UsageError
from colorbench.records import read_json, read_records, write_json

BASELINE_FORMAT = "colorbench-baseline/1"
BASELINE_DIR = Path(__file__).resolve().parent / "zoo" / "baselines"

# metric → (higher is better, default tolerance)
TRACKED: dict[str, tuple[bool, float]] = {
    "psnr_auto": (True, 0.25),  # dB, n = 0
    "psnr_expected": (True, 0.25),  # dB, E_G[PSNR]
    "nri": (False, 0.5),  # interactions
    "fid_auto": (False, 2.0),
    "fid_expected": (False, 2.0),
}


def default_baseline(model: str, dataset: str) -> Path:
    return BASELINE_DIR / f"{model}-{dataset}.json"


def tracked_metrics(run_dir: Path, variant: str) -> dict[str, float]:
    """The gate's metrics of one variant, computed by the same protocol code as Table 1."""
    from protocols.base import ProtocolContext
    from protocols.expected import automatic_psnr_per_image, expected_psnr, mixture_keys
    from protocols.fid_sets import fid_cell
    from protocols.nri import nri

    run = read_json(run_dir / "run.json")
    records = read_records(run_dir / "records.csv")
    ctx = ProtocolContext(run_dir, run)
    info = run["variants"][variant]
    ids, auto = automatic_psnr_per_image(records, variant)
    out: dict[str, float] = {"psnr_auto": float(auto.mean())}
    fid_auto = fid_cell(ctx, variant, [f"{i}|native|0" for i in ids], ids)
    if fid_auto["value"] is not None:
        out["fid_auto"] = float(fid_auto["value"])
    if info["conditional"]:
        out["psnr_expected"] = expected_psnr(records, variant, ctx.dist)
        out["nri"] = nri(records, variant, ctx.nri_threshold, ctx.dist.nc)
        fid_exp = fid_cell(ctx, variant, mixture_keys(ids, run["fid"]["nh_assignment"]), ids)
        if fid_exp["value"] is not None:
            out["fid_expected"] = float(fid_exp["value"])
    return out


@dataclass
class Verdict:
    metric: str
    baseline: float
    current: float | None
    tolerance: float
    higher_is_better: bool

    @property
    def delta(self) -> float | None:
        return None if self.current is None else self.current - self.baseline

    @property
    def regressed(self) -> bool:
        if self.current is None or not math.isfinite(self.current):
            return True  # a metric that vanished or became NaN is a regression, not a pass
        worse = self.baseline - self.current if self.higher_is_better else self.current - self.baseline
        return worse > self.tolerance + 1e-12


def compare(current: dict[str, float], baseline: dict[str, Any], overrides: dict[str, float] | None = None) -> list[Verdict]:
    """One verdict per metric the baseline tracks. Metrics missing on both sides are not judged;
    FID missing now but present in the baseline (no weights on this machine) is skipped with a note."""
    tolerances = {k: v[1] for k, v in TRACKED.items()} | baseline.get("tolerances", {}) | (overrides or {})
    verdicts = []
    for metric, value in baseline["metrics"].items():
        if metric not in TRACKED:
            continue
        if metric.startswith("fid") and metric not in current:
            continue
        verdicts.append(Verdict(metric, float(value), current.get(metric), float(tolerances[metric]), TRACKED[metric][0]))
    return verdicts


def pooled_baseline(per_checkpoint: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """(metrics, tolerances) of a baseline made from several checkpoints of one recipe (e.g. seeds).

    Each metric is their mean, and its tolerance the distance from the mean to the worst of them plus the
    default (re-evaluation) tolerance: every checkpoint the baseline was made from passes, and a candidate
    fails only when it is worse than the worst of them by more than that default. Only metrics every
    checkpoint has are tracked (FID is missing on all of them without Inception weights).
    """
    if not per_checkpoint:
        raise ValueError("a baseline needs at least one checkpoint's metrics")
    metrics, tolerances = {}, {}
    for key in (k for k in per_checkpoint[0] if all(k in m for m in per_checkpoint)):
        values = [m[key] for m in per_checkpoint]
        mean = math.fsum(values) / len(values)
        higher_is_better, default = TRACKED[key]
        worst = min(values) if higher_is_better else max(values)
        metrics[key] = mean
        tolerances[key] = abs(mean - worst) + default
    return metrics, tolerances


def write_baseline(path: Path, model: str, dataset: str, metrics: dict[str, float], run_dir: Path,
                   tolerances: dict[str, float] | None = None,
                   per_checkpoint: dict[str, dict[str, float]] | None = None) -> None:
    """Write a baseline from `run_dir`'s evaluation. `per_checkpoint` (variant label → metrics) records
    where a pooled baseline (`pooled_baseline`) came from: each checkpoint's hash and metrics."""
    run = read_json(run_dir / "run.json")
    variants = run["variants"]
    first = next(iter(variants.values()))
    extra: dict[str, Any] = {}
    if per_checkpoint and len(per_checkpoint) > 1:
        extra["checkpoints"] = [{"checkpoint": variants[label].get("checkpoint"),
                                 "checkpoint_sha256": variants[label]["checkpoint_sha256"], "metrics": m}
                                for label, m in per_checkpoint.items()]
    write_json(path, {
        "format": BASELINE_FORMAT,
        "model": model,
        "dataset": dataset,
        "metrics": metrics,
        "tolerances": {k: v[1] for k, v in TRACKED.items()} | (tolerances or {}),
        "higher_is_better": {k: v[0] for k, v in TRACKED.items()},
        "checkpoint_sha256": first["checkpoint_sha256"] if not extra else None,
        **extra,
        "n_images": run["dataset"]["n_images"],
        "size": run["dataset"]["size"],
        "dataset_fingerprint": run["dataset"]["fingerprint"],
        "fid": {k: run["fid"].get(k) for k in ("available", "reason", "weights_sha256", "standard")},
        "versions": run["versions"],
        "config_fingerprint": run["config_fingerprint"],
    })


def read_baseline(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(f"baseline {path} does not exist: create it with `colorbench check … --update-baseline`")
    data = read_json(path)
    if data.get("format") != BASELINE_FORMAT or "metrics" not in data:
        raise UsageError(f"{path} is not a colorbench baseline (format {BASELINE_FORMAT})")
    return data
