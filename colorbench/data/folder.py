"""Folder datasets: a prepared NAME/{train,val,test}/{color,sketch}/<id>.png tree (the official repo's layout)
read with its manifest.json; the fingerprint comes from the files' content hashes (a stat cache spares the re-hash).

Once the fingerprint is taken, every file read is checked against the hash it was made from: a dataset replaced
while a run reads it (`prepare --overwrite` in another shell) stops the run instead of mixing data versions
under one fingerprint.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from colorbench.checkpoints import file_sha256
from colorbench.data.base import SPLITS, ColorDataset, DatasetError
from colorbench.data.statcache import StatCache
from colorbench.data.walk import printable

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "colorbench-prepared/1"
# NRI thresholds of the paper's datasets (Table 1); fixed so that numbers stay comparable with it.
KNOWN_THRESHOLDS: dict[str, float] = {"yumi": 20.5, "tag2pix": 17.5, "celeba": 19.5}
# For any other name, when `prepare --nri-threshold` was not given: yumi's value, the paper's main
# dataset. It is a placeholder for comparability only, not a calibration for the new data.
DEFAULT_NRI_THRESHOLD = 20.5
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif")


def png_name(image_id: str) -> str:
    """The file name of an image id: its UTF-8 bytes + ".png", as a str the file system's encoding can carry
    (under LANG=C that encoding is ASCII and a non-ASCII id could not be opened by its own name)."""
    return os.fsdecode(image_id.encode("utf-8", "surrogateescape") + b".png")


def default_data_root() -> Path:
    """Where prepared datasets live: $COLORBENCH_DATA, else ./data."""
    return Path(os.environ.get("COLORBENCH_DATA") or "data")


def is_prepared(directory: Path) -> bool:
    """True if `directory` holds a manifest or at least one split in the official layout."""
    return (directory / MANIFEST_NAME).is_file() or any((directory / s / "color").is_dir() for s in SPLITS)


def prepared_size(directory: Path) -> int | None:
    """The size a prepared dataset was written at: its manifest's, else (a tree in the official layout made
    elsewhere) the shorter side of its first colour image; None when it has no image."""
    if (directory / MANIFEST_NAME).is_file():
        return int(read_manifest(directory)["size"])
    for split in SPLITS:
        for path in sorted((directory / split / "color").glob("*")):
            if path.suffix.lower() in IMAGE_EXTS:
                with Image.open(path) as im:
                    return min(im.size)
    return None


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path} is unreadable ({exc}); re-run `colorbench prepare` for this dataset") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise DatasetError(f"{path} is not a colorbench manifest ({MANIFEST_FORMAT}); re-run `colorbench prepare`")
    bad = _bad_field(manifest)
    if bad:  # a hand-edited field is named here instead of failing later with a traceback
        raise DatasetError(f"{path}: field {bad!r} has the wrong type or value ({manifest.get(bad)!r:.60}); re-run "
                           "`colorbench prepare` for this dataset")
    return manifest


def _bad_field(manifest: dict[str, Any]) -> str | None:
    """The first manifest field a dataset reads whose type or value is wrong, or None."""
    size, images, nri = manifest.get("size"), manifest.get("images"), manifest.get("nri_threshold")
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        return "size"
    if not isinstance(images, dict) or not all(isinstance(e, dict) and isinstance(e.get("split"), str)
                                               for e in images.values()):
        return "images"
    if nri is not None and (isinstance(nri, bool) or not isinstance(nri, (int, float)) or not math.isfinite(nri)):
        return "nri_threshold"
    if not isinstance(manifest.get("sketch", {}), dict):
        return "sketch"
    return None


class FolderDataset(ColorDataset):
    """A prepared dataset under ROOT/NAME, served at `size` (≤ the prepared size).

    With manifest.json (written by `prepare`) ids, splits and hashes come from it. Without one (a tree
    in the official layout made elsewhere) the split folders are scanned and files are hashed when a
    fingerprint is asked for. At a size below the prepared one, colour and sketch are reduced with
    Pillow's BOX filter (area averaging), so XDoG lines become grey rather than vanish.
    NRI threshold: the paper's value for yumi / tag2pix / celeba, else the manifest's, else 20.5.
    """

    folder: ClassVar[bool] = True
    KNOWN_THRESHOLDS: ClassVar[dict[str, float]] = KNOWN_THRESHOLDS

    def __init__(
        self,
        split: str = "test",
        size: int = 64,
        root: str | Path | None = None,
        limit: int | None = None,
        *,
        name: str | None = None,
        **kw: Any,
    ) -> None:
        if not name:
            raise DatasetError("FolderDataset needs the dataset name (name='yumi')")
        if kw:
            raise DatasetError(f"prepared dataset {name!r} does not take {', '.join(sorted(kw))}")
        super().__init__(split=split, size=size, root=str(root) if root is not None else None, limit=limit)
        self.name = name.strip().lower()  # instance attribute: one class serves every prepared name
        self.data_root = Path(root) if root is not None else default_data_root()
        self.directory = self.data_root / self.name
        if not self.directory.is_dir() or not is_prepared(self.directory):
            raise DatasetError(
                f"dataset {self.name!r} is not prepared under {self.directory}: "
                f"run `colorbench prepare {self.name} --src DIR`"
            )
        if (self.directory / MANIFEST_NAME).is_file():
            self.manifest: dict[str, Any] | None = read_manifest(self.directory)
            self.prepared_size = int(self.manifest["size"])
            self._entries = {
                i: e for i, e in sorted(self.manifest["images"].items()) if e["split"] == self.split
            }
            base = self.directory / self.split
            self._paths = {i: (base / "color" / png_name(i), base / "sketch" / png_name(i)) for i in self._entries}
            declared = self.manifest.get("nri_threshold")
            # Prepared with --input grayscale: colour only, served on its L channel by default (data/grayscale.py).
            self.input_mode = str(self.manifest.get("input", "sketch"))
            self.has_sketches = self.input_mode != "grayscale"
        else:
            self.manifest = None
            self._paths = self._scan()
            self._entries = {i: {} for i in self._paths}
            self.prepared_size = prepared_size(self.directory) or self.size
            declared = None
        self._stats = StatCache(self.directory)
        self._hashes: dict[str, tuple[str, str]] = {}
        self.changed: list[Path] = []  # files whose bytes differ from manifest.json (edited after `prepare`)
        self.nri_threshold = float(
            KNOWN_THRESHOLDS.get(self.name, declared if declared is not None else DEFAULT_NRI_THRESHOLD)
        )
        if self.size > self.prepared_size:
            raise DatasetError(
                f"dataset {self.name!r} was prepared at {self.prepared_size} px, cannot serve {self.size} px: "
                f"use --size {self.prepared_size} or less, or re-run `colorbench prepare {self.name} --src DIR "
                f"--size {self.size}`"
            )

    # -- layout without a manifest ----------------------------------------------------------------
    def _scan(self) -> dict[str, tuple[Path, Path]]:
        base = self.directory / self.split
        if not (base / "color").is_dir():
            return {}
        # printable: a name that is not UTF-8 gets the id `prepare` gives it
        sketches = {printable(p.stem): p for p in sorted((base / "sketch").glob("*")) if p.suffix.lower() in IMAGE_EXTS}
        out = {}
        for p in sorted((base / "color").glob("*")):
            if p.suffix.lower() in IMAGE_EXTS and printable(p.stem) in sketches:
                out[printable(p.stem)] = (p, sketches[printable(p.stem)])
        return out

    # -- the dataset contract ---------------------------------------------------------------------
    def all_ids(self) -> list[str]:
        return list(self._paths)

    input_mode: str = "sketch"
    has_sketches: bool = True

    def load_color(self, image_id: str) -> np.ndarray:
        """The colour image [H,W,3] uint8 at `self.size` alone (what grayscale mode reads)."""
        try:
            color_path, _ = self._paths[image_id]
        except KeyError:
            raise DatasetError(f"{self.name} {self.split} has no image {image_id!r}") from None
        return self._read(color_path, "RGB", self._fingerprinted(image_id, 0))

    def load(self, image_id: str) -> tuple[np.ndarray, np.ndarray]:
        if not self.has_sketches:
            raise DatasetError(f"dataset {self.name!r} was prepared with --input grayscale and has no sketches: "
                               "evaluate it with --input grayscale (its default)")
        try:
            color_path, sketch_path = self._paths[image_id]
        except KeyError:
            raise DatasetError(f"{self.name} {self.split} has no image {image_id!r}") from None
        color = self._read(color_path, "RGB", self._fingerprinted(image_id, 0))
        sketch = self._read(sketch_path, "L", self._fingerprinted(image_id, 1))
        return sketch, color

    def _fingerprinted(self, image_id: str, kind: int) -> str | None:
        """The sha256 the fingerprint took of the image's colour (kind 0) or sketch (1) file; None before one."""
        known = self._hashes.get(image_id)
        return None if known is None or known[kind] == "none" else known[kind]

    def _read(self, path: Path, mode: str, expect: str | None = None) -> np.ndarray:
        """The file at `self.size`; the bytes decoded are the bytes hashed, so a file swapped between the check
        and the decoding cannot slip through."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            during = " (it was there when this run started: was the dataset prepared again meanwhile?)" if expect else ""
            raise DatasetError(f"{path} is missing{during}: re-run `colorbench prepare {self.name} --src DIR`") from None
        except OSError as exc:
            raise DatasetError(f"{path} is unreadable ({exc.strerror}): re-run `colorbench prepare {self.name}`") from exc
        if expect is not None and hashlib.sha256(data).hexdigest() != expect:
            raise DatasetError(
                f"{path} changed while this run was reading dataset {self.name!r} (another `colorbench prepare "
                f"{self.name} --overwrite`, or an edit?): its bytes are no longer those the run's dataset fingerprint "
                "was made from, and one run must not mix two versions of the data. Run again once the dataset is "
                "settled; images finished before the change stay in the cache under the old fingerprint"
            )
        try:
            with Image.open(io.BytesIO(data)) as im:
                im = im.convert(mode)
                if im.size != (self.size, self.size):
                    im = im.resize((self.size, self.size), Image.BOX)
                return np.asarray(im).copy()
        except OSError as exc:
            raise DatasetError(f"{path} is unreadable ({exc}): re-run `colorbench prepare {self.name}`") from exc

    def describe(self) -> dict[str, Any]:
        sketch = (self.manifest or {}).get("sketch", {}).get("method", "unknown (no manifest)")
        out = {"directory": str(self.directory), "prepared_size": self.prepared_size, "sketch": sketch}
        return out | ({"prepared_input": self.input_mode} if not self.has_sketches else {})

    def file_hashes(self, image_id: str) -> tuple[str, str]:
        """(colour sha256, sketch sha256) of one image's files as they are now — not the manifest's, which an
        in-place edit leaves stale — hashed again only when a file's size or times changed (`StatCache`). A file
        that differs from the manifest is added to `changed`."""
        if image_id not in self._hashes:
            entry = self._entries[image_id]
            digests = []
            for path, field in zip(self._paths[image_id], ("color_sha256", "sketch_sha256")):
                if field == "sketch_sha256" and not self.has_sketches:
                    digests.append("none")  # --input grayscale: there is no sketch file
                    continue
                try:
                    digest = self._stats.sha256(path)
                except FileNotFoundError:
                    raise DatasetError(f"{path} is missing: re-run `colorbench prepare {self.name} --src DIR`") from None
                except OSError as exc:
                    raise DatasetError(f"{path} is unreadable ({exc.strerror}): re-run `colorbench prepare "
                                       f"{self.name}`") from exc
                if entry.get(field) not in (None, digest):
                    self.changed.append(path)
                digests.append(digest)
            self._hashes[image_id] = (digests[0], digests[1])
        return self._hashes[image_id]

    def fingerprint(self) -> str:
        """sha256 over name, split, sizes and the files' content hashes: independent of where the data lives, and
        different as soon as a file's bytes are (so cached records of an edited image are never reused)."""
        h = hashlib.sha256()
        h.update(f"folder|{self.name}|{self.split}|{self.size}|{self.prepared_size}".encode())
        for image_id in self.ids():
            color, sketch = self.file_hashes(image_id)
            h.update(f"{image_id}|{color}|{sketch}\0".encode())
        self._stats.save()
        return h.hexdigest()

    def verify(self) -> list[str]:
        """Files of this split whose bytes no longer match the manifest (empty list = all good)."""
        if self.manifest is None:
            return []
        problems = []
        for image_id, (color, sketch) in self._paths.items():
            entry = self._entries[image_id]
            for path, want in ((color, entry["color_sha256"]), (sketch, entry.get("sketch_sha256"))):
                if want is None and not self.has_sketches:
                    continue
                if not path.is_file():
                    problems.append(f"{path}: missing")
                elif file_sha256(path) != want:
                    problems.append(f"{path}: content differs from manifest.json")
        return problems
