"""`prepare NAME --src DIR`: a folder of colour images → OUT/NAME/{train,val,test}/{color,sketch}/<id>.png
(the official repo's layout) + manifest.json, per reference-brief E1.1-E1.3.

Resizing: every image becomes size² (aspect not kept, as E1.1) with Pillow's BOX filter, i.e. area
averaging like cv2 INTER_AREA, on each axis that shrinks; an axis that grows uses BILINEAR (what
INTER_AREA does when enlarging). The dataset is built in a hidden staging folder next to the target
and renamed into place at the end, so a crash never leaves a half-prepared dataset behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from colorbench.atomic import atomic_write_text, sweep_stale, writer_tag
from colorbench.checkpoints import file_sha256
from colorbench.data.base import SPLITS, DatasetError
from colorbench.data.folder import (
    DEFAULT_NRI_THRESHOLD,
    IMAGE_EXTS,
    KNOWN_THRESHOLDS,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
)
from colorbench.data.images import SkippedImage, read_rgb
from colorbench.data.xdog import EPSILON, KAPPA, SIGMAS, TAU, xdog

SPLIT_FRACTIONS = (0.81, 0.09)  # train, val; test gets the rest (paper §4.1: 81:9:10)


@dataclass
class PrepareReport:
    """What `prepare_dataset` did."""

    name: str
    out_dir: Path
    size: int
    counts: dict[str, int]
    n_files: int  # files looked at under src
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    sketch_method: str = "xdog"
    manifest: Path | None = None

    @property
    def n_images(self) -> int:
        return sum(self.counts.values())

    def __str__(self) -> str:
        c = self.counts
        return (
            f"prepared {self.name!r}: {c['train']} train / {c['val']} val / {c['test']} test images at "
            f"{self.size}×{self.size} in {self.out_dir} (sketches: {self.sketch_method}); "
            f"{len(self.skipped)} of {self.n_files} files skipped (reasons in {self.manifest})"
        )


def split_of(ids: list[str], name: str, seed: int = 0) -> dict[str, str]:
    """E1.2: rank ids by sha256("colorbench|split|NAME|id") and cut 81:9:10 (floor, floor, rest).

    seed 0 is the normative split; another seed salts the hash (",seed=N") for a different one.
    """
    salt = "" if seed == 0 else f"|seed={seed}"
    ranked = sorted(ids, key=lambda i: hashlib.sha256(f"colorbench|split|{name}|{i}{salt}".encode()).hexdigest())
    n = len(ranked)
    n_train, n_val = int(np.floor(SPLIT_FRACTIONS[0] * n)), int(np.floor(SPLIT_FRACTIONS[1] * n))
    out = {i: "train" for i in ranked[:n_train]}
    out.update({i: "val" for i in ranked[n_train : n_train + n_val]})
    out.update({i: "test" for i in ranked[n_train + n_val :]})
    return out


def resize_area(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 [H,W] or [H,W,3] → size×size: BOX (area) on a shrinking axis, BILINEAR on a growing one."""
    im = Image.fromarray(image)
    w, h = im.size
    if w >= size and h >= size:
        return np.asarray(im.resize((size, size), Image.BOX))
    # Axes differ in direction (or both grow): one pass per axis with the filter that fits it.
    im = im.resize((size, h), Image.BOX if w >= size else Image.BILINEAR)
    im = im.resize((size, size), Image.BOX if h >= size else Image.BILINEAR)
    return np.asarray(im)


def _png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _walk(root: Path) -> list[Path]:
    """Every non-hidden file under root, sorted (hidden files and folders, e.g. .DS_Store, are ignored)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out.extend(Path(dirpath) / f for f in filenames if not f.startswith("."))
    return sorted(out)


def _by_stem(files: list[Path], what: str) -> dict[str, Path]:
    """id (file stem) → path; two files with one stem is an error naming both."""
    out: dict[str, Path] = {}
    for path in files:
        other = out.get(path.stem)
        if other is not None:
            raise DatasetError(
                f"two {what} files have the id {path.stem!r}: {other} and {path}. Ids are file names without "
                "extension and must be unique: rename or remove one"
            )
        out[path.stem] = path
    return out


def _check_args(name: str, src: Path, size: int, nri_threshold: float | None) -> str:
    key = name.strip().lower()
    if not key or not all(c.isalnum() or c in "-_." for c in key) or key.startswith("."):
        raise DatasetError(f"invalid dataset name {name!r}: use letters, digits, '-', '_' or '.'")
    from colorbench.registry import DATASETS

    if key in DATASETS.names():
        raise DatasetError(f"{key!r} is a built-in dataset generated on the fly; prepare under another name")
    if not src.is_dir():
        raise DatasetError(f"source folder {src} does not exist or is not a folder")
    if size < 32 or size % 16:
        raise DatasetError(f"--size must be a multiple of 16 and at least 32, got {size}")
    if key in KNOWN_THRESHOLDS and nri_threshold is not None and nri_threshold != KNOWN_THRESHOLDS[key]:
        raise DatasetError(
            f"{key!r} uses the paper's NRI threshold {KNOWN_THRESHOLDS[key]} dB; --nri-threshold is for other names"
        )
    return key


def prepare_dataset(
    name: str,
    src: str | Path,
    out_root: str | Path,
    size: int = 256,
    sketches: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
    nri_threshold: float | None = None,
    overwrite: bool = False,
    input_mode: str = "sketch",
) -> PrepareReport:
    """Resize, sketch (XDoG unless `sketches`), split 81:9:10 and write OUT_ROOT/NAME with manifest.json.
    input_mode "grayscale" (paper supplement B): no sketch is made or kept (only color/), and the manifest's
    "input" makes grayscale the dataset's default mode (colorbench.data.grayscale).

    Unusable files are skipped (printed with the reason to stderr, listed in the manifest). Raises
    DatasetError for problems with the request itself: bad name or size, missing folders, duplicate
    ids, an existing target without `overwrite`, or no usable image at all.
    """
    src = Path(src)
    key = _check_args(name, src, size, nri_threshold)
    if input_mode not in ("sketch", "grayscale"):
        raise DatasetError(f"--input must be sketch or grayscale, got {input_mode!r}")
    kinds = ("color",) if input_mode == "grayscale" else ("color", "sketch")
    out_root = Path(out_root)
    target = out_root / key
    if target.exists() and not overwrite:
        raise DatasetError(f"{target} already exists: delete it (or pass --overwrite) to prepare {key!r} again")
    sketch_dir = Path(sketches) if sketches is not None else None
    if sketch_dir is not None and not sketch_dir.is_dir():
        raise DatasetError(f"sketch folder {sketch_dir} does not exist or is not a folder")

    files = _walk(src)
    skipped: list[tuple[str, str]] = []
    candidates = []
    for path in files:
        if path.suffix.lower() in IMAGE_EXTS:
            candidates.append(path)
        else:
            skipped.append((str(path), f"not an image file type ('{path.suffix or 'no extension'}')"))
    by_id = _by_stem(candidates, "source")
    sketch_by_id = (
        _by_stem([p for p in _walk(sketch_dir) if p.suffix.lower() in IMAGE_EXTS], "sketch") if sketch_dir else {}
    )

    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    out_root.mkdir(parents=True, exist_ok=True)
    for litter in sweep_stale(out_root, ".*.partial"):  # left by a prepare killed with -9; a live one's stays
        console.print(f"removed {litter}, the staging folder of an interrupted prepare", markup=False, soft_wrap=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.{writer_tag()}.", suffix=".partial", dir=out_root))
    try:
        images = _process(key, by_id, sketch_by_id, sketch_dir, src, size, staging, skipped, console, progress,
                          kinds)
        if not images:
            raise DatasetError(
                f"no usable image in {src}: {len(files)} files, {len(skipped)} skipped "
                f"(first: {skipped[0][0]}: {skipped[0][1]})" if skipped else f"no image files in {src}"
            )
        splits = split_of(sorted(images), key, seed)
        for split in SPLITS:
            for kind in kinds:
                (staging / split / kind).mkdir(parents=True)
        for image_id, split in splits.items():
            images[image_id]["split"] = split
            for kind in kinds:
                os.replace(staging / kind / f"{image_id}.png", staging / split / kind / f"{image_id}.png")
        for kind in kinds:
            (staging / kind).rmdir()
        counts = {s: sum(1 for v in splits.values() if v == s) for s in SPLITS}
        manifest = _manifest(key, src, size, sketch_dir, seed, nri_threshold, counts, images, skipped)
        if input_mode == "grayscale":
            manifest |= {"input": "grayscale", "sketch": {"method": "none (--input grayscale)"}}
        atomic_write_text(staging / MANIFEST_NAME, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        _move_into_place(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)

    for path, reason in skipped:
        console.print(f"skipped {path}: {reason}", markup=False, soft_wrap=True)
    console.print(f"{len(skipped)} of {len(files)} files skipped", markup=False, soft_wrap=True)
    return PrepareReport(
        key, target, size, counts, len(files), skipped,
        "none (--input grayscale)" if input_mode == "grayscale" else "given" if sketch_dir else "xdog",
        target / MANIFEST_NAME
    )


def _process(
    key: str,
    by_id: dict[str, Path],
    sketch_by_id: dict[str, Path],
    sketch_dir: Path | None,
    src: Path,
    size: int,
    staging: Path,
    skipped: list[tuple[str, str]],
    console: Any,
    progress: bool,
    kinds: tuple[str, ...] = ("color", "sketch"),
) -> dict[str, dict[str, Any]]:
    """Read, resize and sketch every image into staging/{color,sketch}/<id>.png; returns manifest entries.
    kinds ("color",) (--input grayscale): no sketch is made."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    for kind in kinds:
        (staging / kind).mkdir()
    images: dict[str, dict[str, Any]] = {}
    columns = (TextColumn(f"prepare {key}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, disable=not progress, transient=True) as bar:
        task = bar.add_task("images", total=len(by_id))
        for image_id, path in sorted(by_id.items()):
            bar.advance(task)
            entry: dict[str, Any] = {"source": path.relative_to(src).as_posix()}
            try:
                rgb = read_rgb(path)
                entry["source_size"] = [int(rgb.shape[1]), int(rgb.shape[0])]
                color = resize_area(rgb, size)
                sketch = None
                if "sketch" not in kinds:
                    pass
                elif sketch_dir is None:
                    sketch, params = xdog(color, key, image_id)
                    entry["xdog"] = params.to_dict()
                else:
                    sketch_path = sketch_by_id.get(image_id)
                    if sketch_path is None:
                        raise SkippedImage(path, f"no sketch named {image_id}.* in {sketch_dir}")
                    try:
                        line_art = read_rgb(sketch_path)
                    except SkippedImage as exc:
                        raise SkippedImage(path, f"its sketch {exc}") from exc
                    entry["sketch_source_size"] = [int(line_art.shape[1]), int(line_art.shape[0])]
                    note = _sketch_fit(rgb, line_art, path, sketch_path)
                    if note:
                        console.print(f"warning: {note}", markup=False, soft_wrap=True)
                    sketch = resize_area(_gray_u8(line_art), size)
                    entry["sketch_source"] = sketch_path.relative_to(sketch_dir).as_posix()
                    entry["sketch_source_sha256"] = file_sha256(sketch_path)
            except SkippedImage as exc:
                skipped.append((str(path), exc.reason))
                continue
            entry["source_sha256"] = file_sha256(path)
            for kind, array in (("color", color), ("sketch", sketch))[: len(kinds)]:
                data = _png_bytes(array)
                (staging / kind / f"{image_id}.png").write_bytes(data)
                entry[f"{kind}_sha256"] = hashlib.sha256(data).hexdigest()
            images[image_id] = entry
    return images


def _sketch_fit(rgb: np.ndarray, line_art: np.ndarray, path: Path, sketch_path: Path) -> str | None:
    """None when the line art has the colour image's shape; a warning line when only its size differs (both
    are resized to the same square, so the lines still align); SkippedImage when its aspect ratio differs by
    more than 1 % — stretched to the same square, its lines would not lie on the colour image's edges."""
    (h, w), (sh, sw) = rgb.shape[:2], line_art.shape[:2]
    if (h, w) == (sh, sw):
        return None
    if abs((sw / sh) / (w / h) - 1.0) > 0.01:
        raise SkippedImage(path, f"its sketch {sketch_path} is {sw}×{sh} px, the colour image {w}×{h} px: another "
                                 "aspect ratio, so its lines would not align (crop the line art to the image's shape)")
    return (f"{path}: its sketch {sketch_path} is {sw}×{sh} px, the colour image {w}×{h} px "
            "(same aspect ratio: both resized)")


def _gray_u8(rgb: np.ndarray) -> np.ndarray:
    """Given line art → uint8 grey (BT.601), kept grey: the user's lines are used as they are."""
    g = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.rint(g), 0, 255).astype(np.uint8)


def _manifest(
    key: str,
    src: Path,
    size: int,
    sketch_dir: Path | None,
    seed: int,
    nri_threshold: float | None,
    counts: dict[str, int],
    images: dict[str, dict[str, Any]],
    skipped: list[tuple[str, str]],
) -> dict[str, Any]:
    import PIL

    from colorbench.versions import versions

    threshold = KNOWN_THRESHOLDS.get(key, nri_threshold if nri_threshold is not None else DEFAULT_NRI_THRESHOLD)
    if key in KNOWN_THRESHOLDS:
        note = "paper's threshold for this dataset (Table 1)"
    elif nri_threshold is not None:
        note = "given with --nri-threshold"
    else:
        note = "default (yumi's value), not calibrated for this data: pass --nri-threshold to set one"
    sketch: dict[str, Any] = (
        {"method": "xdog", "spec": "reference-brief E1.3", "sigmas": list(SIGMAS), "kappa": KAPPA, "tau": TAU,
         "epsilon": EPSILON, "gray": "BT.601 on [0,1] float32", "blur": "OpenCV-equivalent Gaussian, REFLECT_101"}
        if sketch_dir is None
        else {"method": "given", "dir": str(sketch_dir.resolve()), "gray": "BT.601, resized like the colour"}
    )  # fmt: skip
    return {
        "format": MANIFEST_FORMAT,
        "name": key,
        "size": size,
        "source": {"dir": str(src.resolve())},
        "resize": "Pillow BOX (area) on shrinking axes, BILINEAR on growing ones; aspect ratio not kept (E1.1)",
        "sketch": sketch,
        "split": {"rule": "sha256('colorbench|split|NAME|id') ascending; floor(.81N) train, floor(.09N) val, "
                  "rest test (E1.2)", "seed": seed, "counts": counts},
        "nri_threshold": threshold,
        "nri_threshold_note": note,
        "versions": {**versions(), "pillow": PIL.__version__},
        "images": images,
        "skipped": [{"path": p, "reason": r} for p, r in skipped],
    }


def _move_into_place(staging: Path, target: Path) -> None:
    """Rename the finished staging folder to `target` (replacing an old one only after success)."""
    # The old folder's name carries this process's tag: a kill -9 before it is deleted leaves litter that the
    # next prepare sweeps (`sweep_stale`), not a hidden copy of the dataset kept forever.
    old = target.with_name(f".{target.name}.{writer_tag()}.old.partial") if target.exists() else None
    try:
        if old is not None:
            os.replace(target, old)
        os.replace(staging, target)
    except BaseException:  # Ctrl-C or SIGTERM between the two renames: the old dataset goes back in place
        if old is not None and old.exists() and not target.exists():
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
