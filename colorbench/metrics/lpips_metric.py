"""LPIPS (Zhang et al. 2018, v0.1, AlexNet) only with the user's own weights, found as FID finds Inception's.

Two files, both the user's: the AlexNet backbone (torchvision's `alexnet-owt-7be5be79.pth`) and LPIPS's
linear layers (`alex.pth` of the `lpips` package, weights v0.1), each looked up as
  $COLORBENCH_LPIPS_BACKBONE / $COLORBENCH_LPIPS_WEIGHTS, else $TORCH_HOME/hub/checkpoints/<that file name>.
Both are loaded with `torch.load(weights_only=True)` (tensors only, no code). Without either, `lpips` is
unavailable: the run records the reason (run.json config.plan.metrics) and Table 1 shows n/a with it; no
other network is ever scored under the name. The network is written here on torchvision's AlexNet (the
`lpips` package, last released 2021, would fetch the backbone from the internet in its constructor).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from colorbench.metrics.registry import register_metric

BACKBONE_FILENAME = "alexnet-owt-7be5be79.pth"
LINEAR_FILENAME = "alex.pth"
BACKBONE_ENV, LINEAR_ENV = "COLORBENCH_LPIPS_BACKBONE", "COLORBENCH_LPIPS_WEIGHTS"
CHANNELS = (64, 192, 384, 256, 256)  # AlexNet's five ReLU outputs LPIPS compares
_SLICES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))  # torchvision alexnet().features index ranges
_SHIFT = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)  # LPIPS's ScalingLayer
_SCALE = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)


def _locate(env: str, filename: str) -> tuple[Path | None, str]:
    """(path, where it was looked for): $env if set (must exist), else the torch hub cache file."""
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser(), f"${env}"
    return Path(torch.hub.get_dir()) / "checkpoints" / filename, "the torch hub cache"


def weights_status() -> tuple[tuple[Path, Path] | None, str | None]:
    """((backbone, linear) paths, None) when both files exist, else (None, why LPIPS is n/a)."""
    found, missing = [], []
    for env, name in ((BACKBONE_ENV, BACKBONE_FILENAME), (LINEAR_ENV, LINEAR_FILENAME)):
        path, where = _locate(env, name)
        if path is not None and path.is_file():
            found.append(path)
        else:
            missing.append(f"{name} (looked in {where}: {path})")
    if missing:
        return None, (f"no LPIPS weights: {'; '.join(missing)}. Place torchvision's {BACKBONE_FILENAME} and the "
                      f"lpips package's {LINEAR_FILENAME} (v0.1) there or set ${BACKBONE_ENV} / ${LINEAR_ENV}")
    return (found[0], found[1]), None


class Lpips(torch.nn.Module):
    """LPIPS v0.1 on AlexNet: images [B,3,H,W] in [-1,1] → distance [B] (0 = identical, lower is better)."""

    def __init__(self, backbone: dict[str, torch.Tensor], linear: dict[str, torch.Tensor]) -> None:
        super().__init__()
        from torchvision.models import alexnet

        net = alexnet(weights=None).features
        net.load_state_dict({k.removeprefix("features."): v for k, v in backbone.items() if k.startswith("features.")})
        self.slices = torch.nn.ModuleList(net[a:b] for a, b in _SLICES)
        self.lins = torch.nn.ParameterList(linear[f"lin{k}.model.1.weight"].float() for k in range(len(CHANNELS)))
        for k, c in enumerate(CHANNELS):
            if tuple(self.lins[k].shape) != (1, c, 1, 1):
                raise ValueError(f"{LINEAR_FILENAME}: lin{k} has shape {tuple(self.lins[k].shape)}, not (1, {c}, 1, 1)")
        self.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x, y]).float()
        h = (h - _SHIFT.to(h)) / _SCALE.to(h)
        total = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
        for sl, lin in zip(self.slices, self.lins):
            h = sl(h)
            f = h / (h.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)  # unit length per position
            fx, fy = f.chunk(2)
            total += F.conv2d((fx - fy) ** 2, lin).mean(dim=(1, 2, 3)).double()
        return total


_NET: dict[tuple[Path, Path], Lpips] = {}


def _network() -> Lpips:
    paths, reason = weights_status()
    if paths is None:
        raise RuntimeError(reason)  # the run drops an unavailable metric before any call; a direct call says why
    if paths not in _NET:
        _NET[paths] = Lpips(*(torch.load(p, map_location="cpu", weights_only=True) for p in paths))
    return _NET[paths]


def unavailable() -> str | None:
    """Why `lpips` cannot be computed on this machine, or None."""
    return weights_status()[1]


@register_metric("lpips", higher_is_better=False, needs_weights=True, input="signed", headers=("LPIPS",),
                 availability=unavailable,
                 description="LPIPS v0.1 (AlexNet) perceptual distance to the ground truth; only with your own "
                             f"weights (${BACKBONE_ENV}, ${LINEAR_ENV} or the torch hub cache)")
@torch.inference_mode()
def lpips(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """LPIPS [B] float64 of images [B,3,H,W] in [-1,1] (the 8-bit outputs mapped back)."""
    net = _network()
    return net(pred.to(torch.float32), gt.to(torch.float32))
