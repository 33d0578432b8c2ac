"""How far can region hints move PSNR on `toon` at all? The first-n oracle of its ground-truth parts: the n
largest parts of each image take their exact mean colour, the others their palette's mean (the best guess
without a hint). Prints PSNR(n), its steps, the parts' area shares and the last n that still rises ≥ 0.05 dB
(hint_response.py's rule), the bound any region model's curve sits under when its regions are the parts.

    .venv/bin/python benchmarks/part_oracle.py [--size 64] [--limit 256] [--max-n 12]
"""

from __future__ import annotations

import argparse

import numpy as np
from hint_response import RISE_DB, last_rise

from colorbench.data.synthetic import Toon
from colorbench.data.toon_drawing import TOON_PALETTES, TOON_PARTS


def oracle_curve(colour: np.ndarray, parts: np.ndarray, max_n: int) -> tuple[np.ndarray, np.ndarray]:
    """(PSNR(n) for n = 0..max_n, area share of the n-th largest part for n = 1..max_n) of one image.
    colour [H,W,3] uint8, parts [H,W] int labels into TOON_PARTS."""
    target = colour.astype(np.float64)
    pred = np.array([np.mean(TOON_PALETTES[p], axis=0) for p in TOON_PARTS])[parts]
    labels, counts = np.unique(parts, return_counts=True)
    order = labels[np.argsort(-counts, kind="stable")]
    psnr, areas = np.empty(max_n + 1), np.zeros(max_n)
    for n in range(max_n + 1):
        if 1 <= n <= len(order):
            mask = parts == order[n - 1]
            pred[mask] = target[mask].mean(axis=0)
            areas[n - 1] = mask.mean()
        psnr[n] = 10 * np.log10(255.0**2 / np.mean((pred - target) ** 2))
    return psnr, areas


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--limit", type=int, default=256, help="test images (toon has 256)")
    ap.add_argument("--max-n", type=int, default=12)
    args = ap.parse_args(argv)
    ds = Toon("test", args.size, limit=args.limit)
    curves, areas = zip(*(oracle_curve(ds.load(i)[1], ds.parts(i), args.max_n) for i in ds.ids()))
    psnr, share = np.mean(curves, axis=0), 100 * np.mean(areas, axis=0)
    print(f"part_oracle: {len(curves)} toon test images, {args.size} px, parts in area order")
    print(f"  {'n':<8}" + " ".join(f"{n:>6d}" for n in range(args.max_n + 1)))
    print(f"  {'PSNR':<8}" + " ".join(f"{v:6.2f}" for v in psnr))
    print(f"  {'step':<8}{'':>6} " + " ".join(f"{v:+6.3f}" for v in np.diff(psnr)))
    print(f"  {'area %':<8}{'':>6} " + " ".join(f"{v:6.2f}" for v in share))
    print(f"  still rising (≥ {RISE_DB} dB) up to n = {last_rise(psnr)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
