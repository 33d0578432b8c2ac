"""`colorbench prepare` on a messy folder: identical images never straddle splits, linked folders are read once,
and the one-line summary accounts for every entry it saw, saying each thing once."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from colorbench.cli import main
from colorbench.data.splits import split_of
from colorbench.data.synthetic import Toon

N_DISTINCT = 40


def _folder(tmp_path: Path) -> tuple[Path, list[tuple[str, str]]]:
    """40 distinct images; byte-copies and file links of some of them under other names, chosen so that the plain
    id-hash split would put each copy in another split than its original; a linked folder and a link loop."""
    src, more = tmp_path / "src", tmp_path / "more"
    (src / "sub").mkdir(parents=True)
    more.mkdir()
    toon = Toon("val", 48)
    for i in range(N_DISTINCT):
        Image.fromarray(toon.load(toon.ids()[i])[1]).save(src / f"{i:03d}.png")
    for i in range(3):  # reachable only through a link to a folder outside src
        Image.fromarray(toon.load(toon.ids()[N_DISTINCT + i])[1]).save(more / f"more{i}.png")
    os.symlink(more, src / "sub" / "linked")
    os.symlink(src, src / "sub" / "loop")  # a link back up: must not be read again (or forever)
    (src / ".DS_Store").write_bytes(b"\0")
    (src / "notes.txt").write_text("not an image\n")

    # Copies whose plain E1.2 split differs from their original's: the leak this guards against.
    ids = [f"{i:03d}" for i in range(N_DISTINCT)] + [f"more{i}" for i in range(3)]
    pairs: list[tuple[str, str]] = []
    for original in ids[:N_DISTINCT]:
        for k in range(40):
            name = f"copy{original}_{k}"
            plain = split_of(sorted([*ids, *(c for _, c in pairs), name]), "dups")
            if plain[name] != plain[original]:
                pairs.append((original, name))
                break
        if len(pairs) == 3:
            break
    shutil.copyfile(src / f"{pairs[0][0]}.png", src / f"{pairs[0][1]}.png")
    shutil.copyfile(src / f"{pairs[1][0]}.png", src / f"{pairs[1][1]}.png")
    os.symlink(src / f"{pairs[2][0]}.png", src / f"{pairs[2][1]}.png")  # a link to a file is the same content
    return src, pairs


def test_identical_content_lands_in_one_split_and_every_entry_is_counted(tmp_path: Path) -> None:
    src, pairs = _folder(tmp_path)
    res = CliRunner().invoke(main, ["prepare", "dups", "--src", str(src), "--data-root", str(tmp_path / "data"),
                                    "--size", "32"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "data" / "dups" / "manifest.json").read_text())
    images = manifest["images"]
    for original, copy in pairs:
        assert images[copy]["split"] == images[original]["split"], (original, copy)
        assert images[copy]["duplicate_of"] == original
        assert sorted([original, copy]) in manifest["duplicates"]
    assert {"more0", "more1", "more2"} <= set(images)  # the linked folder was read
    assert not any(i.startswith("loop") for i in images) and len(images) == N_DISTINCT + 3 + len(pairs)
    assert [e["link"] for e in manifest["walk"]["linked_folders"]] == [str(src / "sub" / "linked")]
    assert [e["link"] for e in manifest["walk"]["links_not_read_again"]] == [str(src / "sub" / "loop")]

    out = " ".join(res.output.split())
    seen = re.search(r"(\d+) files seen: (\d+) prepared, (\d+) skipped, (\d+) hidden \(ignored\)", out)
    assert seen, out
    n_seen, n_prepared, n_skipped, n_hidden = map(int, seen.groups())
    # every entry: 40 + 3 copies + 3 behind the link + notes.txt + .DS_Store
    assert (n_seen, n_prepared, n_skipped, n_hidden) == (N_DISTINCT + 3 + 3 + 2, len(images), 1, 1)
    assert f"{len(pairs)} of the prepared images are duplicates of another one" in out
    assert out.count("skipped") == 2  # the notes.txt line, and the summary's count: said once, not twice
    assert out.count("files seen") == 1


def test_a_set_without_duplicates_keeps_its_split(tmp_path: Path) -> None:
    """The grouped split is the plain E1.2 split when no two images share content: prepared sets keep theirs."""
    ids = [f"img{i}" for i in range(200)]
    assert split_of(ids, "yumi", group={i: f"hash-{i}" for i in ids}) == split_of(ids, "yumi")
