"""Crash safety: a `colorbench run` SIGKILLed mid-way leaves no truncated file and earlier results intact,
and resuming gives the records of an uninterrupted run; an interrupted training resumed from its last
checkpoint ends bit-for-bit where an uninterrupted one does (weights, optimizers, lr schedule, τ, RNG)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from colorbench.checkpoints import read_metadata
from colorbench.cli import main
from colorbench.evaluation.engine import EvalPlan
from colorbench.evaluation.records import read_records
from colorbench.evaluation.runner import RunConfig, run_evaluation
from colorbench.training import loop as training
from colorbench.training.loop import TrainConfig, train_model

from .fakes import TinyPoint, TinyRegion, make_checkpoint, register_fakes
from .faults import load_whole
from .plugin_fixture import colorbench_cmd, plugin_env

LIMIT = 12  # every blobs test image: 12 chunks per variant at --batch-size 1
MODES = "native,equalized,ablation,perturbed"


@pytest.mark.slow
def test_sigkill_mid_run_leaves_no_partial_file_and_resume_matches_a_clean_run(tmp_path: Path) -> None:
    register_fakes()
    specs = [f"tinypoint={make_checkpoint(TinyPoint, tmp_path / 'p.safetensors')}",
             f"tinyregion={make_checkpoint(TinyRegion, tmp_path / 'r.safetensors', seed=1)}"]
    args = ["--models", "", "--dataset", "blobs", "--size", "32", "--modes", MODES, "--no-fid", "--quiet",
            *[a for s in specs for a in ("--checkpoint", s)]]
    out = tmp_path / "out"
    # Earlier results in OUT: a finished run on 3 images, report included.
    first = CliRunner().invoke(main, ["run", *args, "--limit", "3", "--out", str(out)], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    earlier = {p: p.read_bytes() for p in (out / "records.csv", out / "results.json", out / "run.json")}

    proc = subprocess.Popen(colorbench_cmd("run", *args, "--limit", str(LIMIT), "--batch-size", "1", "--out",
                                           str(out)), cwd=tmp_path, env=plugin_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    before = set((out / "cache").glob("*/chunk-*.npz"))
    deadline = time.monotonic() + 120
    while not (set((out / "cache").glob("*/chunk-*.npz")) - before):
        assert proc.poll() is None, f"run ended before writing a chunk: {proc.stderr.read().decode()[-2000:]}"
        assert time.monotonic() < deadline, "no chunk file appeared within 120 s"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    chunks = list((out / "cache").glob("*/chunk-*.npz"))
    assert len(chunks) < 2 * LIMIT, "the run finished before the kill: nothing was tested"
    for path in out.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            load_whole(path)  # every visible file is complete
        elif path.is_file() and path.name != ".colorbench.lock":  # the run-dir lock holds no data
            assert path.name.endswith(".tmp"), f"unexpected hidden file {path}"  # an unfinished atomic write
    for path, data in earlier.items():
        assert path.read_bytes() == data, f"{path.name} of the earlier run changed"

    mtimes = {p: p.stat().st_mtime_ns for p in chunks}
    resumed = run_evaluation(RunConfig(models=[], dataset="blobs", out=str(out), size=32, limit=LIMIT, fid=False,
                                       checkpoints=specs, plan=EvalPlan(modes=MODES.split(","), batch_size=4)),
                             progress=False)
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items()), "finished chunks were recomputed"
    clean = run_evaluation(RunConfig(models=[], dataset="blobs", out=str(tmp_path / "clean"), size=32, limit=LIMIT,
                                     fid=False, checkpoints=specs, plan=EvalPlan(modes=MODES.split(","))),
                           progress=False)
    pd.testing.assert_frame_equal(read_records(resumed / "records.csv"), read_records(clean / "records.csv"),
                                  check_exact=True)


@pytest.mark.slow
def test_two_concurrent_runs_into_one_directory_give_the_records_of_a_clean_run(tmp_path: Path) -> None:
    """Both compute the same images at different batch sizes (overlapping chunks) and merge and render
    into one OUT at about the same time (benchmarks/soak.py does this 200 times)."""
    register_fakes()
    specs = [f"tinypoint={make_checkpoint(TinyPoint, tmp_path / 'p.safetensors')}"]
    args = ["--models", "", "--dataset", "blobs", "--size", "32", "--limit", "4", "--modes", MODES, "--no-fid",
            "--quiet", "--out", str(tmp_path / "shared"), *[a for s in specs for a in ("--checkpoint", s)]]
    procs = [subprocess.Popen(colorbench_cmd("run", *args, "--batch-size", bs), cwd=tmp_path, env=plugin_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for bs in ("1", "4")]
    errors = [p.communicate(timeout=240)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    for path in (tmp_path / "shared").rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            load_whole(path)
    clean = run_evaluation(RunConfig(models=[], dataset="blobs", out=str(tmp_path / "clean"), size=32, limit=4,
                                     fid=False, checkpoints=specs, plan=EvalPlan(modes=MODES.split(","))),
                           progress=False)
    pd.testing.assert_frame_equal(read_records(tmp_path / "shared" / "records.csv"),
                                  read_records(clean / "records.csv"), check_exact=True)
    assert json.loads((tmp_path / "shared" / "results.json").read_text())


class _Crash(BaseException):
    """Stands for the process dying right after a checkpoint was written."""


def _train(out: Path, epochs: int = 4, resume: bool = False) -> None:
    cfg = TrainConfig(model="guidingpainter", dataset="blobs", epochs=epochs, size=32, batch_size=2, limit=5,
                      val_limit=2, device="cpu", seed=3, model_config={"width": 0.0625, "nc": 6})
    train_model(cfg, out, resume=resume, progress=False, log=lambda _: None)


@pytest.mark.parametrize("crash_after", [1, 2, 3])
def test_resumed_training_equals_uninterrupted_training_bit_for_bit(tmp_path: Path, crash_after: int,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """GuidingPainter: τ follows the epoch, two Adam optimizers, Gumbel noise and hints from the generator,
    the lr decays linearly in the second half (so a crash after epoch 3 also tests the schedule)."""
    register_fakes()
    _train(tmp_path / "straight")

    real_save = training.save_checkpoint

    def save_then_die(path: Path, state: dict, meta: dict) -> str:
        sha = real_save(path, state, meta)
        if Path(path).name == "last.train.safetensors" and meta["epoch"] == crash_after:
            raise _Crash()
        return sha

    monkeypatch.setattr(training, "save_checkpoint", save_then_die)
    with pytest.raises(_Crash):
        _train(tmp_path / "resumed")
    monkeypatch.undo()
    assert read_metadata(tmp_path / "resumed" / "last.safetensors")["epoch"] == crash_after
    _train(tmp_path / "resumed", resume=True)

    for name in ("last.safetensors", "last.train.safetensors", "best.safetensors"):
        a, b = load_file(tmp_path / "straight" / name), load_file(tmp_path / "resumed" / name)
        assert a.keys() == b.keys(), name
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}: {key} differs after resuming at epoch {crash_after}"
    meta_a = read_metadata(tmp_path / "straight" / "last.safetensors")
    meta_b = read_metadata(tmp_path / "resumed" / "last.safetensors")
    assert meta_a["history"] == meta_b["history"] and meta_a["step"] == meta_b["step"]
    assert [row["tau"] for row in meta_a["history"]] == sorted({row["tau"] for row in meta_a["history"]}, reverse=True)


def test_amp_loss_scale_survives_the_train_state_checkpoint(tmp_path: Path) -> None:
    """A resumed AMP run continues at the loss scale it had backed off to, not at 2^16 again (which would
    skip optimizer steps on overflow until it backs off a second time)."""
    from colorbench.checkpoints import save_checkpoint

    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16, growth_interval=3)
    p = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([p], lr=0.1)
    for loss_scale in (float("inf"), 1.0):  # one overflow (scale halves), then one good step (tracker 1)
        opt.zero_grad()
        scaler.scale((p * loss_scale).sum()).backward()
        scaler.step(opt)
        scaler.update()
    path = tmp_path / "last.train.safetensors"
    save_checkpoint(path, {"x": torch.zeros(1)}, {"grad_scaler": training.scaler_state(scaler)})

    fresh = torch.amp.GradScaler("cpu", init_scale=2.0**16, growth_interval=3)
    training.restore_scaler(fresh, read_metadata(path)["grad_scaler"])
    fresh.scale(torch.ones(())).item()  # the restored scale takes effect lazily, on first use
    assert fresh.get_scale() == 2.0**15
    assert fresh.state_dict() == scaler.state_dict()
    training.restore_scaler(fresh, None)  # a checkpoint written without AMP leaves the scaler alone
    assert fresh.get_scale() == 2.0**15
