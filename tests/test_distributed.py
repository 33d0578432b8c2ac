"""torchrun with 2 CPU processes (gloo): evaluation gives the records of one process and its cache resumes
across world sizes; a DDP training step equals one process's step on the union of the shards, keeps the
ranks' weights identical, and only rank 0 writes checkpoints."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from colorbench.engine import EvalPlan
from colorbench.records import load_npz, read_records
from colorbench.registry import MODELS
from colorbench.runner import RunConfig, run_evaluation
from colorbench.training import TrainConfig, build_model, train_model

from .fakes import TinyPoint, TinyRegion, make_checkpoint, register_fakes
from .plugin_fixture import plugin_env, torchrun_cmd
from .plugin_fixture.models import TinySGD

pytestmark = pytest.mark.ddp
TIMEOUT = 240  # seconds; a hung collective must fail the test, not the whole suite


def _torchrun(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    res = subprocess.run(torchrun_cmd(2, *args), cwd=cwd, env=plugin_env(), capture_output=True, text=True,
                         timeout=TIMEOUT, check=False)
    assert res.returncode == 0, f"torchrun failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def test_two_processes_give_the_records_of_one_and_share_its_cache(tmp_path: Path) -> None:
    register_fakes()
    ckpts = {"tinypoint": make_checkpoint(TinyPoint, tmp_path / "p.safetensors"),
             "tinyregion": make_checkpoint(TinyRegion, tmp_path / "r.safetensors", seed=1)}
    specs = [f"{k}={v}" for k, v in ckpts.items()]
    modes = "native,equalized,ablation,perturbed,policies"  # policies: the oracles too
    _torchrun(tmp_path, "-m", "colorbench", "run", "--models", "", "--dataset", "blobs", "--size", "32",
              "--limit", "5", "--modes", modes, "--samples", "5", "--no-fid", "--quiet",
              "--out", str(tmp_path / "two"), *[a for s in specs for a in ("--checkpoint", s)])
    # Each rank wrote its own shard: images 0,2,4 on rank 0 and 1,3 on rank 1 → two chunks per variant.
    for variant in ckpts:
        assert len(list((tmp_path / "two" / "cache").glob(f"{variant}-*/chunk-*.npz"))) == 2

    one = run_evaluation(RunConfig(models=[], dataset="blobs", out=str(tmp_path / "one"), size=32, limit=5,
                                   fid=False, checkpoints=specs,
                                   plan=EvalPlan(modes=modes.split(","), n_samples=5)), progress=False)
    two_records = read_records(tmp_path / "two" / "records.csv")
    pd.testing.assert_frame_equal(read_records(one / "records.csv"), two_records, check_exact=True)
    for variant in ckpts:
        a, b = load_npz(one / "samples" / f"{variant}.npz"), load_npz(tmp_path / "two" / "samples" / f"{variant}.npz")
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"{variant} {name}")

    # The cache is keyed by content, not by rank: one process resumes the 2-process run without recomputing.
    chunks = {p: p.stat().st_mtime_ns for p in (tmp_path / "two" / "cache").glob("*/chunk-*.npz")}
    run_evaluation(RunConfig(models=[], dataset="blobs", out=str(tmp_path / "two"), size=32, limit=5, fid=False,
                             checkpoints=specs, plan=EvalPlan(modes=modes.split(","), n_samples=5)), progress=False)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "two" / "cache").glob("*/chunk-*.npz")} == chunks
    pd.testing.assert_frame_equal(read_records(tmp_path / "two" / "records.csv"), two_records, check_exact=True)


def test_ddp_step_equals_one_process_step_on_the_union_of_the_shards(tmp_path: Path) -> None:
    """tinysgd's SGD step is linear in the mean gradient: 2 ranks × 2 images must match 1 process × 4."""
    register_fakes()
    if "tinysgd" not in MODELS.names():
        MODELS.register("tinysgd", TinySGD)
    _torchrun(tmp_path, "-m", "colorbench", "train", "tinysgd", "--dataset", "blobs", "--size", "32",
              "--limit", "4", "--batch-size", "2", "--epochs", "1", "--device", "cpu", "--quiet",
              "--out", str(tmp_path / "ddp"))
    single = train_model(TrainConfig(model="tinysgd", dataset="blobs", epochs=1, size=32, batch_size=4, limit=4,
                                     val_limit=4, device="cpu"), tmp_path / "single", progress=False,
                         log=lambda _: None)
    assert single.history[0]["loss"] > 0
    ddp, one = load_file(tmp_path / "ddp" / "last.safetensors"), load_file(single.checkpoint)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        init = build_model("tinysgd").state_dict()
    assert ddp.keys() == one.keys() == init.keys()
    for k in one:
        # Updates are ~1e-2..1e-1; un-synced ranks would each follow half the batch and miss by about as much.
        # 1e-5 leaves room only for float32 summation order (mean of 4 vs mean of two means of 2).
        assert (one[k] - init[k]).abs().max() > 1e-2, f"{k} did not train"
        torch.testing.assert_close(ddp[k], one[k], rtol=0, atol=1e-5, msg=f"{k}: DDP step differs")
    meta_steps = [r for r in (tmp_path / "ddp").iterdir() if r.suffix == ".safetensors"]
    assert {p.name for p in meta_steps} == {"last.safetensors", "best.safetensors", "last.train.safetensors"}


RANK_SCRIPT = '''
"""One DDP training run of a real model; logs every checkpoint write per rank and dumps each rank's state."""
import os, sys
import torch
from safetensors.torch import save_file
import colorbench.training as training

rank = int(os.environ["RANK"])
out, dump = sys.argv[1], sys.argv[2]
real_save = training.save_checkpoint

def logged_save(path, *args, **kw):
    with open(os.path.join(dump, f"writes-rank{rank}.txt"), "a") as fh:
        fh.write(f"{path}\\n")
    return real_save(path, *args, **kw)

training.save_checkpoint = logged_save
cfg = training.TrainConfig(model="guidingpainter", dataset="blobs", epochs=1, size=32, batch_size=2, limit=4,
                           val_limit=2, device="cpu", model_config={"width": 0.0625, "nc": 6})
model_box = {}
real_build = training.build_model

def keep(name, config=None):
    model_box["m"] = real_build(name, config)
    return model_box["m"]

training.build_model = keep
training.train_model(cfg, out, progress=False, log=lambda _: None)
state = {k: v.detach().contiguous().clone() for k, v in model_box["m"].state_dict().items()}
save_file(state, os.path.join(dump, f"state-rank{rank}.safetensors"))
'''


def test_ddp_training_of_a_gan_keeps_ranks_identical_and_only_rank_0_writes(tmp_path: Path) -> None:
    """GuidingPainter: Gumbel noise, Adam, two optimizers, a discriminator and BatchNorm buffers."""
    script = tmp_path / "rank_script.py"
    script.write_text(textwrap.dedent(RANK_SCRIPT))
    dump = tmp_path / "dump"
    dump.mkdir()
    _torchrun(tmp_path, str(script), str(tmp_path / "out"), str(dump))
    r0, r1 = load_file(dump / "state-rank0.safetensors"), load_file(dump / "state-rank1.safetensors")
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), f"ranks disagree on {k}"
    saved = load_file(tmp_path / "out" / "last.safetensors")
    for k in r0:
        assert torch.equal(saved[k], r0[k]), f"checkpoint differs from the ranks' {k}"
    assert (dump / "writes-rank0.txt").read_text().count("last.safetensors") == 1
    assert not (dump / "writes-rank1.txt").exists(), "rank 1 wrote a checkpoint"
    # The ranks drew different hints/noise (distinct generators), and the saved state carries both.
    train_state = load_file(tmp_path / "out" / "last.train.safetensors")
    assert not torch.equal(train_state["rng/generator"], train_state["rng/generator.rank1"])
