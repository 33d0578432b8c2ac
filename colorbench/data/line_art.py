"""Given line art (`prepare --sketches DIR`): read and turned as its colour image was, checked to fit the colour
image's shape, made grey."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from colorbench.data.images import SkippedImage, exif_orientation, orient, read_rgb
from colorbench.data.walk import printable


def read_line_art(path: Path, sketch_path: Path, rgb: np.ndarray, entry: dict[str, Any], console: Any) -> np.ndarray:
    """The given line art of `path`, turned as its colour image was. Each file's own EXIF orientation is applied
    (read_rgb). Line art without one, paired with a colour file that has one, is taken to be drawn on the colour
    file's stored pixels (what tools that ignore EXIF write) and turned the same way — unless its shape shows it
    was drawn on the upright picture (a 90° orientation, and the line art already has the upright shape)."""
    try:
        line_art = read_rgb(sketch_path)
        own, colour = exif_orientation(sketch_path), exif_orientation(path)
    except SkippedImage as exc:
        raise SkippedImage(path, f"its sketch {printable(str(exc))}") from exc
    if own != 1 or colour == 1:
        return line_art
    (h, w), (sh, sw) = rgb.shape[:2], line_art.shape[:2]
    swaps = colour in (5, 6, 7, 8)  # transpose / rotate 90° / transverse / rotate 270°: width and height swap
    if swaps and (sh, sw) != (sw, sh) and same_aspect((h, w), (sh, sw)):
        return line_art  # already upright: the user drew it on the picture as it is shown
    turned = orient(line_art, colour)
    if not same_aspect((h, w), turned.shape[:2]):
        return line_art  # fits neither way: `sketch_fit` names the mismatch
    entry["sketch_orientation"] = f"EXIF orientation {colour} of the colour file, applied to the line art too"
    if swaps and (sh, sw) != (sw, sh):
        console.print(f"note: {printable(path)} and its sketch {printable(sketch_path)} differ only by the colour "
                      f"file's EXIF rotation (orientation {colour}): the sketch is {sw}×{sh} px as stored, the colour "
                      f"image {w}×{h} px upright; the sketch was turned the same way", markup=False, soft_wrap=True)
    else:
        console.print(f"note: {printable(path)} carries EXIF orientation {colour} and its sketch "
                      f"{printable(sketch_path)} none: the sketch was turned the same way (if it was drawn on the "
                      "upright picture, give it that orientation or re-save the colour image upright)",
                      markup=False, soft_wrap=True)
    return turned


def same_aspect(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether shapes (h, w) a and b have the same aspect ratio within 1 % (then both resize to one square)."""
    return abs((b[1] / b[0]) / (a[1] / a[0]) - 1.0) <= 0.01


def sketch_fit(rgb: np.ndarray, line_art: np.ndarray, path: Path, sketch_path: Path) -> str | None:
    """None when the line art has the colour image's shape; a warning line when only its size differs (both
    are resized to the same square, so the lines still align); SkippedImage when its aspect ratio differs by
    more than 1 % — stretched to the same square, its lines would not lie on the colour image's edges."""
    (h, w), (sh, sw) = rgb.shape[:2], line_art.shape[:2]
    path, sketch_path = printable(path), printable(sketch_path)
    if (h, w) == (sh, sw):
        return None
    if not same_aspect((h, w), (sh, sw)):
        raise SkippedImage(path, f"its sketch {sketch_path} is {sw}×{sh} px, the colour image {w}×{h} px: another "
                                 "aspect ratio, so its lines would not align (crop the line art to the image's shape)")
    return (f"{path}: its sketch {sketch_path} is {sw}×{sh} px, the colour image {w}×{h} px "
            "(same aspect ratio: both resized)")


def gray_u8(rgb: np.ndarray) -> np.ndarray:
    """Given line art → uint8 grey (BT.601), kept grey: the user's lines are used as they are."""
    g = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.rint(g), 0, 255).astype(np.uint8)
