"""What training shows and leaves: one plain line per epoch when piped, a summary naming the best epoch and its
score, the `tensorboard --logdir` line, TensorBoard event files (read back with tensorboard's own
EventAccumulator), training.csv and training.png."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from click.testing import CliRunner
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from colorbench.cli import main

from .fakes import register_fakes

ARGS = ["train", "guidingpainter", "--dataset", "blobs", "--size", "32", "--width", "0.0625", "--nc", "6",
        "--batch-size", "2", "--limit", "4", "--val-limit", "2", "--epochs", "3", "--device", "cpu", "--threads", "1"]


def test_a_piped_run_logs_every_epoch_and_leaves_event_files_csv_and_curves(tmp_path: Path) -> None:
    register_fakes()
    out = tmp_path / "run"
    res = CliRunner().invoke(main, [*ARGS, "--out", str(out)], catch_exceptions=False)  # stdout is not a terminal
    assert res.exit_code == 0, res.output
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 3

    lines = [line for line in res.output.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/3 step 2/6", "epoch 2/3 step 4/6", "epoch 3/3 step 6/6"]
    for line, row in zip(lines, history):
        assert f"val PSNR {row['val_psnr']:.2f} dB" in line and "loss_rec" in line
        assert re.search(r"[\d.]+ img/s; ETA \d+m\d\ds$", line), line
    assert f"tensorboard --logdir {out / 'tensorboard'}" in res.output

    best = max(history, key=lambda r: r["val_psnr"])
    summary = [line for line in res.output.splitlines() if line.startswith("trained guidingpainter")]
    assert len(summary) == 1
    assert f"best epoch {best['epoch']}/3: val PSNR {best['val_psnr']:.2f} dB" in summary[0], summary[0]

    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss_rec", "train/loss_d", "train/regions_per_image", "train/tau", "lr/g", "lr/d",
            "throughput/images_per_s", "val/psnr"} <= tags, tags
    assert [e.step for e in events.Scalars("train/loss_rec")] == [1, 2, 3, 4, 5, 6]
    val = events.Scalars("val/psnr")
    assert [e.step for e in val] == [2, 4, 6]
    assert [round(e.value, 4) for e in val] == [round(r["val_psnr"], 4) for r in history]
    assert events.Scalars("train/tau")[0].value == 1.0  # τ starts at 1 and anneals per epoch

    with (out / "training.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [float(r["val_psnr"]) for r in rows] == [r["val_psnr"] for r in history]
    assert {"loss_rec", "regions_per_image", "tau", "lr_g", "images_per_s", "seconds"} <= set(rows[0])
    assert (out / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_resumed_run_continues_the_csv_and_the_event_files(tmp_path: Path) -> None:
    register_fakes()
    out = tmp_path / "run"
    args = [a if a != "3" else "1" for a in ARGS]  # --epochs 1, then resume to 2
    assert CliRunner().invoke(main, [*args, "--out", str(out), "--quiet"], catch_exceptions=False).exit_code == 0
    res = CliRunner().invoke(main, [*ARGS[:-6], "--epochs", "2", *ARGS[-4:], "--out", str(out), "--resume", "--quiet"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert not [line for line in res.output.splitlines() if line.startswith("epoch ")]  # --quiet: no epoch lines
    with (out / "training.csv").open() as fh:
        assert [int(r["epoch"]) for r in csv.DictReader(fh)] == [1, 2]
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("val/psnr")] == [2, 4]
    assert [e.step for e in events.Scalars("train/loss_rec")] == [1, 2, 3, 4]


def test_val_limit_is_a_documented_flag() -> None:
    res = CliRunner().invoke(main, ["train", "rtug", "--help"])
    assert "--val-limit" in res.output and "--overwrite" in res.output
