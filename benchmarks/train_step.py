"""GuidingPainter training-step time (f + h + g + D, all four losses, G step then D step): colorbench's
`GuidingPainter.train_step` next to a replay of the official implementation's step written here from the
paper's equations and its code's step order (its own Table 5 U-Net / PatchGAN copy in PyTorch's default
layout; G step, then a D step with its own generator forward, as the official Lightning `training_step`,
which is called once per optimizer). The reference part imports nothing from colorbench.
Target: colorbench ≤ 0.5× the replay at width 1.0, 64 px, batch 8.

    .venv/bin/python benchmarks/train_step.py [--sizes 64] [--width 1.0] [--batch 8] [--steps 5] [--bf16]

Both get the same pre-built random batch, Adam(2e-4, (0.5, 0.999)) for f+g and for D, train mode, the same
shapes and loss weights (λ_rec 30, λ_adv 0.2, λ_tv 5, λ_smth 1). colorbench runs with its augmentation off
(the reference has none; pass --augment to time colorbench's step with it, reported on its own line).
Steps alternate between the two after --warmup steps each; each time is the median of --steps steps.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

TARGET = 0.5
NC, P_STOP = 30, 0.125  # Nc (§3.3) and the stop probability of G (Eq. 3)
LAMBDA = {"rec": 30.0, "adv": 0.2, "tv": 5.0, "smth": 1.0}  # Eq. (14) weights (official code)


# ================================================================================================ reference
# Plain PyTorch from the paper (Table 5 U-Net, pix2pix PatchGAN, Eq. 1-14); no colorbench import here.
def _ch(base: int, width: float) -> int:
    return max(4, round(base * width))


def _double_conv(cin: int, cout: int, mid: int | None = None) -> nn.Sequential:
    mid = mid or cout
    return nn.Sequential(nn.Conv2d(cin, mid, 3, padding=1), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                         nn.Conv2d(mid, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class RefUNet(nn.Module):
    """Table 5: four max-pool downs + bottleneck, four bilinear ups with skip concat, 1×1 head."""

    def __init__(self, cin: int, cout: int, width: float) -> None:
        super().__init__()
        c1, c2, c3, c4 = (_ch(b, width) for b in (64, 128, 256, 512))
        self.down = nn.ModuleList([_double_conv(cin, c1), _double_conv(c1, c2), _double_conv(c2, c3),
                                   _double_conv(c3, c4), _double_conv(c4, c4)])
        self.up = nn.ModuleList([_double_conv(2 * c4, c3, c4), _double_conv(2 * c3, c2, c3),
                                 _double_conv(2 * c2, c1, c2), _double_conv(2 * c1, c1, c1)])
        self.head = nn.Conv2d(c1, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
            x = block(torch.cat([skip, x], dim=1))
        return self.head(x)


class RefPatchGAN(nn.Module):
    """pix2pix 70×70 PatchGAN on concat(X, Y): C64-C128-C256-C512(stride 1)-1, BN except the first."""

    def __init__(self, cin: int, width: float) -> None:
        super().__init__()
        ndf = _ch(64, width)
        layers: list[nn.Module] = [nn.Conv2d(cin, ndf, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        for i, (a, b) in enumerate(((1, 2), (2, 4), (4, 8))):
            layers += [nn.Conv2d(ndf * a, ndf * b, 4, 2 if i < 2 else 1, 1, bias=False), nn.BatchNorm2d(ndf * b),
                       nn.LeakyReLU(0.2, inplace=True)]
        layers.append(nn.Conv2d(ndf * 8, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, y], dim=1))


class Reference:
    """f, g, D and their two Adam optimizers; `step` is one G step then one D step."""

    def __init__(self, width: float) -> None:
        self.f, self.g, self.d = RefUNet(1, NC, width), RefUNet(NC + 5, 3, width), RefPatchGAN(4, width)
        for m in (self.f, self.g, self.d):
            m.train()
        self.opt_g = torch.optim.Adam([*self.f.parameters(), *self.g.parameters()], lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def generate(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator, tau: float) -> tuple[torch.Tensor, ...]:
        """f → ST-Gumbel → h → g with a fresh Nh and fresh noise, as every forward call of the official model."""
        b = x.shape[0]
        logits = self.f(x)  # S_logit
        u = torch.rand(logits.shape, generator=gen).clamp(1e-10, 1 - 1e-7)
        scores = logits - torch.log(-torch.log(u))  # + Gumbel noise
        soft = torch.softmax(scores / tau, dim=1)
        hard = F.one_hot(scores.argmax(1), NC).permute(0, 3, 1, 2).float()
        s = hard + (soft - soft.detach())  # Eq. (1), straight-through
        nh = (torch.rand(b, NC, generator=gen) < 1 - P_STOP).long().cumprod(1).sum(1)  # Nh ~ G, Eq. (3)
        m = (torch.arange(1, NC + 1)[None] <= nh[:, None]).float()  # Eq. (4)
        area = s.sum((2, 3))
        means = torch.einsum("bkhw,bchw->bkc", s, y) / area.clamp_min(1e-12)[..., None]  # Eq. (6)
        means = torch.where(area[..., None] > 0, means, torch.zeros_like(means))
        sm = s * m[:, :, None, None]  # Eq. (5)
        c = torch.einsum("bkhw,bkc->bchw", sm, means)  # Eq. (7)
        mask = sm.sum(1, keepdim=True)  # Eq. (8)
        pred = torch.tanh(self.g(torch.cat([x, c, mask, s], 1)))  # Eq. (9)
        return logits, s, means, pred

    def step(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator, tau: float = 1.0) -> None:
        self.d.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        logits, s, means, pred = self.generate(x, y, gen, tau)
        rec = (pred - y).abs().mean()  # Eq. (12)
        tv = ((torch.einsum("bkhw,bkc->bchw", s, means) - y) ** 2).mean()  # Eq. (11)
        diffs = (logits[:, :, 1:] - logits[:, :, :-1], logits[:, :, :, 1:] - logits[:, :, :, :-1],
                 logits[:, :, 1:, 1:] - logits[:, :, :-1, :-1], logits[:, :, 1:, :-1] - logits[:, :, :-1, 1:])
        smth = sum(dd.abs().mean() for dd in diffs) / 4  # Eq. (10), 8-neighbourhood
        adv = ((self.d(x, pred) - 1) ** 2).mean()  # Eq. (13), LSGAN
        total = LAMBDA["rec"] * rec + LAMBDA["adv"] * adv + LAMBDA["tv"] * tv + LAMBDA["smth"] * smth  # Eq. (14)
        total.backward()
        self.opt_g.step()
        self.d.requires_grad_(True)
        self.opt_d.zero_grad(set_to_none=True)
        # The official Lightning training_step is called once per optimizer: the D step runs the generator
        # again (new Nh, new noise; autograd on as in Lightning, the fake detached for D).
        fake = self.generate(x, y, gen, tau)[-1].detach()
        loss_d = 0.5 * (((self.d(x, y) - 1) ** 2).mean() + (self.d(x, fake) ** 2).mean())
        (LAMBDA["adv"] * loss_d).backward()
        self.opt_d.step()


# ================================================================================================ colorbench
def colorbench_step(width: float, augment: bool, amp: bool = False,
                    compiled: bool = False) -> Callable[[torch.Tensor, torch.Tensor, torch.Generator], Any]:
    """GuidingPainter.train_step with its own optimizers, as `colorbench train` calls it (amp on a CPU: bf16).
    `compiled`: f, g and D each wrapped in torch.compile (Inductor; the first steps compile, see --warmup)."""
    from colorbench.model import TrainContext
    from colorbench.training.loop import build_model

    model = build_model("guidingpainter", {"width": width, "augment": augment}).train()
    if compiled:
        model.seg, model.gen, model.disc = (torch.compile(m) for m in (model.seg, model.gen, model.disc))
    opts = model.configure_optimizers(2e-4, (0.5, 0.999))
    calls = [0]

    def step(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> Any:
        ctx = TrainContext(epoch=0, epochs=1, step=calls[0], generator=gen, device=torch.device("cpu"), amp=amp)
        calls[0] += 1
        return model.train_step({"sketch": x, "color": y}, opts, ctx)

    return step


# ================================================================================================ timing
def time_pair(size: int, width: float, batch: int, steps: int, warmup: int, levers: list[str]) -> dict[str, list[float]]:
    """Per-image step times (seconds per batch image) of colorbench, the replay and the asked levers
    (augment, bf16, batch2x: colorbench on twice the batch), alternating step by step."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2 * batch, 1, size, size, generator=g) * 2 - 1
    y = torch.rand(2 * batch, 3, size, size, generator=g) * 2 - 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # initial weights: an explicit seed, global RNG restored afterwards
        runners = {"colorbench": (colorbench_step(width, False), batch), "reference": (Reference(width).step, batch)}
        if "augment" in levers:
            runners["colorbench+augment"] = (colorbench_step(width, True), batch)
        if "bf16" in levers:
            runners["colorbench+bf16"] = (colorbench_step(width, False, amp=True), batch)
        if "compile" in levers:
            runners["colorbench+compile"] = (colorbench_step(width, False, compiled=True), batch)
        if "batch2x" in levers:
            runners["colorbench at 2x batch"] = (colorbench_step(width, False), 2 * batch)
    gens = {k: torch.Generator().manual_seed(1) for k in runners}
    times: dict[str, list[float]] = {k: [] for k in runners}
    for i in range(warmup + steps):
        for name, (run, b) in runners.items():
            t0 = time.perf_counter()
            run(x[:b], y[:b], gens[name])
            if i >= warmup:
                times[name].append((time.perf_counter() - t0) * batch / b)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="64", help="image sizes, comma-separated")
    ap.add_argument("--width", type=float, default=1.0, help="channel multiplier (paper: 1.0)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per implementation (median reported)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--levers", default="", help="also time colorbench with: augment, bf16 (autocast on the CPU), "
                                                 "batch2x (twice the batch, time per --batch images), compile (torch.compile of f, g "
                                                 "and D; use --warmup 3: the first steps compile); comma-separated")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the machine is shared)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    levers = [v.strip() for v in args.levers.split(",") if v.strip()]
    met_all = True
    print(f"train_step: GuidingPainter width {args.width:g}, batch {args.batch}, median of {args.steps} steps "
          f"after {args.warmup} warm-up, {args.threads} thread(s), cpu {torch.backends.cpu.get_cpu_capability()}")
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        load0 = os.getloadavg()[0]
        times = time_pair(size, args.width, args.batch, args.steps, args.warmup, levers)
        med = {k: statistics.median(v) for k, v in times.items()}
        ratio = med["colorbench"] / med["reference"]
        met_all &= ratio <= TARGET
        print(f"  {size:4d} px  colorbench {med['colorbench'] * 1000:8.1f} ms   official replay {med['reference'] * 1000:8.1f} ms"
              f"   ratio {ratio:.3f} (target ≤ {TARGET:.1f}: {'met' if ratio <= TARGET else 'NOT met'})"
              f"   load {load0:.1f}→{os.getloadavg()[0]:.1f}")
        for name in (k for k in med if k not in ("colorbench", "reference")):
            print(f"            {name:<24} {med[name] * 1000:8.1f} ms per {args.batch} images   "
                  f"ratio {med[name] / med['reference']:.3f}")
    return 0 if met_all else 1


if __name__ == "__main__":
    sys.exit(main())
