"""A prepared image edited in place: the fingerprint follows the files' bytes, so its records are
recomputed and the run warns naming the file; unchanged files are not hashed again (size + times, stat cache)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorbench.cli import main
from colorbench.data import open_dataset, statcache
from colorbench.data.prepare import prepare_dataset
from colorbench.data.synthetic import Toon
from colorbench.evaluation.records import read_records

from .fakes import TinyPoint, make_checkpoint, register_fakes


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    toon = Toon("val", 32)
    for i in range(24):  # enough for a few test images under the 81:9:10 split
        Image.fromarray(toon.load(toon.ids()[i])[1]).save(src / f"{i:02d}.png")
    prepare_dataset("tiny", src, tmp_path / "data", size=32, progress=False)
    return tmp_path / "data"


def _edit(path: Path) -> None:
    """Change the image's pixels in place, as an image editor would."""
    pixels = np.asarray(Image.open(path).convert("RGB")).copy()
    pixels[: pixels.shape[0] // 2] = 255 - pixels[: pixels.shape[0] // 2]
    Image.fromarray(pixels).save(path)


def test_an_edited_test_image_is_recomputed_not_reused(tmp_path: Path, data_root: Path) -> None:
    register_fakes()
    spec = f"tinypoint={make_checkpoint(TinyPoint, tmp_path / 'p.safetensors')}"
    out = tmp_path / "D"
    args = ["run", "--models", "", "--checkpoint", spec, "--dataset", "tiny", "--data-root", str(data_root),
            "--modes", "native", "--sweep", "2", "--no-fid", "--quiet", "--out", str(out)]
    assert CliRunner().invoke(main, args, catch_exceptions=False).exit_code == 0
    before = read_records(out / "records.csv")
    ids = sorted(set(before["image_id"]))
    victim = data_root / "tiny" / "test" / "color" / f"{ids[0]}.png"
    _edit(victim)

    again = CliRunner().invoke(main, args, catch_exceptions=False)
    assert again.exit_code == 0
    run = json.loads((out / "run.json").read_text())
    assert run["cache"]["entries"]["tinypoint"]["reused_images"] == 0  # nothing measured on the old bytes
    after = read_records(out / "records.csv")
    edited = after["image_id"] == ids[0]
    assert not np.array_equal(after[edited]["psnr"].to_numpy(), before[before["image_id"] == ids[0]]["psnr"].to_numpy())
    assert np.array_equal(after[~edited]["psnr"].to_numpy(), before[before["image_id"] != ids[0]]["psnr"].to_numpy())
    warnings = json.loads((out / "results.json").read_text())["provenance"]["warnings"]
    assert any(str(victim) in w and "manifest.json" in w for w in warnings), warnings


def test_only_files_whose_stat_changed_are_hashed_again(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = open_dataset("tiny", "test", size=32, root=data_root)
    fingerprint = first.fingerprint()
    hashed: list[Path] = []
    real = statcache.file_sha256
    monkeypatch.setattr(statcache, "file_sha256", lambda p: hashed.append(Path(p)) or real(p))
    assert open_dataset("tiny", "test", size=32, root=data_root).fingerprint() == fingerprint
    assert hashed == []  # the stat cache vouches for every unchanged file
    victim = data_root / "tiny" / "test" / "sketch" / f"{first.ids()[-1]}.png"
    _edit(victim)
    edited = open_dataset("tiny", "test", size=32, root=data_root)
    assert edited.fingerprint() != fingerprint
    assert hashed == [victim] and edited.changed == [victim]
