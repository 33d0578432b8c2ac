"""Peak memory `prepare` spends on one large image: reads it as `prepare` does (read_rgb, then the area resize to
--size) in a fresh process and prints the peak resident memory above the process's baseline, per source pixel.

    .venv/bin/python benchmarks/prepare_memory.py [--side 9000] [--size 256]

Cases: a 16-bit grey PNG (the ~180 KB file that decodes to 81 Mpx), an RGBA PNG, an 8-bit RGB PNG, all
side×side. The baseline is the process's peak after imports and before the image is opened, so the figure is
what the image costs (the decoded frame, the RGB array, the resize's copy), not the interpreter's libraries.
Target: at most 8 bytes per source pixel in every case (exit code 0 = met; a whole-frame float64 conversion of
the 16-bit PNG took 28).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET = 8.0  # bytes per source pixel

CHILD = """
import json, resource, sys
from colorbench.data.images import read_rgb
from colorbench.data.prepare import resize_area
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rgb = read_rgb(sys.argv[1])
small = resize_area(rgb, int(sys.argv[2]))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"base_kb": base, "peak_kb": peak, "shape": list(rgb.shape)}))
"""


def make(path: Path, kind: str, side: int) -> None:
    import numpy as np
    from PIL import Image

    if kind == "16-bit grey":
        a = np.full((side, side), 30000, np.uint16)
        a[::97] = 60000
        Image.fromarray(a).save(path)
    elif kind == "RGBA":
        a = np.zeros((side, side, 4), np.uint8)
        a[..., 0], a[..., 3] = 200, 128
        a[::97] = 255
        Image.fromarray(a, "RGBA").save(path)
    else:
        a = np.zeros((side, side, 3), np.uint8)
        a[::97] = 255
        Image.fromarray(a).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=9000, help="Source image side in px (default 9000: 81 Mpx).")
    parser.add_argument("--size", type=int, default=256, help="The prepare --size it is resized to.")
    args = parser.parse_args()
    pixels = args.side**2
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"one {args.side}×{args.side} image ({pixels / 1e6:.0f} Mpx) read and resized to {args.size}² as prepare does")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("16-bit grey", "RGBA", "RGB"):
            path = Path(tmp) / f"{kind.replace(' ', '_')}.png"
            make(path, kind, args.side)
            out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(args.size)], capture_output=True,
                                 text=True, check=True)
            r = json.loads(out.stdout)
            extra = (r["peak_kb"] - r["base_kb"]) * 1024
            worst = max(worst, extra / pixels)
            print(f"  {kind:12s} file {path.stat().st_size / 1e3:8.0f} KB   peak above baseline {extra / 2**20:7.0f} MB"
                  f" = {extra / pixels:4.1f} bytes per source pixel")
    met = worst <= TARGET
    print(f"worst {worst:.1f} bytes per source pixel (target ≤ {TARGET:g}): {'met' if met else 'NOT met'}")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
