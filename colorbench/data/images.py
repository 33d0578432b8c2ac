"""Robust image reading for `prepare`: any file → RGB uint8 [H,W,3], or SkippedImage saying why not.

Handles zero-byte, truncated and non-image files, decompression bombs, CMYK, 16-bit, alpha and
palette transparency (composited on white), greyscale and EXIF orientation.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MIN_SIDE = 32  # smaller images carry too little to resize to a training size


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
                im.load()  # decode now: truncation shows up here, not later
                im = ImageOps.exif_transpose(im) or im
                array = _to_rgb(im, path)
    except SkippedImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SkippedImage(path, f"too many pixels, refused as a possible decompression bomb ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise SkippedImage(path, f"not an image Pillow can read (content does not match '{path.suffix}')") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow reports truncated/corrupt data as these
        text = str(exc)
        reason = "truncated image data" if "truncated" in text.lower() else f"corrupt image ({text})"
        raise SkippedImage(path, reason) from exc
    h, w = array.shape[:2]
    if min(h, w) < min_side:
        raise SkippedImage(path, f"too small ({w}×{h} px; need at least {min_side} px on each side)")
    return array


def _to_rgb(im: Image.Image, path: Path) -> np.ndarray:
    """Any Pillow mode → RGB uint8 [H,W,3]."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit (or 32-bit int) greyscale: scale the range down; convert("L") would clip at 255.
        a = np.asarray(im, dtype=np.float64)
        peak = a.max(initial=0)
        if mode.startswith("I;16"):
            top = 65535.0
        else:  # 32-bit ints carry no bit depth: guess it from the values (8-bit, 16-bit or wider)
            top = 255.0 if peak <= 255 else 65535.0 if peak <= 65535 else float(peak)
        g = np.clip(np.rint(a / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if mode == "F":
        a = np.asarray(im, dtype=np.float64)
        scale = 255.0 if a.max(initial=0) <= 1.0 else 1.0  # float images are [0,1] or [0,255]
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
