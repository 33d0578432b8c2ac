"""`prepare NAME --src DIR`: a folder of colour images → OUT/NAME/{train,val,test}/{color,sketch}/<id>.png
(the official repo's layout) + manifest.json, per docs/protocol.md E1.1-E1.3.

Resizing: every image becomes size² (aspect not kept, as E1.1) with Pillow's BOX filter, i.e. area
averaging like cv2 INTER_AREA, on each axis that shrinks; an axis that grows uses BILINEAR (what
INTER_AREA does when enlarging). The dataset is built in a hidden staging folder next to the target
and renamed into place at the end, so a crash never leaves a half-prepared dataset behind.

Identical content never straddles splits: images whose prepared colour is the same (byte-identical copies,
links to one file) are one group, which goes to one split (colorbench.data.splits); they are counted and listed.
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

from colorbench.atomic import atomic_write_text, current_umask, sweep_stale, writer_tag
from colorbench.checkpoints import file_sha256
from colorbench.data.base import MAX_SIZE, SPLITS, DatasetError
from colorbench.data.folder import (
    IMAGE_EXTS,
    KNOWN_THRESHOLDS,
    MANIFEST_NAME,
    png_name,
)
from colorbench.data.images import SkippedImage, read_rgb
from colorbench.data.line_art import gray_u8, read_line_art, sketch_fit
from colorbench.data.prepared_manifest import build_manifest, walk_section
from colorbench.data.sketch_quality import line_share, quality_section, quality_warning
from colorbench.data.splits import duplicate_groups, split_of
from colorbench.data.walk import Walk, printable, walk
from colorbench.data.xdog import TAU, xdog


@dataclass
class PrepareReport:
    """What `prepare_dataset` did."""

    name: str
    out_dir: Path
    size: int
    counts: dict[str, int]
    n_files: int  # entries seen under src: files, plus hidden files and folders
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    sketch_method: str = "xdog"
    manifest: Path | None = None
    n_hidden: int = 0  # hidden files and folders (.DS_Store, .git), not read
    n_duplicates: int = 0  # prepared images whose content another prepared image has too (same split)
    n_linked: int = 0  # folder links followed
    n_repeated: int = 0  # folder links to a folder already read (a loop, or a second link): not read again

    @property
    def n_images(self) -> int:
        return sum(self.counts.values())

    def __str__(self) -> str:
        """The summary, each thing once; images + skipped + hidden = every entry seen."""
        c = self.counts
        seen = f"{self.n_files} files seen: {self.n_images} prepared, {len(self.skipped)} skipped"
        seen += f", {self.n_hidden} hidden (ignored)" if self.n_hidden else ""
        extra = []
        if self.n_duplicates:
            are = "is a duplicate" if self.n_duplicates == 1 else "are duplicates"
            extra.append(f"{self.n_duplicates} of the prepared images {are} of another one (same content), each in "
                         "its original's split")
        if self.n_linked:
            extra.append(f"{self.n_linked} linked folder(s) followed")
        if self.n_repeated:
            extra.append(f"{self.n_repeated} link(s) to a folder already read not read again")
        return (
            f"prepared {self.name!r}: {c['train']} train / {c['val']} val / {c['test']} test images at "
            f"{self.size}×{self.size} in {self.out_dir} (sketches: {self.sketch_method}); {seen}"
            + "".join(f"; {e}" for e in extra) + f" (details in {self.manifest})"
        )


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


def _by_stem(files: list[Path], what: str) -> dict[str, Path]:
    """id (file stem, `printable`) → path; two files with one stem is an error naming both."""
    out: dict[str, Path] = {}
    for path in files:
        image_id = printable(path.stem)
        other = out.get(image_id)
        if other is not None:
            raise DatasetError(
                f"two {what} files have the id {image_id!r}: {printable(other)} and {printable(path)}. Ids are file "
                "names without extension and must be unique: rename or remove one"
            )
        out[image_id] = path
    return out


def _check_args(name: str, src: Path, size: int, nri_threshold: float | None, registered: bool = False) -> str:
    key = name.strip().lower()
    if not key or not all(c.isalnum() or c in "-_." for c in key) or key.startswith("."):
        raise DatasetError(f"invalid dataset name {name!r}: use letters, digits, '-', '_' or '.'")
    from colorbench.registry import DATASETS

    if key in DATASETS.names() and not registered:
        raise DatasetError(f"{key!r} is a built-in dataset generated on the fly; prepare under another name")
    if not src.is_dir():
        raise DatasetError(f"source folder {src} does not exist or is not a folder")
    if size < 32 or size % 16 or size > MAX_SIZE:
        raise DatasetError(f"--size must be a multiple of 16 from 32 to {MAX_SIZE}, got {size}")
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
    xdog_params: dict[str, float] | None = None,
    registered: bool = False,
) -> PrepareReport:
    """Resize, sketch (XDoG unless `sketches`), split 81:9:10 and write OUT_ROOT/NAME with manifest.json.
    input_mode "grayscale" (paper supplement B): no sketch is made or kept (only color/), and the manifest's
    "input" makes grayscale the dataset's default mode (colorbench.data.grayscale).

    xdog_params: {"sigma", "tau", "epsilon"} overriding E1.3's (for sketches that come out nearly empty or
    nearly solid: the manifest's "sketch_quality" lists those, and stderr says how many).
    registered: the name is a registered dataset that builds its own folder (colorbench.data.openmoji).

    Unusable files are skipped (printed with the reason to stderr, listed in the manifest). Raises
    DatasetError for problems with the request itself: bad name or size, missing folders, duplicate
    ids, an existing target without `overwrite`, or no usable image at all.
    """
    src = Path(src)
    key = _check_args(name, src, size, nri_threshold, registered)
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

    xdog_params = _check_xdog(xdog_params, sketch_dir, input_mode)

    seen = walk(src)
    by_id, skipped = _sources(seen)
    sketch_by_id = (
        _by_stem([p for p in walk(sketch_dir).files if p.suffix.lower() in IMAGE_EXTS], "sketch") if sketch_dir else {}
    )

    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    out_root.mkdir(parents=True, exist_ok=True)
    for litter in sweep_stale(out_root, ".*.partial"):  # left by a prepare killed with -9; a live one's stays
        console.print(f"removed {litter}, the staging folder of an interrupted prepare", markup=False, soft_wrap=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.{writer_tag()}.", suffix=".partial", dir=out_root))
    # mkdtemp makes the folder 0700; the dataset it becomes gets the mode any new folder gets here, so a shared
    # data root stays readable by the group and others the umask allows (its files are written the same way).
    staging.chmod(0o777 & ~current_umask())
    try:
        images = _process(key, by_id, sketch_by_id, sketch_dir, src, size, staging, skipped, console, progress,
                          kinds, xdog_params)
        if not images:
            raise DatasetError(
                f"no usable image in {src}: {len(seen.files)} files, {len(skipped)} skipped "
                f"(first: {skipped[0][0]}: {skipped[0][1]})" if skipped else f"no image files in {src}"
            )
        duplicates = duplicate_groups(images)
        for group in duplicates:
            for image_id in group[1:]:
                images[image_id]["duplicate_of"] = group[0]
        counts = _split_staged(images, key, seed, staging, kinds)
        manifest = build_manifest(key, src, size, sketch_dir, seed, nri_threshold, counts, images, skipped, xdog_params)
        manifest |= {"duplicates": duplicates, "walk": walk_section(seen)}
        quality = None
        if input_mode == "grayscale":
            manifest |= {"input": "grayscale", "sketch": {"method": "none (--input grayscale)"}}
        else:
            quality = manifest["sketch_quality"] = quality_section(images)
        atomic_write_text(staging / MANIFEST_NAME, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        _move_into_place(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)

    _print_notes(console, skipped, duplicates, seen)
    warning = quality_warning(quality, len(images), str(target / MANIFEST_NAME)) if quality else None
    if warning:
        console.print(f"warning: {warning}", style="yellow", markup=False, soft_wrap=True)
    return PrepareReport(
        key, target, size, counts, seen.n_seen, skipped,
        "none (--input grayscale)" if input_mode == "grayscale" else "given" if sketch_dir else "xdog",
        target / MANIFEST_NAME, n_hidden=len(seen.hidden), n_duplicates=sum(len(g) - 1 for g in duplicates),
        n_linked=len(seen.linked), n_repeated=len(seen.repeated),
    )


def _check_xdog(xdog_params: dict[str, float] | None, sketch_dir: Path | None, input_mode: str) -> dict[str, float]:
    """The --xdog-* values as given (a copy), or DatasetError naming the flag: unknown, out of range, or given
    where no sketch is extracted."""
    xdog_params = dict(xdog_params or {})
    if set(xdog_params) - {"sigma", "tau", "epsilon"}:
        raise DatasetError(f"unknown XDoG parameter(s) {sorted(set(xdog_params) - {'sigma', 'tau', 'epsilon'})}")
    if xdog_params and (sketch_dir is not None or input_mode == "grayscale"):
        raise DatasetError("--xdog-* set how sketches are extracted: there are none to extract with "
                           + ("--sketches" if sketch_dir is not None else "--input grayscale"))
    for flag, value, top in (("sigma", xdog_params.get("sigma", 1.0), 8.0), ("tau", xdog_params.get("tau", TAU), 1.5)):
        if not 0 < value <= top:
            raise DatasetError(f"--xdog-{flag} must be in (0, {top:g}], got {value:g}")
    return xdog_params


def _sources(seen: Walk) -> tuple[dict[str, Path], list[tuple[str, str]]]:
    """The walk's image files by id, and (path, reason) of what is skipped already: unreadable folders, dangling
    links, files of other types."""
    skipped = [(printable(folder), f"cannot read the folder ({why})") for folder, why in seen.unreadable]
    candidates = []
    for path in seen.files:
        if path.is_symlink() and not path.exists():
            skipped.append((printable(path), f"a link to {printable(os.readlink(path))}, which does not exist"))
        elif path.suffix.lower() in IMAGE_EXTS:
            candidates.append(path)
        else:
            skipped.append((printable(path), f"not an image file type ('{printable(path.suffix) or 'no extension'}')"))
    return _by_stem(candidates, "source"), skipped


def _split_staged(images: dict[str, dict[str, Any]], key: str, seed: int, staging: Path,
                  kinds: tuple[str, ...]) -> dict[str, int]:
    """Move staging/{kind}/<id>.png into staging/{split}/{kind}/ by the split rule (splits.split_of, duplicates
    together), note each image's split in its manifest entry; → images per split."""
    splits = split_of(sorted(images), key, seed, {i: e["color_sha256"] for i, e in images.items()})
    for split in SPLITS:
        for kind in kinds:
            (staging / split / kind).mkdir(parents=True)
    for image_id, split in splits.items():
        images[image_id]["split"] = split
        for kind in kinds:
            os.replace(staging / kind / png_name(image_id), staging / split / kind / png_name(image_id))
    for kind in kinds:
        (staging / kind).rmdir()
    return {s: sum(1 for v in splits.values() if v == s) for s in SPLITS}


def _print_notes(console: Any, skipped: list[tuple[str, str]], duplicates: list[list[str]], seen: Walk) -> None:
    """To stderr, once the dataset is in place: each skipped file with its reason, each duplicate group, each
    folder link not read again."""
    for path, reason in skipped:
        console.print(f"skipped {path}: {reason}", markup=False, soft_wrap=True)
    for group in duplicates:
        console.print(f"duplicates (same content, kept in one split): {', '.join(group)}", markup=False,
                      soft_wrap=True)
    for link, real in seen.repeated:
        console.print(f"not read again: {printable(link)} links to {printable(real)}, already read", markup=False,
                      soft_wrap=True)


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
    xdog_params: dict[str, float] | None = None,
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
            entry: dict[str, Any] = {"source": printable(path.relative_to(src).as_posix())}
            try:
                rgb = read_rgb(path)
                entry["source_size"] = [int(rgb.shape[1]), int(rgb.shape[0])]
                color = resize_area(rgb, size)
                sketch = None
                if "sketch" not in kinds:
                    pass
                elif sketch_dir is None:
                    sketch, params = xdog(color, key, image_id, **(xdog_params or {}))
                    entry["xdog"] = params.to_dict()
                else:
                    sketch_path = sketch_by_id.get(image_id)
                    if sketch_path is None:
                        raise SkippedImage(path, f"no sketch named {image_id}.* in {printable(sketch_dir)}")
                    line_art = read_line_art(path, sketch_path, rgb, entry, console)
                    entry["sketch_source_size"] = [int(line_art.shape[1]), int(line_art.shape[0])]
                    note = sketch_fit(rgb, line_art, path, sketch_path)
                    if note:
                        console.print(f"warning: {note}", markup=False, soft_wrap=True)
                    sketch = resize_area(gray_u8(line_art), size)
                    del line_art
                    entry["sketch_source"] = printable(sketch_path.relative_to(sketch_dir).as_posix())
                    entry["sketch_source_sha256"] = file_sha256(sketch_path)
                del rgb
            except SkippedImage as exc:
                skipped.append((printable(path), exc.reason))
                continue
            except MemoryError:  # this image is too large for the memory left: the others may still fit
                reason = "ran out of memory decoding it: shrink this image (or free memory) and prepare again"
                skipped.append((printable(path), reason))
                continue
            if sketch is not None:
                entry["sketch_line_share"] = line_share(sketch)
            entry["source_sha256"] = file_sha256(path)
            for kind, array in (("color", color), ("sketch", sketch))[: len(kinds)]:
                data = _png_bytes(array)
                (staging / kind / png_name(image_id)).write_bytes(data)
                entry[f"{kind}_sha256"] = hashlib.sha256(data).hexdigest()
            images[image_id] = entry
    return images


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
