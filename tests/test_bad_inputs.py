"""Bad input, clear errors, nothing lost. `colorbench prepare` skips (and counts) or converts unusable image
files; `colorbench run` turns each set-up mistake into exit code 2 and one line naming the file or thing and
what to do — no traceback — and leaves the earlier results in the output directory untouched."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorbench.checkpoints import save_checkpoint
from colorbench.cli import main
from colorbench.registry import MODELS

from .fakes import TinyPoint, TinyRegion, make_checkpoint, register_fakes
from .plugin_fixture.models import NaNPoint


def _invoke(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)  # an unexpected exception fails the test
    return res.exit_code, res.output


# --------------------------------------------------------------------------------------------- prepare
def _png(array: np.ndarray, **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", **kw)
    return buf.getvalue()


def _noise(h: int = 64, w: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _bomb_png() -> bytes:
    """A few hundred bytes whose header declares 30000×30000 px (900 Mpx): a decompression bomb."""
    data = bytearray(_png(np.zeros((8, 8), np.uint8)))
    ihdr = bytearray(data[12:29])  # b"IHDR" + 13 bytes of header
    ihdr[4:12] = struct.pack(">II", 30000, 30000)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def _cmyk_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("CMYK", (64, 64), (255, 0, 0, 0)).save(buf, format="JPEG", quality=95)  # pure cyan
    return buf.getvalue()


def _png16() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((64, 64), 32768, np.uint16)).save(buf, format="PNG")  # 16-bit mid grey
    return buf.getvalue()


def _palette_with_transparency() -> bytes:
    """Left half palette index 0 (red, declared transparent), right half index 1 (blue)."""
    im = Image.new("P", (64, 64), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(1, (32, 0, 64, 64))
    buf = io.BytesIO()
    im.save(buf, format="PNG", transparency=0)
    return buf.getvalue()


def _mean_rgb(array: np.ndarray) -> np.ndarray:
    return array.reshape(-1, 3).mean(axis=0)


def _check_cmyk(color: np.ndarray) -> None:
    assert np.allclose(_mean_rgb(color), [0, 255, 255], atol=12)  # cyan in RGB


def _check_png16(color: np.ndarray) -> None:
    assert np.allclose(color, 128, atol=1)  # scaled 65535 → 255, not clipped to white


def _check_palette(color: np.ndarray) -> None:
    half = color.shape[1] // 2
    assert np.allclose(_mean_rgb(color[:, : half - 2]), [255, 255, 255], atol=1)  # transparent → white paper
    assert np.allclose(_mean_rgb(color[:, half + 2 :]), [0, 0, 255], atol=1)


PREPARE_CASES: list[tuple[str, str, Callable[[], bytes], str | Callable[[np.ndarray], None]]] = [
    # (case id, file name, content, reason it is skipped | check of the converted colour image)
    ("truncated image", "trunc.png", lambda: _png(_noise(seed=9))[:900], "truncated"),
    ("zero-byte file", "empty.png", lambda: b"", "empty file (0 bytes)"),
    ("non-image with image extension", "notes.jpg", lambda: b"shopping list: eggs, milk\n" * 20, "not an image"),
    ("1x1 image", "dot.png", lambda: _png(np.zeros((1, 1, 3), np.uint8)), "too small (1×1 px"),
    ("decompression bomb", "bomb.png", _bomb_png, "decompression bomb"),
    ("CMYK JPEG", "cmyk.jpg", _cmyk_jpeg, _check_cmyk),
    ("16-bit PNG", "deep.png", _png16, _check_png16),
    ("paletted PNG with transparency", "pal.png", _palette_with_transparency, _check_palette),
]


@pytest.mark.parametrize("case,filename,content,expect", PREPARE_CASES, ids=[c[0] for c in PREPARE_CASES])
def test_prepare_skips_and_counts_or_converts(tmp_path: Path, case: str, filename: str,
                                              content: Callable[[], bytes],
                                              expect: str | Callable[[np.ndarray], None]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"good{i}.png").write_bytes(_png(_noise(seed=i)))
    (src / filename).write_bytes(content())
    code, output = _invoke("prepare", "mine", "--src", str(src), "--data-root", str(tmp_path / "data"),
                           "--size", "32")
    assert code == 0, output
    assert "Traceback" not in output
    manifest = json.loads((tmp_path / "data" / "mine" / "manifest.json").read_text())
    stem = Path(filename).stem
    if isinstance(expect, str):
        assert "4 files seen: 3 prepared, 1 skipped" in " ".join(output.split())
        assert [s["path"] for s in manifest["skipped"]] == [str(src / filename)]
        assert expect in manifest["skipped"][0]["reason"]
        assert stem not in manifest["images"] and len(manifest["images"]) == 3
    else:
        assert manifest["skipped"] == [] and stem in manifest["images"]
        split = manifest["images"][stem]["split"]
        with Image.open(tmp_path / "data" / "mine" / split / "color" / f"{stem}.png") as im:
            assert im.mode == "RGB" and im.size == (32, 32)
            expect(np.asarray(im))


# --------------------------------------------------------------------------------------------- run
@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Checkpoints good and bad, and one finished run directory holding earlier results."""
    register_fakes()
    if "nanpoint" not in MODELS.names():
        MODELS.register("nanpoint", NaNPoint)
    d = tmp_path_factory.mktemp("bad-inputs")
    f = {"point": make_checkpoint(TinyPoint, d / "point.safetensors"),
         "region": make_checkpoint(TinyRegion, d / "region.safetensors"),
         "nan": make_checkpoint(NaNPoint, d / "nan.safetensors")}
    wide = TinyPoint({"width": 0.125})  # tensors of width 0.125 under metadata that says 0.0625
    f["shapes"] = d / "shapes.safetensors"
    save_checkpoint(f["shapes"], wide.state_dict(), {"model": "tinypoint", "config": {"width": 0.0625}})
    f["garbage"] = d / "garbage.safetensors"
    f["garbage"].write_bytes(np.random.default_rng(0).bytes(4096))
    f["truncated"] = d / "truncated.safetensors"
    f["truncated"].write_bytes(f["point"].read_bytes()[: f["point"].stat().st_size // 2])
    f["data_root"] = d / "empty-data-root"
    f["data_root"].mkdir()
    f["a_file"] = d / "a-file.txt"
    f["a_file"].write_text("not a folder")
    f["earlier"] = d / "earlier"
    code, output = _invoke("run", "--models", "", "--dataset", "blobs", "--size", "32", "--limit", "2",
                           "--modes", "native", "--no-fid", "--quiet", "--checkpoint", f"tinypoint={f['point']}",
                           "--out", str(f["earlier"]))
    assert code == 0, output
    assert (f["earlier"] / "records.csv").is_file() and (f["earlier"] / "results.json").is_file()
    return f


def _base(out: Path, *checkpoints: str, dataset: str = "blobs") -> list[str]:
    args = ["run", "--models", "", "--dataset", dataset, "--size", "32", "--limit", "2", "--modes", "native",
            "--no-fid", "--quiet", "--out", str(out)]
    for spec in checkpoints:
        args += ["--checkpoint", spec]
    return args


RUN_CASES: list[tuple[str, Callable[[dict, Path], list[str]], Callable[[dict], list[str]]]] = [
    # (case id, arguments given the files and OUT, substrings the one error line must hold: thing + what to do)
    ("unknown model name",
     lambda f, out: ["run", "--models", "tinypointt", "--dataset", "blobs", "--out", str(out)],
     lambda f: ["unknown model 'tinypointt'", "Did you mean 'tinypoint'"]),
    ("unknown dataset",
     lambda f, out: _base(out, f"tinypoint={f['point']}", dataset="blobz"),
     lambda f: ["unknown dataset 'blobz'", "colorbench prepare blobz --src DIR"]),
    ("dataset not prepared",
     lambda f, out: _base(out, f"tinypoint={f['point']}", dataset="yumi") + ["--data-root", str(f["data_root"])],
     lambda f: ["dataset 'yumi' is not prepared", str(f["data_root"] / "yumi"), "colorbench prepare yumi"]),
    ("checkpoint of another model",
     lambda f, out: _base(out, f"tinypoint={f['region']}"),
     lambda f: [f"{f['region']} is a 'tinyregion' checkpoint", f"--checkpoint tinyregion={f['region']}"]),
    ("checkpoint of other shapes",
     lambda f, out: _base(out, f"tinypoint={f['shapes']}"),
     lambda f: [str(f["shapes"]), "shape mismatch", "--width"]),
    ("corrupt safetensors file",
     lambda f, out: _base(out, f"tinypoint={f['garbage']}"),
     lambda f: [str(f["garbage"]), "not a readable safetensors checkpoint"]),
    ("truncated safetensors file",
     lambda f, out: _base(out, f"tinypoint={f['truncated']}"),
     lambda f: [str(f["truncated"]), "not a readable safetensors checkpoint"]),
    ("missing checkpoint file",
     lambda f, out: _base(out, f"tinypoint={f['point'].with_name('nope.safetensors')}"),
     lambda f: [str(f["point"].with_name("nope.safetensors")), "does not exist"]),
    ("checkpoint spec without a model name",
     lambda f, out: _base(out, str(f["point"])),
     lambda f: ["use NAME=PATH"]),
    ("NaN outputs from a model",
     lambda f, out: _base(out, f"nanpoint={f['nan']}"),
     lambda f: ["nanpoint produced NaN/inf outputs", str(f["nan"]), "pass another --checkpoint"]),
    ("--limit 0",
     lambda f, out: _base(out, f"tinypoint={f['point']}") + ["--limit", "0"],
     lambda f: ["--limit must be a positive number"]),
    ("--size not a multiple of 16",
     lambda f, out: _base(out, f"tinypoint={f['point']}") + ["--size", "40"],
     lambda f: ["--size must be a multiple of 16"]),
    ("--batch-size 0",
     lambda f, out: _base(out, f"tinypoint={f['point']}") + ["--batch-size", "0"],
     lambda f: ["--batch-size", "0 is not in the range"]),
    ("unknown mode",
     lambda f, out: _base(out, f"tinypoint={f['point']}") + ["--modes", "native,sideways"],
     lambda f: ["modes must include 'native' and be among"]),
    ("unwritable output dir",
     lambda f, out: _base(f["a_file"] / "out", f"tinypoint={f['point']}"),
     lambda f: [f"cannot write to output directory {f['a_file'] / 'out'}", "choose another --out"]),
]


def _snapshot(out: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case,make_args,expected", RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_run_setup_errors_exit_2_with_one_clear_line_and_keep_earlier_results(
        tmp_path: Path, files: dict[str, Path], case: str, make_args: Callable, expected: Callable) -> None:
    out = tmp_path / "out"
    shutil.copytree(files["earlier"], out)
    before = _snapshot(out)
    code, output = _invoke(*make_args(files, out))
    assert code == 2, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error")]
    assert len(errors) == 1, output  # one message ...
    for text in expected(files):
        assert text in errors[0], f"{text!r} not in {errors[0]!r}"  # ... naming the thing and what to do
    after = _snapshot(out)
    assert {p: after.get(p) for p in before} == before, "earlier results were changed"
    assert not [p for p in after if p not in before and p.suffix in (".csv", ".json", ".png", ".md")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders (covered by the case above)")
def test_read_only_output_dir_exits_2(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        code, output = _invoke(*_base(out, f"tinypoint={files['point']}"))
    finally:
        out.chmod(0o755)
    assert code == 2 and f"cannot write to output directory {out}" in output
