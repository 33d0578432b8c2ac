"""`colorbench run` without the CLI: `run_evaluation` resolves a RunConfig (data, variants, checkpoints, plan:
colorbench.evaluation.resolve) and runs the resolved work (colorbench.evaluation.evaluate) into the run directory."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from colorbench.evaluation.allocator import retain_freed_memory
from colorbench.evaluation.engine import EvalPlan
from colorbench.evaluation.evaluate import evaluate
from colorbench.evaluation.resolve import resolve_run
from colorbench.progress import STDERR


@dataclass
class RunConfig:
    """Every option of a run; its fingerprint and a copy go into run.json / results.json."""

    models: list[str]
    dataset: str
    out: str
    checkpoints: list[str] = field(default_factory=list)
    size: int | None = None  # None: the dataset's own (a prepared set's manifest size, else 64)
    limit: int | None = None
    data_root: str | None = None
    device: str = "auto"
    resume: bool = True
    fid: bool = True  # computed when weights are found; otherwise "n/a" with the reason
    fid_weights: str | None = None
    plan: EvalPlan = field(default_factory=EvalPlan)
    num_workers: int = 0  # DataLoader processes reading test images (never changes results)
    input: str | None = None  # sketch | grayscale (colorbench.color.grayscale); None: the dataset's own default

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self) -> str:
        d = self.to_json()
        for volatile in ("out", "resume", "device", "num_workers"):
            d.pop(volatile, None)
        d["plan"].pop("batch_size", None)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


def run_evaluation(cfg: RunConfig, progress: bool = True, log: Callable[[str], None] | None = None) -> Path:
    """Evaluate every variant on the test split; returns the run directory (rank 0 writes it). `cfg` is not
    modified: what the run decides (the dataset's size, whether FID runs) goes into a copy, which run.json keeps."""
    log = log or (lambda msg: STDERR.print(msg))
    retain_freed_memory()  # forwards reuse their activation memory instead of page-faulting it back in
    run = resolve_run(cfg, log)
    evaluate(run, progress, log)
    return run.out
