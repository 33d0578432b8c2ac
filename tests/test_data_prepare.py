"""`prepare` and folder datasets: robust reading, E1.2 split, layout, manifest, skips, reopening."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorbench.data import DatasetError, open_dataset
from colorbench.data.images import SkippedImage, read_rgb
from colorbench.data.prepare import prepare_dataset
from colorbench.data.synthetic import Toon
from colorbench.data.xdog import xdog_sigma

N_GOOD_TOON = 20
CONVERTED = ("cmyk", "deep16", "rgba", "ptrans", "grey")  # odd but usable files
BAD = {"trunc": "truncated", "zero": "empty", "tiny": "too small", "text": "not an image"}


def _make_source(root: Path) -> Path:
    src = root / "src"
    (src / "sub").mkdir(parents=True)
    toon = Toon("train", 64)
    for i in range(N_GOOD_TOON):
        # a subfolder too: ids are file stems wherever the file sits
        folder = src / "sub" if i % 5 == 0 else src
        Image.fromarray(toon.load(toon.ids()[i])[1]).save(folder / f"{i:03d}.png")
    Image.new("CMYK", (48, 40), (0, 255, 0, 0)).save(src / "cmyk.jpg")
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)).save(src / "deep16.png")
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 128
    Image.fromarray(rgba, "RGBA").save(src / "rgba.png")
    pal = Image.new("P", (40, 40), 1)
    pal.putpalette([0, 0, 255] + [0, 255, 0] + [0] * 762)
    pal.paste(0, (0, 0, 20, 40))  # left half index 0 (blue) = transparent
    pal.save(src / "ptrans.png", transparency=0)
    Image.new("L", (40, 40), 77).save(src / "grey.png")
    data = (src / "001.png").read_bytes()
    (src / "trunc.png").write_bytes(data[: len(data) // 2])
    (src / "zero.png").write_bytes(b"")
    Image.new("RGB", (1, 1), (9, 9, 9)).save(src / "tiny.png")
    (src / "text.png").write_text("this is not a png\n")
    (src / ".DS_Store").write_bytes(b"\0\1")  # hidden files are not read (only counted)
    return src


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    root = tmp_path_factory.mktemp("prep")
    src = _make_source(root)
    report = prepare_dataset("mine", src, root / "out", size=32, progress=False)
    return src, root / "out", report


# -- robust reading -----------------------------------------------------------------------------------
def test_read_rgb_converts_odd_modes(prepared) -> None:
    src, _, _ = prepared
    cmyk = read_rgb(src / "cmyk.jpg")
    assert cmyk.shape == (40, 48, 3) and np.abs(cmyk.astype(int) - [255, 0, 255]).max() < 12
    deep = read_rgb(src / "deep16.png")
    values = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.float64)
    expect = np.rint(values / 65535 * 255)  # scaled down, not clipped at 255
    assert np.abs(deep[..., 0] - expect).max() <= 1 and deep.max() > 200
    assert np.array_equal(deep[..., 0], deep[..., 2])
    rgba = read_rgb(src / "rgba.png")
    assert np.abs(rgba[0, 0].astype(int) - [255, 127, 127]).max() <= 1  # half-transparent red on white
    ptrans = read_rgb(src / "ptrans.png")
    assert (ptrans[:, :20] == 255).all() and (ptrans[:, 20:] == [0, 255, 0]).all()
    grey = read_rgb(src / "grey.png")
    assert grey.shape == (40, 40, 3) and (grey == 77).all()


@pytest.mark.parametrize("stem, words", sorted(BAD.items()))
def test_read_rgb_skips_bad_files_naming_them(prepared, stem: str, words: str) -> None:
    src, _, _ = prepared
    with pytest.raises(SkippedImage) as info:
        read_rgb(src / f"{stem}.png")
    assert words in info.value.reason and f"{stem}.png" in str(info.value)


def test_read_rgb_decompression_bomb_guard(prepared) -> None:
    src, _, _ = prepared
    with pytest.raises(SkippedImage, match="decompression bomb"):
        read_rgb(src / "grey.png", max_pixels=1000)


# -- prepare -------------------------------------------------------------------------------------------
def test_layout_split_and_counts(prepared) -> None:
    _, out, report = prepared
    ids = [f"{i:03d}" for i in range(N_GOOD_TOON)] + list(CONVERTED)
    n = len(ids)
    ranked = sorted(ids, key=lambda i: hashlib.sha256(f"colorbench|split|mine|{i}".encode()).hexdigest())
    n_train, n_val = int(0.81 * n), int(0.09 * n)
    want = {
        "train": ranked[:n_train],
        "val": ranked[n_train : n_train + n_val],
        "test": ranked[n_train + n_val :],
    }
    assert report.counts == {s: len(v) for s, v in want.items()} == {"train": 20, "val": 2, "test": 3}
    for split, split_ids in want.items():
        for kind, mode in (("color", "RGB"), ("sketch", "L")):
            files = sorted(p.stem for p in (out / "mine" / split / kind).iterdir())
            assert files == sorted(split_ids)
            with Image.open(out / "mine" / split / kind / f"{split_ids[0]}.png") as im:
                assert im.size == (32, 32) and im.mode == mode
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_manifest_hashes_params_and_skips(prepared) -> None:
    src, out, report = prepared
    manifest = json.loads((out / "mine" / "manifest.json").read_text())
    assert manifest["size"] == 32 and manifest["versions"]["colorbench"]
    assert manifest["split"]["counts"] == report.counts
    for image_id, entry in manifest["images"].items():
        base = out / "mine" / entry["split"]
        for kind in ("color", "sketch"):
            assert (
                hashlib.sha256((base / kind / f"{image_id}.png").read_bytes()).hexdigest()
                == entry[f"{kind}_sha256"]
            )
        assert hashlib.sha256((src / entry["source"]).read_bytes()).hexdigest() == entry["source_sha256"]
        assert entry["xdog"]["sigma"] == xdog_sigma("mine", image_id)
    skipped = {Path(s["path"]).stem: s["reason"] for s in manifest["skipped"]}
    assert set(skipped) == set(BAD)
    for stem, words in BAD.items():
        assert words in skipped[stem]
    assert len(report.skipped) == len(BAD)


def test_colour_is_area_resized_and_sketch_is_xdog(prepared) -> None:
    src, out, _ = prepared
    manifest = json.loads((out / "mine" / "manifest.json").read_text())
    entry = manifest["images"]["003"]
    color = np.asarray(Image.open(out / "mine" / entry["split"] / "color" / "003.png"))
    original = np.asarray(Image.open(src / "003.png")).astype(np.float64)
    area = original.reshape(32, 2, 32, 2, 3).mean(axis=(1, 3))  # 64 → 32: area = 2×2 mean
    assert np.abs(color - area).max() <= 1
    sketch = np.asarray(Image.open(out / "mine" / entry["split"] / "sketch" / "003.png"))
    assert set(np.unique(sketch)) == {0, 255}


def test_reopen_as_folder_dataset(prepared) -> None:
    _, out, report = prepared
    ds = open_dataset("mine", "train", size=16, root=out)
    assert len(ds) == report.counts["train"] and ds.nri_threshold == 20.5  # the documented default
    item = ds[0]
    assert item["sketch"].shape == (1, 16, 16) and item["color"].shape == (3, 16, 16)
    assert ds.fingerprint() == open_dataset("mine", "train", size=16, root=out).fingerprint()
    assert ds.fingerprint() != open_dataset("mine", "test", size=16, root=out).fingerprint()
    assert ds.verify() == []
    with pytest.raises(DatasetError, match="--size"):
        open_dataset("mine", "train", size=64, root=out)


def test_verify_notices_changed_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    toon = Toon("val", 32)
    for i in range(12):
        Image.fromarray(toon.load(toon.ids()[i])[1]).save(src / f"{i}.png")
    prepare_dataset("tiny", src, tmp_path / "out", size=32, progress=False)
    ds = open_dataset("tiny", "train", size=32, root=tmp_path / "out")
    victim = tmp_path / "out" / "tiny" / "train" / "color" / f"{ds.ids()[0]}.png"
    Image.new("RGB", (32, 32)).save(victim)
    assert any(str(victim) in p for p in ds.verify())


def test_known_names_thresholds_and_option(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    toon = Toon("val", 32)
    for i in range(12):
        Image.fromarray(toon.load(toon.ids()[i])[1]).save(src / f"{i}.png")
    out = tmp_path / "out"
    prepare_dataset("celeba", src, out, size=32, progress=False)
    assert open_dataset("celeba", "train", 32, root=out).nri_threshold == 19.5
    prepare_dataset("comics", src, out, size=32, progress=False, nri_threshold=22.0)
    assert open_dataset("comics", "train", 32, root=out).nri_threshold == 22.0
    with pytest.raises(DatasetError, match="already exists"):
        prepare_dataset("comics", src, out, size=32, progress=False)


def test_duplicate_stems_name_both_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (40, 40)).save(src / "a.png")
    Image.new("RGB", (40, 40)).save(src / "a.jpg")
    with pytest.raises(DatasetError) as info:
        prepare_dataset("dup", src, tmp_path / "out", size=32, progress=False)
    assert "a.png" in str(info.value) and "a.jpg" in str(info.value)
    assert not (tmp_path / "out" / "dup").exists()


def _colour_and_line_art(tmp_path: Path, n: int, line_art: Callable[[int, Image.Image], Image.Image | None]):
    """src/ and lines/ folders of n 32-px toon images; line_art(i, sketch) → the file written for i (None: none)."""
    src, lines = tmp_path / "src", tmp_path / "lines"
    src.mkdir()
    lines.mkdir()
    toon = Toon("val", 32)
    for i in range(n):
        sketch, colour = toon.load(toon.ids()[i])
        Image.fromarray(colour).save(src / f"{i}.png")
        art = line_art(i, Image.fromarray(sketch))
        if art is not None:
            art.save(lines / f"{i}.png")
    return src, lines


def test_given_sketches_are_used_and_missing_ones_skipped(tmp_path: Path) -> None:
    src, lines = _colour_and_line_art(tmp_path, 12, lambda i, art: None if i == 5 else art)
    toon = Toon("val", 32)
    report = prepare_dataset("lined", src, tmp_path / "out", size=32, sketches=lines, progress=False)
    assert sum(report.counts.values()) == 11
    assert [Path(p).stem for p, _ in report.skipped] == ["5"] and "no sketch" in report.skipped[0][1]
    manifest = json.loads((tmp_path / "out" / "lined" / "manifest.json").read_text())
    entry = manifest["images"]["3"]
    written = np.asarray(Image.open(tmp_path / "out" / "lined" / entry["split"] / "sketch" / "3.png"))
    assert np.array_equal(written, toon.load(toon.ids()[3])[0])  # given line art, not XDoG


def test_given_sketches_of_another_shape_are_refused_or_warned_per_pair(tmp_path: Path, capsys) -> None:
    # 1: twice the size (same aspect: warned, used); 2: another aspect ratio (refused); others: same shape
    src, lines = _colour_and_line_art(
        tmp_path, 6, lambda i, art: art.resize((64, 64)) if i == 1 else art.resize((48, 32)) if i == 2 else art)
    report = prepare_dataset("shapes", src, tmp_path / "out", size=32, sketches=lines, progress=False)
    assert [Path(p).stem for p, _ in report.skipped] == ["2"]
    assert "48×32 px, the colour image 32×32 px: another aspect ratio" in report.skipped[0][1]
    err = capsys.readouterr().err.replace("\n", "")
    assert f"warning: {src / '1.png'}: its sketch {lines / '1.png'} is 64×64 px" in err
    images = json.loads((tmp_path / "out" / "shapes" / "manifest.json").read_text())["images"]
    assert images["1"]["sketch_source_size"] == [64, 64] and images["0"]["sketch_source_size"] == [32, 32]
