"""torchrun with 2 CPU processes (gloo): evaluation gives the records of one process and its cache resumes
across world sizes; a DDP training step equals one process's step on the union of the shards, keeps the
ranks' weights identical, and only rank 0 writes checkpoints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from colorbench.checkpoints import read_metadata
from colorbench.evaluation.engine import EvalPlan
from colorbench.evaluation.records import load_npz, read_records
from colorbench.evaluation.runner import RunConfig, run_evaluation
from colorbench.registry import MODELS
from colorbench.training.loop import TrainConfig, build_model, train_model

from .fakes import TinyPoint, TinyRegion, make_checkpoint, register_fakes
from .plugin_fixture import TORCHRUN_TIMEOUT, free_port, plugin_env, torchrun_cmd, torchrun_ok
from .plugin_fixture.models import TinySGD

pytestmark = pytest.mark.ddp


def test_two_processes_give_the_records_of_one_and_share_its_cache(tmp_path: Path) -> None:
    register_fakes()
    ckpts = {"tinypoint": make_checkpoint(TinyPoint, tmp_path / "p.safetensors"),
             "tinyregion": make_checkpoint(TinyRegion, tmp_path / "r.safetensors", seed=1)}
    specs = [f"{k}={v}" for k, v in ckpts.items()]
    modes = "native,equalized,ablation,perturbed,policies"  # policies: the oracles too
    torchrun_ok(tmp_path, "-m", "colorbench", "run", "--models", "", "--dataset", "blobs", "--size", "32",
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
    torchrun_ok(tmp_path, "-m", "colorbench", "train", "tinysgd", "--dataset", "blobs", "--size", "32",
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
import colorbench.training.loop as training

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
    torchrun_ok(tmp_path, str(script), str(tmp_path / "out"), str(dump))
    r0, r1 = load_file(dump / "state-rank0.safetensors"), load_file(dump / "state-rank1.safetensors")
    assert r0.keys() == r1.keys()
    # Parameters agree on every rank; BatchNorm statistics follow rank 0 at each forward (DDP's broadcast_buffers),
    # so after the last step rank 1 still holds its own: only rank 0's are ever validated or saved.
    for k in r0:
        if not k.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert torch.equal(r0[k], r1[k]), f"ranks disagree on {k}"
    saved = load_file(tmp_path / "out" / "last.safetensors")
    for k in r0:
        assert torch.equal(saved[k], r0[k]), f"checkpoint differs from the ranks' {k}"
    assert (dump / "writes-rank0.txt").read_text().count("last.safetensors") == 1
    assert not (dump / "writes-rank1.txt").exists(), "rank 1 wrote a checkpoint"
    # The ranks drew different hints/noise (distinct generators), and the saved state carries both.
    train_state = load_file(tmp_path / "out" / "last.train.safetensors")
    assert not torch.equal(train_state["rng/generator"], train_state["rng/generator.rank1"])


EQUIVALENCE_SCRIPT = '''
"""Train a batch-coupling-free GuidingPainter or RTUG (every BatchNorm a GroupNorm, no random draw that
matters) in this process: under torchrun one rank of a DDP run, else a single process."""
import sys
from torch import nn
import colorbench.training.loop as training
from colorbench.registry import MODELS
from colorbench.guidingpainter.model import GuidingPainter
from colorbench.baselines.rtug import RTUG
sys.path.insert(0, sys.argv[4])
from tests.fakes import register_fakes

def without_batchnorm(module):
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, nn.GroupNorm(1, child.num_features))
        else:
            without_batchnorm(child)

class GroupNormGP(GuidingPainter):
    def __init__(self, config=None):
        super().__init__(config)
        without_batchnorm(self)

class GroupNormRTUG(RTUG):
    def __init__(self, config=None):
        super().__init__(config)
        without_batchnorm(self)

register_fakes()
MODELS.register("gp_gn", GroupNormGP)
MODELS.register("rtug_gn", GroupNormRTUG)
model, out, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = {"gp_gn": {"nc": 6, "augment": False, "gumbel_scale": 0.0, "fixed_nh": True},
          "rtug_gn": {"hint_p": 1.0}}[model]  # no draw from the (per-rank) generator reaches the weights
cfg = training.TrainConfig(model=model, dataset="blobs", epochs=2, size=32, batch_size=batch, limit=8, val_limit=2,
                           device="cpu", seed=5, model_config={"width": 0.0625, **config})
training.train_model(cfg, out, progress=False, log=lambda _: None)
'''


@pytest.mark.parametrize("model", ["gp_gn", "rtug_gn"])
def test_two_ranks_train_the_weights_of_one_process_on_the_same_global_batches(tmp_path: Path, model: str) -> None:
    """4 Adam steps (2 epochs × 2 global batches of 4): 2 ranks × --batch-size 2 against 1 process × 4.

    GuidingPainter's real train_step runs (f, g, a frozen D in the G step, D twice before the D step's one backward,
    two optimizers), as does RTUG's, with the two things that legitimately differ between a data-parallel run and
    one process taken out: BatchNorm's per-rank batch statistics (GroupNorm instead) and the per-rank random
    draws (no augmentation, no Gumbel noise, Nh = Nc; RTUG with no hints)."""
    script = tmp_path / "equivalence.py"
    script.write_text(textwrap.dedent(EQUIVALENCE_SCRIPT))
    repo = str(Path(__file__).resolve().parent.parent)
    torchrun_ok(tmp_path, str(script), model, str(tmp_path / "ddp"), "2", repo)
    res = subprocess.run([sys.executable, str(script), model, str(tmp_path / "one"), "4", repo], cwd=tmp_path,
                         env=plugin_env(), capture_output=True, text=True, timeout=TORCHRUN_TIMEOUT, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    ddp, one = load_file(tmp_path / "ddp" / "last.safetensors"), load_file(tmp_path / "one" / "last.safetensors")
    assert ddp.keys() == one.keys()
    assert read_metadata(tmp_path / "ddp" / "last.safetensors")["step"] == 4
    moved, close = 0, 0
    for k in one:
        if one[k].is_floating_point():
            # Adam moves a weight by up to lr = 2e-4 per step: ranks that did not average would miss by about that.
            # 1e-5 (5% of one step) is float32 summation order, which Adam scales up where the true gradient is ~0
            # (a bias right before a norm): 4.7e-6 at most seen here; nearly every tensor agrees within 1e-6.
            torch.testing.assert_close(ddp[k], one[k], rtol=0, atol=1e-5, msg=f"{model} {k}: DDP differs")
            close += int((ddp[k] - one[k]).abs().max() <= 1e-6)
            moved += int(k.endswith("weight") and ddp[k].dim() == 4)
    assert close >= 0.9 * len([k for k in one if one[k].is_floating_point()])
    assert moved > 5


KILL_SCRIPT = '''
"""`colorbench train` on every rank, except that rank 0 stops forever once epoch 1's resume state is written
(it marks that in a file): the test kills the whole job there with SIGKILL."""
import os, sys, time
from pathlib import Path
import colorbench.training.loop as training
from colorbench.cli import main

marker = Path(sys.argv[1])
real_save = training.save_checkpoint

def save_then_hang(path, state, meta):
    sha = real_save(path, state, meta)
    if Path(path).name == "last.train.safetensors" and meta["epoch"] == 1:
        marker.write_text("epoch 1 saved")
        time.sleep(600)
    return sha

training.save_checkpoint = save_then_hang
main(sys.argv[2:])
'''


def test_a_killed_torchrun_job_resumes_under_torchrun_to_the_uninterrupted_weights(tmp_path: Path) -> None:
    """kill -9 of the whole job (agent and both ranks) after epoch 1, then `torchrun … train --resume`."""
    args = ["train", "guidingpainter", "--dataset", "blobs", "--size", "32", "--limit", "8", "--batch-size", "2",
            "--epochs", "3", "--width", "0.0625", "--nc", "6", "--val-limit", "2", "--device", "cpu", "--quiet"]
    torchrun_ok(tmp_path, "-m", "colorbench", *args, "--out", str(tmp_path / "straight"))

    script, marker = tmp_path / "kill.py", tmp_path / "marker"
    script.write_text(textwrap.dedent(KILL_SCRIPT))
    job = subprocess.Popen(torchrun_cmd(2, str(script), str(marker), *args, "--out", str(tmp_path / "killed")),
                           cwd=tmp_path, env=plugin_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        deadline = time.monotonic() + TORCHRUN_TIMEOUT
        while not marker.exists() and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), "the job never reached the end of epoch 1"
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(timeout=30)
    assert read_metadata(tmp_path / "killed" / "last.train.safetensors")["epoch"] == 1

    res = torchrun_ok(tmp_path, "-m", "colorbench", *args, "--out", str(tmp_path / "killed"), "--resume")
    assert "resumed guidingpainter" in res.stdout
    straight, resumed = load_file(tmp_path / "straight" / "last.safetensors"), load_file(tmp_path / "killed" / "last.safetensors")
    assert straight.keys() == resumed.keys()
    for k in straight:
        assert torch.equal(straight[k], resumed[k]), f"{k} differs after the kill and resume"
    assert read_metadata(tmp_path / "killed" / "last.safetensors")["epoch"] == 3


def test_runs_resume_across_process_counts_at_the_same_global_batch(tmp_path: Path) -> None:
    """A single-process run continues under torchrun (--batch-size halved: the same global batch) and back again,
    and ends where the same resumes in one process end (tinysgd: no randomness, no BatchNorm)."""
    register_fakes()
    if "tinysgd" not in MODELS.names():
        MODELS.register("tinysgd", TinySGD)
    base = ["-m", "colorbench", "train", "tinysgd", "--dataset", "blobs", "--size", "32", "--limit", "8",
            "--val-limit", "2", "--device", "cpu", "--quiet"]
    single = [sys.executable, *base]

    def one(*args: str) -> None:
        res = subprocess.run([*single, *args], cwd=tmp_path, env=plugin_env(), capture_output=True, text=True,
                             timeout=TORCHRUN_TIMEOUT, check=False)
        assert res.returncode == 0, res.stderr[-3000:]

    # The same chain of resumes (the lr schedule follows --epochs) in one process, and across process counts.
    for epochs in ("1", "2", "3"):
        one("--epochs", epochs, "--batch-size", "4", "--out", str(tmp_path / "straight"), *(["--resume"] * (epochs > "1")))
    one("--epochs", "1", "--batch-size", "4", "--out", str(tmp_path / "mixed"))
    torchrun_ok(tmp_path, *base, "--epochs", "2", "--batch-size", "2", "--out", str(tmp_path / "mixed"), "--resume")
    assert read_metadata(tmp_path / "mixed" / "last.safetensors")["world"] == 2
    one("--epochs", "3", "--batch-size", "4", "--out", str(tmp_path / "mixed"), "--resume")
    straight, mixed = load_file(tmp_path / "straight" / "last.safetensors"), load_file(tmp_path / "mixed" / "last.safetensors")
    assert straight.keys() == mixed.keys()
    for k in straight:
        torch.testing.assert_close(mixed[k], straight[k], rtol=0, atol=1e-5, msg=f"{k} differs across process counts")
    # Another global batch is another run: refused, one line, before any step.
    res = subprocess.run(torchrun_cmd(2, *base, "--epochs", "4", "--batch-size", "4", "--out", str(tmp_path / "mixed"),
                                      "--resume"), cwd=tmp_path, env=plugin_env(), capture_output=True, text=True,
                         timeout=TORCHRUN_TIMEOUT, check=False)
    assert res.returncode != 0 and "--batch-size × processes 8, not 8" not in res.stderr
    assert "--batch-size × processes 4, not 8" in res.stderr, res.stderr[-2000:]


def _two_nodes(cwds: list[Path], *args: str) -> list[subprocess.CompletedProcess]:
    """`torchrun --nnodes 2 --nproc_per_node 1 --rdzv-backend c10d …` twice, as on two machines (here: two
    agents on 127.0.0.1, each in its own working folder)."""
    port = free_port()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
           "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "colorbench-test", *args]
    jobs = [subprocess.Popen(cmd, cwd=cwd, env=plugin_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for cwd in cwds]
    done = []
    for job in jobs:
        out, err = job.communicate(timeout=TORCHRUN_TIMEOUT)
        done.append(subprocess.CompletedProcess(job.args, job.returncode, out, err))
    return done


def test_run_across_two_nodes_needs_and_uses_a_shared_out(tmp_path: Path) -> None:
    register_fakes()
    ckpt = make_checkpoint(TinyPoint, tmp_path / "p.safetensors")
    args = ["-m", "colorbench", "run", "--models", "", "--dataset", "blobs", "--size", "32", "--limit", "4",
            "--modes", "native", "--samples", "0", "--no-fid", "--quiet", "--checkpoint", f"tinypoint={ckpt}"]
    a, b = tmp_path / "node-a", tmp_path / "node-b"
    a.mkdir(), b.mkdir()
    # The same relative --out on two machines without a shared filesystem: two different folders.
    refused = _two_nodes([a, b], *args, "--out", "results")
    assert all(res.returncode != 0 for res in refused)
    assert "every node shares" in "".join(res.stderr for res in refused)
    assert not (a / "results" / "records.csv").exists()

    shared = tmp_path / "shared"
    for res in _two_nodes([a, b], *args, "--out", str(shared)):
        assert res.returncode == 0, res.stderr[-3000:]
    one = run_evaluation(RunConfig(models=[], dataset="blobs", out=str(tmp_path / "one"), size=32, limit=4, fid=False,
                                   checkpoints=[f"tinypoint={ckpt}"], plan=EvalPlan(modes=["native"], n_samples=0)),
                         progress=False)
    pd.testing.assert_frame_equal(read_records(shared / "records.csv"), read_records(one / "records.csv"),
                                  check_exact=True)
