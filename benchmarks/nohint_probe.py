"""What a colorizer paints with no hint at all (n = 0), where on the image, and — for GuidingPainter — what g
would paint at n = 0 with the regions it sees in training instead of those of evaluation.

    .venv/bin/python benchmarks/nohint_probe.py CHECKPOINT [CHECKPOINT …] --dataset openmoji [--split test]
        [--png grid.png]   # ground truth over each checkpoint's n = 0 output, 12 images a row
        [--brief]          # the n = 0 line of each checkpoint only (e.g. one per epoch of a run)

Prints, per checkpoint, over the split's images at n = 0: PSNR; the mean |Ŷ − Y| (in [0,1] units) and the mean
output RGB on the background (ground-truth pixels that are white, ≥ 0.94 in every channel) and on the drawing
(the rest), and the background's share of the squared error. For a region model also: the share of the background inside its first (largest) region, which every
training sample with Nh ≥ 1 hints; PSNR at n = 0 with the regions g sees in training (f in training mode,
its argmax: g_regions "argmax"; with the Gumbel sample: g_regions "sample") with their pixel agreement; and
half the images at n = 0, half at n = 4 in one batch with g's running or its batch statistics.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch

from colorbench.api import HintKind, Hints
from colorbench.checkpoints import load_checkpoint
from colorbench.data import open_dataset
from colorbench.hints import simulate
from colorbench.metrics.psnr import psnr
from colorbench.training.loop import build_model

WHITE = 0.94  # a ground-truth pixel at least this bright in R, G and B (of 1) is background


def load(path: Path) -> torch.nn.Module:
    tensors, meta = load_checkpoint(path)
    model = build_model(meta["model"], meta["config"])
    model.load_state_dict({k: v.float() for k, v in tensors.items() if not k.startswith("optim/")}, strict=False)
    return model.eval()


def describe(name: str, pred: torch.Tensor, color: torch.Tensor) -> str:
    """pred, color [B,3,H,W] in [-1,1] → one line: PSNR and the background/drawing error and colour."""
    y, p = (color + 1) / 2, (pred.clamp(-1, 1) + 1) / 2
    bg = (y >= WHITE).all(dim=1, keepdim=True).expand_as(y)
    err = (p - y).abs()
    sq = (p - y).pow(2)
    bg_share = float(sq[bg].sum() / sq.sum().clamp_min(1e-12))  # of the squared error PSNR is computed from
    rgb_bg = [float(p[:, c][bg[:, c]].mean()) for c in range(3)]
    rgb_fg = [float(p[:, c][~bg[:, c]].mean()) for c in range(3)]
    return (f"{name:<34} PSNR {float(psnr(pred, color).mean()):6.2f} dB | background ({float(bg.float().mean()):.0%}) "
            f"L1 {float(err[bg].mean()):.3f} RGB ({', '.join(f'{v:.2f}' for v in rgb_bg)}) | drawing L1 "
            f"{float(err[~bg].mean()):.3f} RGB ({', '.join(f'{v:.2f}' for v in rgb_fg)}) | background's share of the "
            f"squared error {bg_share:.0%}")


@torch.inference_mode()
def probe(path: Path, sketch: torch.Tensor, color: torch.Tensor, brief: bool = False) -> torch.Tensor:
    """Print the n = 0 lines of one checkpoint; → its n = 0 outputs [B,3,H,W] in [-1,1]."""
    model = load(path)
    b, _, h, w = sketch.shape
    none = Hints.empty(b, h, w)
    output = model.colorize(sketch, none)
    if brief:
        print(describe(path.name, output, color))
        return output
    print(f"{path}  ({type(model).__name__}, {b} images)")
    print("  " + describe("n = 0 (evaluation)", output, color))
    y = (color + 1) / 2
    print("  " + describe("ground truth", color, color))
    if type(model).hint_kind is not HintKind.REGION:
        return output
    regions = model.propose_regions(sketch)  # [B,Nc,H,W], priority order
    bg = (y >= WHITE).all(dim=1)  # [B,H,W]
    first = regions[:, 0].bool()
    print(f"  regions per image {float((regions.flatten(2).amax(2) > 0).sum(1).float().mean()):.1f}; first region = "
          f"{float(first.float().mean()):.0%} of the image and holds {float((first & bg).sum() / bg.sum()):.0%} of "
          f"the background; background share of the first region {float((first & bg).sum() / first.sum()):.0%}")
    # The regions g sees in training: f in training mode (BatchNorm on batch statistics), argmax or Gumbel sample.
    model.seg.train()
    logits = model.seg(sketch).float()
    model.seg.eval()
    from colorbench.guidingpainter.segmentation import one_hot_argmax, st_gumbel

    train_argmax = model._ordered(one_hot_argmax(logits))
    gen = torch.Generator().manual_seed(0)
    train_sample = model._ordered(st_gumbel(logits, 0.1, gen))
    for name, s in (("train-mode f, argmax", train_argmax), ("train-mode f, Gumbel sample", train_sample)):
        agree = float((s.argmax(1) == regions.argmax(1)).float().mean())
        print("  " + describe(f"n = 0, {name}", model.colorize(sketch, Hints(none.color, none.mask, s)), color)
              + f" | pixels in the same region as evaluation's {agree:.0%}")
    mean1 = (color * regions[:, :1]).sum((2, 3), keepdim=True) / regions[:, :1].sum((2, 3), keepdim=True).clamp_min(1)
    one = Hints(mean1 * regions[:, :1], regions[:, :1], regions)
    print("  " + describe("n = 1 (first region hinted)", model.colorize(sketch, one), color))
    # g's BatchNorm: half the images at n = 0, half at n = 4 in one batch, with the running statistics
    # (inference) and with the batch's own (as in training, where 1 sample in 8 has Nh = 0).
    seq = simulate(HintKind.REGION, color, list(range(b)), regions=regions)
    n = torch.where(torch.arange(b) % 2 == 0, 0, 4)
    mixed = seq.at(n)
    zero = n == 0
    for name, train_mode in (("running statistics", False), ("batch statistics", True)):
        g = copy.deepcopy(model)
        g.gen.train(train_mode)
        pred = g.colorize(sketch, mixed)
        print("  " + describe(f"n = 0 half, g with {name}", pred[zero], color[zero])
              + f" | n = 4 half {float(psnr(pred[~zero], color[~zero]).mean()):.2f} dB")
    return output


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--dataset", default="openmoji")
    ap.add_argument("--split", default="test")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--brief", action="store_true", help="one line per checkpoint: its n = 0 output only")
    ap.add_argument("--png", type=Path, help="write the ground truth and every checkpoint's n = 0 outputs here")
    args = ap.parse_args()
    ds = open_dataset(args.dataset, args.split, size=args.size)
    items = [ds.get(i) for i in ds.ids()]
    sketch = torch.stack([it["sketch"] for it in items])
    color = torch.stack([it["color"] for it in items])
    rows = [color[:12]] + [probe(path, sketch, color, args.brief)[:12] for path in args.checkpoints]
    if args.png:
        from torchvision.utils import save_image

        save_image((torch.cat(rows).clamp(-1, 1) + 1) / 2, args.png, nrow=min(12, len(color)), padding=2, pad_value=1.0)
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
