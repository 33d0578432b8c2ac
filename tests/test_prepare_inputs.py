"""`colorbench prepare` on inputs a user's own folder has: phone photos with an EXIF rotation paired with line art,
file names that are not ASCII (or not even UTF-8) under LANG=C, a 16-bit PNG that decodes huge, a --size typo."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorbench.cli import main

COLORBENCH = str(Path(sys.executable).with_name("colorbench"))


def _noise(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ---------------------------------------------------------------------------------------------- EXIF
def _rotated_pair(src: Path, lines: Path, name: str, w: int, h: int) -> None:
    """A phone-style JPEG stored w×h with EXIF orientation 6 (shown turned 90° clockwise), a dark bar near its
    stored left edge; and its line art as stored (no EXIF, like a tool that ignores the tag writes it): a line on
    that bar."""
    stored = np.full((h, w, 3), 255, np.uint8)
    stored[:, 4:12] = 0
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(src / f"{name}.jpg", exif=exif, quality=95)
    art = np.full((h, w), 255, np.uint8)
    art[:, 4:12] = 0
    Image.fromarray(art).save(lines / f"{name}.png")


@pytest.mark.parametrize("w,h", [(64, 48), (48, 48)], ids=["landscape", "square"])
def test_line_art_is_turned_like_its_exif_rotated_photo(tmp_path: Path, w: int, h: int) -> None:
    src, lines = tmp_path / "src", tmp_path / "lines"
    src.mkdir()
    lines.mkdir()
    _rotated_pair(src, lines, "phone", w, h)
    for i in range(3):  # ordinary pairs around it
        Image.fromarray(_noise(40, 40, i)).save(src / f"n{i}.png")
        Image.fromarray(_noise(40, 40, i)[..., 0]).save(lines / f"n{i}.png")
    res = CliRunner().invoke(main, ["prepare", "rot", "--src", str(src), "--sketches", str(lines), "--data-root",
                                    str(tmp_path / "data"), "--size", "32"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "data" / "rot" / "manifest.json").read_text())
    assert "phone" in manifest["images"], manifest["skipped"]  # landscape: refused as "another aspect ratio" before
    split = manifest["images"]["phone"]["split"]
    colour = np.asarray(Image.open(tmp_path / "data" / "rot" / split / "color" / "phone.png").convert("L"))
    sketch = np.asarray(Image.open(tmp_path / "data" / "rot" / split / "sketch" / "phone.png"))
    dark_colour, dark_sketch = colour < 128, sketch < 128
    assert dark_colour.any() and dark_sketch.any()
    overlap = (dark_colour & dark_sketch).sum() / (dark_colour | dark_sketch).sum()
    assert overlap > 0.8, overlap  # the line lies on the bar; turned differently they would cross (overlap ~0.06)
    out = " ".join(res.output.split())
    assert "EXIF" in out and "phone" in out
    if w != h:
        assert "differ only by the colour file's EXIF rotation (orientation 6)" in out


def test_line_art_drawn_on_the_upright_picture_is_used_as_it_is(tmp_path: Path) -> None:
    """Line art that already has the upright shape of a 90°-rotated photo was drawn on what the user saw."""
    src, lines = tmp_path / "src", tmp_path / "lines"
    src.mkdir()
    lines.mkdir()
    _rotated_pair(src, lines, "phone", 64, 48)
    art = np.asarray(Image.open(lines / "phone.png"))
    Image.fromarray(np.rot90(art, -1).copy()).save(lines / "phone.png")  # upright: 48×64, like the photo shown
    res = CliRunner().invoke(main, ["prepare", "up", "--src", str(src), "--sketches", str(lines), "--data-root",
                                    str(tmp_path / "data"), "--size", "32"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    entry = json.loads((tmp_path / "data" / "up" / "manifest.json").read_text())["images"]["phone"]
    assert "sketch_orientation" not in entry
    colour = np.asarray(Image.open(tmp_path / "data" / "up" / entry["split"] / "color" / "phone.png").convert("L"))
    sketch = np.asarray(Image.open(tmp_path / "data" / "up" / entry["split"] / "sketch" / "phone.png"))
    assert ((colour < 128) & (sketch < 128)).sum() / ((colour < 128) | (sketch < 128)).sum() > 0.8


# ---------------------------------------------------------------------------------------------- file names
def test_non_ascii_and_non_utf8_file_names_under_lang_c(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    names = [b"caf\xc3\xa9.png", b"\xe6\x97\xa5\xe6\x9c\xac.png", b"na\xefve.png", b"plain.png"]  # UTF-8, Latin-1
    for i, name in enumerate(names):
        Image.fromarray(_noise(40, 40, i)).save(os.path.join(os.fsencode(src), name))
    with open(os.path.join(os.fsencode(src), b"r\xe9sum\xe9.txt"), "w") as fh:
        fh.write("not an image")
    env = {**os.environ, "LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    res = subprocess.run([COLORBENCH, "prepare", "names", "--src", str(src), "--data-root", str(tmp_path / "data"),
                          "--size", "32"], check=False, capture_output=True, env=env, timeout=300)
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 0, err
    assert "Traceback" not in err
    manifest = json.loads((tmp_path / "data" / "names" / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(manifest["images"]) == sorted(["café", "日本", "na\\xefve", "plain"])
    assert [Path(s["path"]).name for s in manifest["skipped"]] == ["r\\xe9sum\\xe9.txt"]
    for image_id, entry in manifest["images"].items():  # written under the printable id, readable back
        assert (tmp_path / "data" / "names" / entry["split"] / "color" / f"{image_id}.png").is_file()


# ---------------------------------------------------------------------------------------------- memory and size
def _capped(args: list[str], gib: float) -> subprocess.CompletedProcess:
    """`colorbench ARGS` with its heap capped (RLIMIT_DATA: malloc and anonymous maps, not the mapped libraries),
    as under a container's memory limit."""
    cap = int(gib * 2**30)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([COLORBENCH, *args], check=False, preexec_fn=limit, capture_output=True, text=True, env=env,
                          timeout=600)


def test_a_small_16_bit_png_that_decodes_huge_is_prepared_within_memory(tmp_path: Path) -> None:
    """~180 KB on disk, 81 Mpx of 16-bit grey: converting it as a whole float64 frame took ~3 GB."""
    src = tmp_path / "src"
    src.mkdir()
    deep = np.full((9000, 9000), 30000, np.uint16)
    deep[::97] = 60000
    Image.fromarray(deep).save(src / "deep.png")
    del deep
    for i in range(2):
        Image.fromarray(_noise(40, 40, i)).save(src / f"n{i}.png")
    res = _capped(["prepare", "big", "--src", str(src), "--data-root", str(tmp_path / "data"), "--size", "32"], 1.5)
    assert res.returncode == 0, res.stderr[-2000:]
    manifest = json.loads((tmp_path / "data" / "big" / "manifest.json").read_text())
    assert "deep" in manifest["images"] and manifest["images"]["deep"]["source_size"] == [9000, 9000]


@pytest.mark.parametrize("args", [["prepare", "huge", "--src", "{src}", "--size", "32768"],
                                  ["run", "--models", "floor", "--dataset", "toon", "--size", "32768", "--no-fid",
                                   "--quiet", "--limit", "1", "--sweep", "1", "--modes", "native"]],
                         ids=["prepare", "run"])
def test_a_size_no_image_can_have_is_refused_in_one_line(tmp_path: Path, args: list[str]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(_noise(40, 40, 0)).save(src / "a.png")
    args = [a.format(src=src) for a in args] + ["--data-root", str(tmp_path / "data")]
    if args[0] == "run":
        args += ["--out", str(tmp_path / "out")]
    res = _capped(args, 2.0)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "--size must be a multiple of 16" in res.stderr and "4096" in res.stderr
    assert "Traceback" not in res.stderr


def _numpy_out_of_memory() -> None:
    raise MemoryError


def _torch_out_of_memory() -> None:
    import torch

    torch.empty(10**13)  # 40 TB: the CPU allocator refuses with a RuntimeError, not a MemoryError


@pytest.mark.parametrize("exhaust", [_numpy_out_of_memory, _torch_out_of_memory], ids=["MemoryError", "torch"])
def test_running_out_of_memory_in_run_is_one_line_naming_what_to_lower(tmp_path: Path, monkeypatch, exhaust) -> None:
    from colorbench.data.synthetic import Toon

    def exhausted(self, image_id):
        exhaust()

    monkeypatch.setattr(Toon, "load", exhausted)
    res = CliRunner().invoke(main, ["run", "--models", "floor", "--dataset", "toon", "--no-fid", "--quiet",
                                    "--limit", "2", "--sweep", "1", "--modes", "native", "--out",
                                    str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    line = " ".join(res.output.split())
    assert line.startswith("error: out of memory in `colorbench run`: lower --forward-rows")
    assert "--batch-size" in line and "Traceback" not in res.output
