"""report.html's pictures, from samples/*.npz (never from models): per pictured image its sketch, ground
truth and, per model, one strip of its outputs at n = 0..K and one of the hints given, each encoded once
as a data URI, within a byte budget.

A strip is one image of K + 1 tiles side by side; the page shows tile n with a CSS background offset, so
an image's 13 outputs cost one encoded file, not 13. Outputs are JPEG at quality 90 without chroma
subsampling (colour edges stay where they are): half the bytes of PNG and 20× faster to encode on a
GAN's noisy outputs, measured on toon; sketches, ground truths and hints are flat, so PNG keeps them exact
in a few hundred bytes. The numbers in the page come from records.csv, never from these pictures.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from colorbench.reports.image_grids import HIGHLIGHT, hwc, sketch_rgb

# The pictures stop here: images past it are listed with their numbers only. 32 toon images with six
# models at 64 px take ~3.6 MB; the page's figures add ~1.5 MB.
PICTURE_BUDGET = 4_000_000  # bytes of base64 text
JPEG_QUALITY = 90
FADED_GREYS = sketch_rgb(np.arange(256, dtype=np.uint8)[None], fade=0.75)[0]  # [256,3]: sketch value → faded


def data_uri(image: np.ndarray, photo: bool = False) -> str:
    """[H,W] or [H,W,3] uint8 → a base64 data URI: PNG (exact), or with `photo` JPEG (4:4:4)."""
    buf = io.BytesIO()
    if photo:
        Image.fromarray(image).save(buf, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
        mime = "image/jpeg"
    else:
        # zlib level 3: 30 % faster than 6 on hint strips for 1.5× their few kB
        Image.fromarray(image).save(buf, format="PNG", compress_level=3)
        mime = "image/png"
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def outline(mask: np.ndarray) -> np.ndarray:
    """[..., H, W] bool → the boundary pixels of each mask (in it, with a 4-neighbour outside it)."""
    inner = mask.copy()
    inner[..., 1:, :] &= mask[..., :-1, :]
    inner[..., :-1, :] &= mask[..., 1:, :]
    inner[..., :, 1:] &= mask[..., :, :-1]
    inner[..., :, :-1] &= mask[..., :, 1:]
    return mask & ~inner


def hint_strip(samples: Mapping[str, np.ndarray], j: int) -> np.ndarray:
    """Image j's hints at every kept n side by side, [H, L·W, 3] uint8: tile n holds the hint colours given
    so far over the faded sketch, the hint added at step n (for region models the region asked for)
    outlined in red; tile 0 the sketch. All levels at once (image_grids' per-tile panels, vectorised)."""
    if "hint_top" in samples:  # the engine's compact hints (records.load_samples): one lookup per pixel in
        # a table of the faded greys (rows 0-255, by sketch value) and the hint colours (rows 256 + i)
        top = samples["hint_top"][j]
        mask = top > 0
        lut = np.concatenate([FADED_GREYS, samples["hint_palette"][j]])
        index = np.where(mask, top.astype(np.uint16) + 256, samples["sketch"][j][None].astype(np.uint16))
        tiles = np.take(lut, index, axis=0)  # [L,H,W,3]
    else:
        mask = samples["hint_mask"][j] > 0
        tiles = np.repeat(sketch_rgb(samples["sketch"][j], fade=0.75)[None], mask.shape[0], axis=0)
        np.copyto(tiles, samples["hint_color"][j].transpose(0, 2, 3, 1), where=mask[..., None])
    levels = mask.shape[0]
    if "regions" in samples:
        asked = samples["regions"][j][None] == np.arange(-1, levels - 1)[:, None, None]
    else:
        asked = mask & ~np.concatenate([np.zeros_like(mask[:1]), mask[:-1]])
    tiles[outline(asked)] = HIGHLIGHT.astype(np.uint8)
    tiles[0] = sketch_rgb(samples["sketch"][j])
    return tiles.transpose(1, 0, 2, 3).reshape(tiles.shape[1], -1, 3)


def strip(tiles: np.ndarray) -> np.ndarray:
    """Equally sized tiles [L,3,H,W] → [H, L·W, 3]."""
    n, c, h, w = tiles.shape
    return tiles.transpose(2, 0, 3, 1).reshape(h, n * w, c)


def image_pictures(samples: Mapping[str, Mapping[str, np.ndarray]], image_id: str) -> dict[str, Any]:
    """One image's pictures: {"sketch", "gt", "variants": {label: {"outputs", "hints"?, "levels"}}} as data
    URIs; `samples` = variant label → its samples arrays (only those holding the image)."""
    out: dict[str, Any] = {"variants": {}}
    for label, s in samples.items():
        j = [str(i) for i in s["image_ids"]].index(image_id)
        if "sketch" not in out:
            out["sketch"] = data_uri(s["sketch"][j])
            out["gt"] = data_uri(hwc(s["gt"][j]))
        levels = s["outputs"].shape[1]
        entry: dict[str, Any] = {"levels": levels, "outputs": data_uri(strip(s["outputs"][j]), photo=True)}
        if levels > 1:
            entry["hints"] = data_uri(hint_strip(s, j))
        out["variants"][label] = entry
    return out


def picture_bytes(pics: Mapping[str, Any]) -> int:
    """Bytes of one image's data URIs (image_pictures)."""
    return len(pics["sketch"]) + len(pics["gt"]) + sum(
        len(v["outputs"]) + len(v.get("hints", "")) for v in pics["variants"].values())


def pictures(samples: Mapping[str, Mapping[str, np.ndarray]], order: Sequence[str],
             budget: int = PICTURE_BUDGET) -> tuple[dict[str, dict[str, Any]], int]:
    """Pictures of the images of `order` that some samples file holds, in that order, until `budget` bytes
    of data URIs; → ({image id: image_pictures}, bytes used)."""
    held = {label: {str(i) for i in s["image_ids"]} for label, s in samples.items()}
    out: dict[str, dict[str, Any]] = {}
    used = 0
    for image_id in order:
        having = {label: s for label, s in samples.items() if image_id in held[label]}
        if not having:
            continue
        pics = image_pictures(having, image_id)
        size = picture_bytes(pics)
        if out and used + size > budget:
            break
        out[image_id] = pics
        used += size
    return out, used


def merge_pictures(parts: Sequence[tuple[dict[str, dict[str, Any]], int]], order: Sequence[str],
                   budget: int = PICTURE_BUDGET) -> tuple[dict[str, dict[str, Any]], int]:
    """`pictures` of `order` from the results of `pictures` on interleaved parts of it (order[k::m], encoded
    side by side): the same images as one call would give. A part stops at the budget no later than the
    whole would, so it holds every image the whole keeps."""
    encoded = {i: p for part, _ in parts for i, p in part.items()}
    out: dict[str, dict[str, Any]] = {}
    used = 0
    for image_id in order:
        if image_id not in encoded:  # no samples file holds it
            continue
        size = picture_bytes(encoded[image_id])
        if out and used + size > budget:
            break
        out[image_id] = encoded[image_id]
        used += size
    return out, used
