"""Dark Snail training dynamics: trains GuidingPainter on `snail` and prints, every --every steps, which piece
each non-empty region of one test image covers — the per-step view behind README "Dark Snail".

    .venv/bin/python benchmarks/snail_dynamics.py --seed 0                     # the `colorbench snail` recipe
    .venv/bin/python benchmarks/snail_dynamics.py --seed 0 --palette uniform   # uniformly random colours
    .venv/bin/python benchmarks/snail_dynamics.py --seed 0 --width 0.25        # a wider U-Net
    .venv/bin/python benchmarks/snail_dynamics.py --seed 0 --p 0.25            # a steeper hint-count law G

It calls the model's own `train_step` with the trainer's schedules (lr constant for the first half, then
linear decay to 0; Gumbel τ = 0.1^(epoch/epochs) with --steps spread over 16 epochs) on batches taken in
order from the training split (cycled), so one run is a few minutes of CPU. The last line,
`requests`, is what `colorbench snail` measures: the first four non-empty regions in priority order as
(region, majority piece; 0 = largest), and Kendall τ between request order and piece size.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from colorbench.data import open_dataset
from colorbench.guidingpainter.snail_experiment import region_objects
from colorbench.model import TrainContext
from colorbench.protocols.snail_order import _tau
from colorbench.training.loop import build_model

EPOCHS = 16  # the τ schedule's epochs, as `colorbench snail` (16 epochs × 1024 images / 16 = 1024 steps)


def regions_of(model: torch.nn.Module, sketch: torch.Tensor, objects: np.ndarray) -> list[tuple[int, int, float]]:
    """(region i, majority piece, purity) of every non-empty region of one image, in priority order."""
    model.eval()
    with torch.no_grad():
        reg = model.propose_regions(sketch[None])[0].numpy()
    model.train()
    return [(r["i"], r["object"], round(r["purity"], 2)) for r in region_objects(reg, objects, reg.shape[0])
            if r["object"] >= 0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1024, help="optimizer steps (recipe: 1024)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0, help="initial weights, hint draws and Gumbel noise")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--width", type=float, default=0.125)
    ap.add_argument("--p", type=float, default=0.125, help="stop probability of G (Eq. 3)")
    ap.add_argument("--nc", type=int, default=30, help="regions Nc (paper: 30)")
    ap.add_argument("--nh-per", choices=("sample", "batch"), default="sample",
                    help="one Nh per sample (official code) or per mini-batch (paper §3.3)")
    ap.add_argument("--lambda-smth", type=float, default=0.0, help="smoothness weight (paper: 1)")
    ap.add_argument("--lambda-tv", type=float, default=5.0, help="total-variance weight, Eq. (11) (paper: 5)")
    ap.add_argument("--f-lr-scale", type=float, default=1.0,
                    help="lr of the segmentation net f relative to g's (the model trains both at one lr)")
    ap.add_argument("--palette", choices=("rgb", "uniform"), default="rgb")
    ap.add_argument("--train-limit", type=int, default=None, help="training images cycled in order (default: all)")
    ap.add_argument("--every", type=int, default=100, help="print the regions every N steps")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--augment", action="store_true",
                    help="the official training augmentation (colour jitter, random resized crop, flip)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    cfg = {"width": args.width, "augment": args.augment, "init_seed": args.seed, "p": args.p, "nc": args.nc,
           "nh_per": args.nh_per, "lambda_smth": args.lambda_smth, "lambda_tv": args.lambda_tv}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        model = build_model("guidingpainter", cfg)
    optimizers = model.configure_optimizers(args.lr, (0.5, 0.999))
    if args.f_lr_scale != 1.0:  # f and g in two param groups; each group's "scale" rides along the schedule
        optimizers["g"] = torch.optim.Adam([{"params": model.seg.parameters(), "scale": args.f_lr_scale},
                                            {"params": model.gen.parameters(), "scale": 1.0}],
                                           lr=args.lr, betas=(0.5, 0.999))
    train = open_dataset("snail", "train", size=args.size, limit=args.train_limit, palette=args.palette)
    test = open_dataset("snail", "test", size=args.size, limit=1, palette=args.palette)
    ids, probe = train.ids(), test.get(test.ids()[0])
    objects = test.objects(test.ids()[0])
    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.perf_counter()
    for step in range(args.steps):
        items = [train.get(ids[(step * args.batch_size + j) % len(ids)]) for j in range(args.batch_size)]
        batch = {k: torch.stack([it[k] for it in items]) for k in ("sketch", "color")}
        frac = step / args.steps
        for opt in optimizers.values():  # the trainer's schedule: constant, then linear decay to 0
            for group in opt.param_groups:
                group["lr"] = args.lr * group.get("scale", 1.0) * (1.0 if frac < 0.5 else 2.0 * (1.0 - frac))
        ctx = TrainContext(epoch=int(frac * EPOCHS), epochs=EPOCHS, step=step, generator=gen,
                           device=torch.device("cpu"))
        losses = model.train_step(batch, optimizers, ctx)
        if step % args.every == 0 or step == args.steps - 1:
            print(f"step {step:5d} {time.perf_counter() - t0:6.0f}s  rec {losses['loss_rec']:.3f}  "
                  f"τ {losses['tau']:.2f}  regions {regions_of(model, probe['sketch'], objects)}", flush=True)
    found = regions_of(model, probe["sketch"], objects)[:4]
    sizes = np.bincount(objects.ravel())
    tau, _ = _tau(np.arange(len(found), dtype=float), sizes[[obj for _, obj, _ in found]].astype(float))
    print(f"requests {[(i, obj) for i, obj, _ in found]}  Kendall τ vs piece size: "
          f"{'undefined' if tau is None else f'{tau:.2f}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
