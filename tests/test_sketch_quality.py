"""`prepare` reports sketch quality: each image's line-pixel share in the manifest, nearly empty and nearly solid
sketches listed, and one warning with their count pointing to the docs; --xdog-* change the extraction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from colorbench.cli import main
from colorbench.data.synthetic import Toon


def _prepare(tmp_path: Path, name: str, *extra: str) -> tuple[int, str, dict]:
    res = CliRunner().invoke(main, ["prepare", name, "--src", str(tmp_path / "src"), "--data-root",
                                    str(tmp_path / "data"), "--size", "32", *extra], catch_exceptions=False)
    manifest_path = tmp_path / "data" / name / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    return res.exit_code, " ".join(res.output.split()), manifest


def _toon_folder(tmp_path: Path, n: int) -> Toon:
    (tmp_path / "src").mkdir()
    toon = Toon("val", 32)
    for i in range(n):
        Image.fromarray(toon.load(toon.ids()[i])[1]).save(tmp_path / "src" / f"{i:02d}.png")
    return toon


def test_blank_and_solid_sketches_are_listed_and_warned_about(tmp_path: Path) -> None:
    toon = _toon_folder(tmp_path, 12)
    lines = tmp_path / "lines"
    lines.mkdir()
    for i in range(12):
        art = toon.load(toon.ids()[i])[0]
        if i in (2, 5, 7):
            art = np.full_like(art, 255)  # blank: the export lost the lines
        elif i == 9:
            art = np.zeros_like(art)  # solid black
        Image.fromarray(art).save(lines / f"{i:02d}.png")
    code, out, manifest = _prepare(tmp_path, "lined", "--sketches", str(lines))
    assert code == 0, out
    quality = manifest["sketch_quality"]
    assert quality["nearly_empty"] == ["02", "05", "07"] and quality["nearly_solid"] == ["09"]
    assert manifest["images"]["02"]["sketch_line_share"] == 0.0 and manifest["images"]["09"]["sketch_line_share"] == 1.0
    assert 0.02 < manifest["images"]["00"]["sketch_line_share"] < 0.4
    assert ("warning: 4 of 12 sketches look unusable: 3 nearly empty (< 2% line pixels), 1 nearly solid (> 40%)"
            in out)
    assert "docs/own-data.md" in out and out.count("sketches look unusable") == 1


def test_good_sketches_give_no_warning_and_xdog_flags_are_recorded(tmp_path: Path) -> None:
    _toon_folder(tmp_path, 12)
    code, out, default = _prepare(tmp_path, "plain")
    assert code == 0 and "unusable" not in out
    assert default["sketch_quality"]["nearly_empty"] == default["sketch_quality"]["nearly_solid"] == []
    code, out, tuned = _prepare(tmp_path, "tuned", "--xdog-tau", "0.99", "--xdog-sigma", "0.8")
    assert code == 0, out
    entry = tuned["images"]["00"]["xdog"]
    assert (entry["tau"], entry["sigma"]) == (0.99, 0.8) and tuned["sketch"]["tau"] == 0.99
    assert tuned["sketch"]["sigmas"] == [0.8]
    assert tuned["sketch_quality"]["median_line_share"] > default["sketch_quality"]["median_line_share"]
    code, out, _ = _prepare(tmp_path, "refused", "--xdog-tau", "0.99", "--sketches", str(tmp_path / "src"))
    assert code == 2 and "--xdog-*" in out
