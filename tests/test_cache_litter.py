"""The cache cleans up after crashes and says so: an unreadable chunk is deleted with a one-line notice; temp
files and `.partial` folders of killed writers are swept, a live writer's (and another host's) are kept."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from colorbench.cli import main
from colorbench.data.prepare import prepare_dataset
from colorbench.data.synthetic import Toon
from colorbench.evaluation.records import read_records


def _run(out: Path, ckpts: dict[str, Path], *names: str) -> str:
    args = ["run", "--models", "", "--dataset", "blobs", "--size", "32", "--limit", "2", "--modes", "native",
            "--no-fid", "--quiet", "--out", str(out)]
    for name in names:
        args += ["--checkpoint", f"{name}={ckpts[name]}"]
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output.replace("\n", "")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _tag(pid: int) -> str:
    return f"{socket.gethostname().replace('.', '_')}-{pid}"


def test_an_unreadable_chunk_is_deleted_with_a_notice_and_recomputed(tmp_path: Path, ckpts):
    _run(tmp_path, ckpts, "tinypoint")
    before = read_records(tmp_path / "records.csv")
    chunk = next((tmp_path / "cache").glob("tinypoint-*/chunk-*.npz"))
    chunk.write_bytes(b"not a zip file")
    output = _run(tmp_path, ckpts, "tinypoint")
    assert f"cache chunk {chunk} was unreadable" in output and "recomputed" in output, output
    assert read_records(tmp_path / "records.csv").equals(before)


def test_temp_files_of_killed_writers_are_swept_and_a_live_writers_kept(tmp_path: Path, ckpts):
    _run(tmp_path, ckpts, "tinypoint")
    cdir = next((tmp_path / "cache").glob("tinypoint-*"))
    dead = cdir / f".chunk-0.npz.{_tag(_dead_pid())}.abc123.tmp"
    live = cdir / f".chunk-1.npz.{_tag(1)}.def456.tmp"  # pid 1 is always running
    foreign = tmp_path / ".records.csv.otherhost-99999.ghi789.tmp"  # another machine's writer: not ours to judge
    for path in (dead, live, foreign):
        path.write_bytes(b"partial")
    output = _run(tmp_path, ckpts, "tinypoint")
    assert "removed 1 temporary file(s) of interrupted runs" in output, output
    assert not dead.exists() and live.exists() and foreign.exists()


def test_a_killed_prepares_partial_folder_is_swept(tmp_path: Path):
    src, root = tmp_path / "src", tmp_path / "data"
    src.mkdir()
    toon = Toon("val", 32)
    for i in range(4):
        Image.fromarray(toon.load(toon.ids()[i])[1]).save(src / f"{i}.png")
    dead = root / f".mine.{_tag(_dead_pid())}.x1y2z3.partial"
    (dead / "color").mkdir(parents=True)
    live = root / f".mine.{_tag(1)}.a1b2c3.partial"
    live.mkdir()
    prepare_dataset("mine", src, root, size=32, progress=False)
    assert not dead.exists() and live.exists()
    assert not [p for p in root.iterdir() if p.name.endswith(".partial") and p != live]
