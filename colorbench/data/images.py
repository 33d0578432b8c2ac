"""Robust image reading for `prepare`: any file → RGB uint8 [H,W,3], or SkippedImage saying why not.

Handles zero-byte, truncated and non-image files, decompression bombs, CMYK, 16-bit, alpha and
palette transparency (composited on white), greyscale and EXIF orientation. Memory stays bounded: every mode
is converted in strips of rows, so a large image costs its decoded frame plus the RGB result (about 7 bytes
per pixel), not the float64 copies of a whole-frame conversion (24+ bytes per pixel;
benchmarks/prepare_memory.py).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MIN_SIDE = 32  # smaller images carry too little to resize to a training size
STRIP_PIXELS = 1 << 20  # pixels converted at once: ~10 MB of temporaries at most, whatever the image size
# EXIF orientation → the Pillow transpose that makes the picture upright (as ImageOps.exif_transpose).
ORIENTATIONS = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
                5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}


class SkippedImage(Exception):
    """A file that cannot be used as an image; `reason` is short and human-readable."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def read_rgb(path: str | Path, min_side: int = MIN_SIDE, max_pixels: int | None = None) -> np.ndarray:
    """Read `path` as RGB uint8 [H,W,3] (EXIF orientation applied) or raise SkippedImage.

    max_pixels: refuse larger images (default Pillow's Image.MAX_IMAGE_PIXELS, the bomb guard).
    """
    path = Path(path)
    try:
        if os.path.getsize(path) == 0:
            raise SkippedImage(path, "empty file (0 bytes)")
    except OSError as exc:
        raise SkippedImage(path, f"cannot read the file ({exc.strerror or exc})") from exc
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; treat both as a bomb.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if limit is not None and im.width * im.height > limit:
                    raise SkippedImage(
                        path, f"{im.width}×{im.height} px exceeds the {limit} pixel limit (decompression bomb guard)"
                    )
                orientation = _orientation(im)
                im.load()  # decode now: truncation shows up here, not later
                array = _to_rgb(im, path)
            del im  # the decoded frame goes before the turned copy is made
            array = orient(array, orientation)  # after the conversion: a transposed copy of the frame is not kept
    except SkippedImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SkippedImage(path, f"too many pixels, refused as a possible decompression bomb ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise SkippedImage(path, f"not an image Pillow can read (content does not match '{os.fsencode(path.suffix).decode(errors='replace')}')") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow reports truncated/corrupt data as these
        text = str(exc)
        reason = "truncated image data" if "truncated" in text.lower() else f"corrupt image ({text})"
        raise SkippedImage(path, reason) from exc
    h, w = array.shape[:2]
    if min(h, w) < min_side:
        raise SkippedImage(path, f"too small ({w}×{h} px; need at least {min_side} px on each side)")
    return array


def exif_orientation(path: str | Path) -> int:
    """The EXIF orientation of an image file (1 = as stored; also for files without one or unreadable)."""
    try:
        with Image.open(path) as im:
            return _orientation(im)
    except (OSError, SyntaxError, ValueError):
        return 1


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)  # the tag ImageOps.exif_transpose reads
    except (OSError, SyntaxError, ValueError):  # a damaged EXIF block: the pixels are still usable as stored
        return 1
    return value if value in ORIENTATIONS else 1


def orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """[H,W(,C)] as EXIF `orientation` says to show it (Pillow's transposes, done by numpy on the uint8 array)."""
    if orientation not in ORIENTATIONS:
        return array
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1], 5: lambda a: a.swapaxes(0, 1),
           6: lambda a: np.rot90(a, -1), 7: lambda a: a[::-1, ::-1].swapaxes(0, 1), 8: lambda a: np.rot90(a, 1)}
    return np.ascontiguousarray(ops[orientation](array))


def _to_rgb(im: Image.Image, path: Path) -> np.ndarray:
    """Any Pillow mode → RGB uint8 [H,W,3], strip by strip: the temporaries stay small whatever the image size
    (numpy's view of a whole frame is a copy of it, made through a bytes object — two more frames)."""
    scale = _grey_scale(im)
    out = np.empty((im.height, im.width, 3), np.uint8)
    rows = max(1, STRIP_PIXELS // max(1, im.width))
    for y in range(0, im.height, rows):
        y1 = min(im.height, y + rows)
        out[y:y1] = _strip_to_rgb(im.crop((0, y, im.width, y1)) if (y, y1) != (0, im.height) else im, path, scale)
    return out


def _grey_scale(im: Image.Image) -> float | None:
    """What maps a 16-bit, 32-bit or float grey image's values to 0..255, from the whole image's peak (so every
    strip is scaled alike): the integer modes' top value, float's factor; None for the other modes."""
    mode = im.mode
    if mode not in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return None
    peak = float(im.getextrema()[1] or 0)
    if mode == "F":
        return 255.0 if peak <= 1.0 else 1.0  # float images are [0,1] or [0,255]
    if mode.startswith("I;16"):
        return 65535.0
    # 32-bit ints carry no bit depth: guess it from the values (8-bit, 16-bit or wider)
    return 255.0 if peak <= 255 else 65535.0 if peak <= 65535 else peak


def _strip_to_rgb(im: Image.Image, path: Path, scale: float | None) -> np.ndarray:
    """A strip of any Pillow mode → RGB uint8 [h,W,3]; `scale` from `_grey_scale`."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit (or 32-bit int) greyscale: scale the range down; convert("L") would clip at 255.
        a = np.asarray(im, dtype=np.float64)
        g = np.clip(np.rint(a / scale * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if mode == "F":
        a = np.asarray(im, dtype=np.float64)
        g = np.clip(np.rint(a * scale), 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if mode == "RGB":
        return np.asarray(im).copy()
    try:
        return np.asarray(im.convert("RGB"))  # L, 1, P, CMYK, YCbCr, ...
    except (ValueError, OSError) as exc:
        raise SkippedImage(path, f"colour mode {mode} cannot be converted to RGB ({exc})") from exc
