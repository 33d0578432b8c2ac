"""`run --amp` is CUDA-only: on a CPU it is refused before anything runs (evaluation there stays float32), and
it is part of the cache key so fp16 records are never reused for a float32 run."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from colorbench.cli import main
from colorbench.evaluation.engine import EvalPlan


def test_amp_on_a_cpu_is_a_usage_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["run", "--models", "floor", "--dataset", "toon", "--limit", "1", "--amp",
                                    "--device", "cpu", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "--amp needs a CUDA device" in res.output
    assert not (tmp_path / "r").exists()


def test_amp_is_part_of_the_plan_fingerprint() -> None:
    assert EvalPlan(amp=True).fingerprint() != EvalPlan().fingerprint()
