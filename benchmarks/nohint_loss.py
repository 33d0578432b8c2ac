"""GuidingPainter's reconstruction loss on the training samples given no hint (Nh = 0) against those given hints,
per epoch, from a run's training.csv (the columns nohint_share and loss_rec_nohint_part of its train_step).

    .venv/bin/python benchmarks/nohint_loss.py runs/guidingpainter-openmoji [RUN_DIR …] [--every 6]

An epoch's row holds means over its steps, so L1(Nh = 0) = mean(loss_rec_nohint_part) / mean(nohint_share) and
L1(Nh > 0) = (mean(loss_rec) − mean(loss_rec_nohint_part)) / (1 − mean(nohint_share)): pooled over the epoch's
samples (exact when every batch has the same size).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def split_losses(csv: Path) -> pd.DataFrame:
    """training.csv → per epoch: epoch, nohint_share, l1_nohint, l1_hinted, ratio, val_psnr."""
    rows = pd.read_csv(csv)
    missing = {"nohint_share", "loss_rec_nohint_part", "loss_rec"} - set(rows.columns)
    if missing:
        raise SystemExit(f"nohint_loss: {csv} has no {', '.join(sorted(missing))} column (not a GuidingPainter run "
                         "of a version that logs its no-hint loss)")
    share = rows["nohint_share"]
    out = pd.DataFrame({"epoch": rows["epoch"], "nohint_share": share,
                        "l1_nohint": rows["loss_rec_nohint_part"] / share,
                        "l1_hinted": (rows["loss_rec"] - rows["loss_rec_nohint_part"]) / (1 - share),
                        "val_psnr": rows["val_psnr"]})
    out["ratio"] = out["l1_nohint"] / out["l1_hinted"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run directories holding training.csv")
    ap.add_argument("--every", type=int, default=6, help="print every k-th epoch (and the last)")
    args = ap.parse_args()
    for run in args.runs:
        csv = run / "training.csv"
        if not csv.is_file():
            print(f"nohint_loss: {csv} does not exist", file=sys.stderr)
            return 2
        table = split_losses(csv)
        keep = table[((table["epoch"] - 1) % args.every == 0) | (table["epoch"] == table["epoch"].max())]
        print(f"{run}")
        print(keep.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
