"""Image grids from samples/<variant>.npz (never from models): Fig. 1/14 guidance strips — per step the
region asked for, the accumulated hints, the colorization — and the Fig. 3 grid of all models at equal hints.

samples arrays (colorbench.evaluation.engine): sketch [k,H,W] u8, gt [k,3,H,W] u8, outputs [k,L,3,H,W] u8 (n = 0..L-1),
hint_color [k,L,3,H,W] u8, hint_mask [k,L,H,W] u8, regions [k,H,W] u8 (region models), equalized_outputs.
Grids are composed as one pixel mosaic drawn in a single axes (fast, and tiles stay pixel-exact).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from colorbench.atomic import atomic_write
from colorbench.errors import UsageError

HIGHLIGHT = np.array([255, 40, 40], dtype=np.float64)  # the region asked for, drawn over the sketch
GAP = 0.06  # gap between tiles, as a fraction of the tile size
FRAME = np.array([200, 200, 200], dtype=np.uint8)
TILE_PX = 128  # tiles are upscaled (nearest) to at least this many pixels so 32-64 px images stay legible


def hwc(image_chw: np.ndarray) -> np.ndarray:
    """[3,H,W] u8 → [H,W,3] u8."""
    return np.ascontiguousarray(np.asarray(image_chw).transpose(1, 2, 0))


def sketch_rgb(sketch: np.ndarray, fade: float = 0.0) -> np.ndarray:
    """[H,W] u8 → [H,W,3] u8; `fade` in [0,1] lightens the lines so overlays stand out."""
    s = np.asarray(sketch, dtype=np.float64)
    s = s + (255.0 - s) * fade
    return np.repeat(s[..., None], 3, axis=2).astype(np.uint8)


def asked_region(samples: Mapping[str, np.ndarray], j: int, n: int) -> np.ndarray:
    """[H,W] bool: pixels newly hinted at step n (region S_n for region models, else the new hint mask)."""
    if "regions" in samples:
        return samples["regions"][j] == n - 1
    mask = samples["hint_mask"][j]
    return (mask[n] > 0) & ~(mask[n - 1] > 0)


def region_panel(samples: Mapping[str, np.ndarray], j: int, n: int) -> np.ndarray:
    """The sketch with the region asked at step n highlighted in red (n = 0: the plain sketch)."""
    if n == 0:
        return sketch_rgb(samples["sketch"][j])
    base = sketch_rgb(samples["sketch"][j], fade=0.55).astype(np.float64)
    sel = asked_region(samples, j, n)
    base[sel] = 0.35 * base[sel] + 0.65 * HIGHLIGHT
    return np.clip(base, 0, 255).astype(np.uint8)


def hint_panel(samples: Mapping[str, np.ndarray], j: int, n: int) -> np.ndarray:
    """Accumulated hints at n: hint colours where hinted, the faded sketch elsewhere."""
    base = sketch_rgb(samples["sketch"][j], fade=0.75)
    mask = samples["hint_mask"][j, n] > 0
    base[mask] = hwc(samples["hint_color"][j, n])[mask]
    return base


def mosaic(
    tiles: Sequence[Sequence[np.ndarray | None]], group: int = 0
) -> tuple[np.ndarray, list[float], list[float]]:
    """Rows of equally sized [H,W,3] u8 tiles (None = blank) → (mosaic, column centres, row centres).

    Tiles are upscaled (nearest) to ≥ TILE_PX, framed in light grey (white regions stay visible) and
    separated by white gaps; with `group` = k, every k rows get a wider gap (one test image per group).
    """
    first = next(t for row in tiles for t in row if t is not None)
    h, w = first.shape[:2]
    scale = max(1, int(np.ceil(TILE_PX / max(h, w))))
    th, tw = h * scale, w * scale
    gap = max(2, round(GAP * max(th, tw)))
    nrow, ncol = len(tiles), max(len(r) for r in tiles)
    tops, y = [], 0
    for r in range(nrow):
        if r and group and r % group == 0:
            y += 3 * gap
        tops.append(y)
        y += th + gap
    out = np.full((y - gap, ncol * tw + (ncol - 1) * gap, 3), 255, np.uint8)
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            if tile is not None:
                y0, x0 = tops[r], c * (tw + gap)
                out[y0 : y0 + th, x0 : x0 + tw] = np.repeat(np.repeat(tile, scale, axis=0), scale, axis=1)
                out[y0 : y0 + th, [x0, x0 + tw - 1]] = FRAME
                out[[y0, y0 + th - 1], x0 : x0 + tw] = FRAME
    cols = [c * (tw + gap) + tw / 2 for c in range(ncol)]
    rows = [t + th / 2 for t in tops]
    return out, cols, rows


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans from matplotlib's data (installed with it), so text looks the same on every machine."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def draw_mosaic(
    image: np.ndarray,
    col_centres: list[float],
    col_labels: Sequence[str],
    row_centres: list[float],
    row_labels: Sequence[str],
    path: str | Path,
    title: str = "",
) -> Path:
    """Write the mosaic as PNG with column labels on top, row labels on the left and an optional title.

    Drawn with Pillow: the tiles stay pixel-exact and a large grid takes milliseconds, not seconds.
    """
    font, title_font = _font(15), _font(17, bold=True)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def size(text: str, f: ImageFont.FreeTypeFont) -> tuple[int, int]:
        box = probe.multiline_textbbox((0, 0), text, font=f, spacing=2)
        return box[2] - box[0], box[3] - box[1]

    left = 12 + max((size(t, font)[0] for t in row_labels), default=0)
    head = 10 + max((size(t, font)[1] for t in col_labels), default=0)
    top = head + (size(title, title_font)[1] + 14 if title else 6)
    h, w = image.shape[:2]
    canvas = Image.new("RGB", (left + w + 10, top + h + 10), "white")
    canvas.paste(Image.fromarray(image), (left, top))
    draw = ImageDraw.Draw(canvas)
    if title:
        tw, _ = size(title, title_font)
        draw.text((left + (w - tw) / 2, 6), title, fill="black", font=title_font)
    for x, text in zip(col_centres, col_labels):
        tw, th = size(text, font)
        draw.multiline_text(
            (left + x - tw / 2, top - 6 - th), text, fill="black", font=font, spacing=2, align="center"
        )
    for y, text in zip(row_centres, row_labels):
        tw, th = size(text, font)
        draw.multiline_text(
            (left - 8 - tw, top + y - th / 2), text, fill="black", font=font, spacing=2, align="right"
        )
    path = Path(path)
    # Atomic, as reports.figures.save (and its PNG_COMPRESS level): a killed report leaves no truncated mosaic.
    atomic_write(path, lambda tmp: canvas.save(tmp, format="PNG", optimize=False, compress_level=1))
    return path


def guidance_strip(
    samples: Mapping[str, np.ndarray], path: str | Path, steps: int = 8, title: str = "", max_images: int = 3,
    image_ids: Sequence[str] | None = None, notes: Mapping[str, str] | None = None,
) -> Path:
    """Fig. 1/14: per sample image three rows — region asked, accumulated hints, colorization — over the
    columns n = 0..steps, and a last column with the sketch and the ground truth. `image_ids`: which
    sampled images, in order (reports.figure_choice); default the first `max_images`. `notes`: a line
    under an image's id (e.g. its gain from hints)."""
    k, levels = samples["outputs"].shape[:2]
    if levels < 2:
        raise ValueError("guidance strips need a conditional model (outputs at n = 0 and more)")
    steps = min(steps, levels - 1)
    sampled = [str(x) for x in samples["image_ids"]]
    ids = list(image_ids) if image_ids is not None else sampled[: min(k, max_images)]
    tiles: list[list[np.ndarray | None]] = []
    row_labels: list[str] = []
    for image_id in ids:
        j = sampled.index(image_id)
        tiles.append(
            [region_panel(samples, j, n) for n in range(steps + 1)] + [sketch_rgb(samples["sketch"][j])]
        )
        tiles.append([hint_panel(samples, j, n) for n in range(steps + 1)] + [None])
        tiles.append([hwc(samples["outputs"][j, n]) for n in range(steps + 1)] + [hwc(samples["gt"][j])])
        asked = "region asked" if "regions" in samples else "new hint"
        note = (notes or {}).get(image_id)
        row_labels += [f"{image_id}: {asked}" + (f"\n{note}" if note else ""), "accumulated hints", "colorization"]
    image, cols, rows = mosaic(tiles, group=3)
    col_labels = ["no hint"] + [f"step {n}" for n in range(1, steps + 1)] + ["sketch / GT"]
    return draw_mosaic(image, cols, col_labels, rows, row_labels, path, title)


def qualitative_grid(
    columns: Sequence[tuple[str, Mapping[str, np.ndarray]]],
    path: str | Path,
    n: int = 6,
    max_images: int = 4,
    title: str = "",
    image_ids: Sequence[str] | None = None,
    notes: Mapping[str, str] | None = None,
) -> Path:
    """Fig. 3 (`notes`: a line under an image's id): rows = test images shared by all samples files (`image_ids` of them, in order, when given, else
    the first `max_images`); columns = sketch with the hints of the first
    region model, each model's output at n hints (equalized hints for point/stroke models when recorded,
    n = 0 for automatic ones), ground truth. `columns` = [(display name, samples), …]."""
    if not columns:
        raise ValueError("qualitative grid needs at least one model's samples")
    common = [str(i) for i in columns[0][1]["image_ids"]]
    for _, s in columns[1:]:
        have = {str(i) for i in s["image_ids"]}
        common = [i for i in common if i in have]
    common = [i for i in image_ids if i in common] if image_ids is not None else common[:max_images]
    if not common:
        raise UsageError("the samples files share no image; rerun `colorbench run` with the same --samples")
    guide = next((s for _, s in columns if "regions" in s), columns[0][1])
    ng = min(n, guide["outputs"].shape[1] - 1)
    col_labels = [f"hints (n={ng})" if ng else "sketch"]
    for name, s in columns:
        levels = s["outputs"].shape[1]
        m = min(n, levels - 1)
        col_labels.append(
            f"{name}\n"
            + ("automatic" if levels == 1 else f"n={m}, equalized" if "equalized_outputs" in s else f"n={m}")
        )
    col_labels.append("ground truth")
    tiles: list[list[np.ndarray | None]] = []
    for image_id in common:
        jg = _index(guide, image_id)
        row = [hint_panel(guide, jg, ng) if ng else sketch_rgb(guide["sketch"][jg])]
        for _, s in columns:
            j, levels = _index(s, image_id), s["outputs"].shape[1]
            m = min(n, levels - 1)
            key = "equalized_outputs" if levels > 1 and "equalized_outputs" in s else "outputs"
            row.append(hwc(s[key][j, m]))
        row.append(hwc(guide["gt"][jg]))
        tiles.append(row)
    image, cols, rows = mosaic(tiles)
    labels = [i + (f"\n{notes[i]}" if notes and i in notes else "") for i in common]
    return draw_mosaic(image, cols, col_labels, rows, labels, path, title)


def _index(samples: Mapping[str, np.ndarray], image_id: str) -> int:
    return [str(i) for i in samples["image_ids"]].index(image_id)
