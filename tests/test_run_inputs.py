"""What a caller hands `run_evaluation` stays as it was: the RunConfig and its EvalPlan (a caller may reuse them
for another run), and evaluation-time model settings are given when the model is built, not written into it."""

from __future__ import annotations

import copy
from pathlib import Path

from colorbench.evaluation.engine import EvalPlan
from colorbench.evaluation.records import read_json
from colorbench.evaluation.runner import RunConfig, run_evaluation
from colorbench.evaluation.variants import Variant, zoo_checkpoint


def test_run_evaluation_leaves_the_callers_config_and_plan_unchanged(tmp_path: Path, ckpts: dict[str, Path]) -> None:
    # FID off while the plan says fid=True, and no --size: the run decides both, in its own copy.
    plan = EvalPlan(modes=["native", "equalized"], batch_size=2, n_samples=1, fid=True, gumbel_noise=True)
    cfg = RunConfig(models=[], dataset="blobs", out=str(tmp_path / "run"), limit=2, fid=False,
                    checkpoints=[f"{k}={v}" for k, v in ckpts.items()], plan=plan)
    before = copy.deepcopy(cfg)
    out = run_evaluation(cfg, progress=False)
    assert cfg == before and cfg.plan is plan and plan == before.plan
    config = read_json(out / "run.json")["config"]  # run.json keeps what the run decided
    assert config["plan"]["fid"] is False and config["size"] == read_json(out / "run.json")["dataset"]["size"]


def test_gumbel_noise_is_a_load_override_for_models_that_have_it() -> None:
    ours = Variant("guidingpainter", "guidingpainter", zoo_checkpoint("guidingpainter", "toon"))
    assert ours.load("cpu").config["gumbel_eval"] is False  # the checkpoint's own config
    assert ours.load("cpu", {"gumbel_eval": True}).config["gumbel_eval"] is True
    rtug = Variant("rtug", "rtug", zoo_checkpoint("rtug", "toon"))
    assert "gumbel_eval" not in rtug.load("cpu", {"gumbel_eval": True}).config  # a model without it ignores it
