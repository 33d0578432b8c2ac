"""Result files get the mode the user's umask gives any new file (0644 under 022, 0664 under 002), not the
0600 of the temporary file they are written through: a shared results folder stays readable."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from colorbench.atomic import atomic_write_text, current_umask


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    previous = os.umask(0o022)
    os.umask(previous)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


@pytest.mark.parametrize("mask", [0o002, 0o022, 0o077])
def test_atomic_writes_follow_the_umask(tmp_path: Path, umask, mask: int) -> None:
    umask(mask)
    assert current_umask() == mask
    atomic_write_text(tmp_path / "a.txt", "x")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~mask


def test_every_file_of_a_run_folder_is_group_readable_under_umask_002(tmp_path: Path, umask, invoke) -> None:
    umask(0o002)
    out = tmp_path / "run"
    res = invoke("run", "--models", "floor", "--dataset", "toon", "--size", "32", "--limit", "2", "--modes",
                 "native", "--no-fid", "--quiet", "--out", str(out))
    assert res.exit_code == 0, res.output
    files = [p for p in out.rglob("*") if p.is_file() and p.name != ".colorbench.lock"]
    assert {"records.csv", "run.json", "results.json", "report.md"} <= {p.name for p in files}
    assert any(p.suffix == ".npz" for p in files) and any(p.suffix == ".png" for p in files)
    modes = {p.relative_to(out).as_posix(): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {oct(0o664)}, modes


def test_a_prepared_dataset_is_readable_under_the_umask(tmp_path: Path, umask, invoke) -> None:
    # prepare stages the set in a mkdtemp folder (0700) and renames it into place: the dataset folder must
    # still get the umask's mode, or a shared data root is readable by its writer alone.
    from PIL import Image

    src = tmp_path / "src"
    src.mkdir()
    for k in range(12):
        Image.new("RGB", (40, 40), (20 * k, 100, 200 - 10 * k)).save(src / f"im{k:02d}.png")
    umask(0o022)
    res = invoke("prepare", "mine", "--src", str(src), "--data-root", str(tmp_path / "data"), "--size", "32")
    assert res.exit_code == 0, res.output
    root = tmp_path / "data" / "mine"
    folders = [root, *(p for p in root.rglob("*") if p.is_dir())]
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files and {oct(stat.S_IMODE(p.stat().st_mode)) for p in folders} == {oct(0o755)}
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {oct(0o644)}
