"""A run and the dataset under it: `prepare --overwrite` in another shell while a run reads the set stops the run
(one line, rc 2) instead of stamping new images with the old fingerprint; `--dataset ../x` is not a name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorbench.cli import main
from colorbench.data import folder
from colorbench.data.prepare import prepare_dataset
from colorbench.data.synthetic import Toon

ARGS = ["--models", "floor", "--modes", "native", "--sweep", "1", "--no-fid", "--quiet", "--batch-size", "1"]


def _sources(tmp_path: Path) -> tuple[Path, Path]:
    """Two versions of one folder: the same 30 ids, the second with inverted colours (a re-export, a fix)."""
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    toon = Toon("val", 32)
    for i in range(30):  # 4 test images under 81:9:10
        colour = toon.load(toon.ids()[i])[1]
        Image.fromarray(colour).save(old / f"{i:02d}.png")
        Image.fromarray(255 - colour).save(new / f"{i:02d}.png")
    return old, new


def test_prepare_overwrite_during_a_run_stops_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = _sources(tmp_path)
    data = tmp_path / "data"
    prepare_dataset("mine", old, data, size=32, progress=False)

    # The other shell: `colorbench prepare mine --src new --overwrite`, run once the run has read its first image.
    reads: list[Path] = []
    real_read = folder.FolderDataset._read

    def read_then_replace(self, path, mode, *rest):
        reads.append(path)
        if len(reads) == 2:
            prepare_dataset("mine", new, data, size=32, progress=False, overwrite=True)
        return real_read(self, path, mode, *rest)

    monkeypatch.setattr(folder.FolderDataset, "_read", read_then_replace)
    out = tmp_path / "r"
    res = CliRunner().invoke(main, ["run", *ARGS, "--dataset", "mine", "--data-root", str(data), "--out", str(out)])
    assert res.exit_code == 2, res.output
    line = " ".join(res.output.split())
    assert "changed while this run was reading dataset 'mine'" in line and "Traceback" not in res.output
    assert not (out / "run.json").exists()  # nothing stamped with a fingerprint that is not the data's

    # Once the data is settled, a run measures what is there now, all of it.
    monkeypatch.setattr(folder.FolderDataset, "_read", real_read)
    res = CliRunner().invoke(main, ["run", *ARGS, "--dataset", "mine", "--data-root", str(data), "--out", str(out)])
    assert res.exit_code == 0, res.output
    run = json.loads((out / "run.json").read_text())
    assert run["cache"]["entries"]["floor"]["reused_images"] == 0


def test_a_dataset_path_is_refused_before_anything_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--dataset ../elsewhere/x` read a set outside the data root and wrote the run to results/../elsewhere/x,
    i.e. into that dataset's own folder."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(12):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(src / f"{i}.png")
    prepare_dataset("x", src, tmp_path / "elsewhere", size=32, progress=False)
    before = sorted(p.name for p in (tmp_path / "elsewhere" / "x").iterdir())
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    for command in (["run", *ARGS], ["train", "rtug", "--epochs", "1", "--limit", "2"]):
        res = CliRunner().invoke(main, [*command, "--dataset", "../elsewhere/x", "--data-root", "data"])
        assert res.exit_code == 2, res.output
        assert "is not a dataset name" in " ".join(res.output.split())
    assert sorted(p.name for p in (tmp_path / "elsewhere" / "x").iterdir()) == before
    assert not (tmp_path / "results").exists() and not (tmp_path / "runs").exists()
