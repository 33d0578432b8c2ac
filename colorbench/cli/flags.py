"""Flag checks that run before any evaluation (a bad --device, --sweep, --nri-threshold or --compare is refused
at once: exit 2, naming the flag) and the help texts several commands share. Torch-free, but for `--device
mps`, whose availability only torch knows."""

from __future__ import annotations

import math
import re

import click

from colorbench.errors import UsageError
from colorbench.progress import STDERR

SIZE_DEFAULT_HELP = "[default: a prepared dataset's own size, from its manifest; else 64]"

# colorbench.metrics.fid.WEIGHTS_FILENAME and ENV_VAR, spelled out so that `--help` need not import torch (a test
# checks that they agree).
FID_WEIGHTS_HELP = ("Inception weights: torch-fidelity's release file weights-inception-2015-12-05-6726825d.pth "
                    "[env COLORBENCH_FID_WEIGHTS, then $TORCH_HOME/hub/checkpoints/ under that name].")

# What colorbench can run on; torch.device accepts more names (xla, ipu, meta …) that only fail later.
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def device_flag(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """click callback of --device: one of auto | cpu | cuda[:N] | mps."""
    if not DEVICE_PATTERN.fullmatch(value.strip().lower()):
        raise UsageError(f"--device {value!r}: use auto, cpu, cuda, cuda:N or mps")
    device = value.strip().lower()
    if device == "mps":  # torch accepts the name anywhere; its first tensor would fail with a traceback
        from colorbench.training.loop import resolve_device

        resolve_device(device)  # a UsageError unless this machine has an MPS device
    return device


def finite_flag(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """click callback of a float flag that must be a finite number (NaN compares false with everything)."""
    if value is not None and not math.isfinite(value):
        raise UsageError(f"--{param.name.replace('_', '-')} {value}: give a finite number")
    return value


def check_sweep(sweep: list[int], nc: int) -> None:
    """Fig. 12's hint counts must be hint levels the engine computes: 0..Nc, at least one (the report draws
    Fig. 12 and reads its E.2 rows at them)."""
    if not sweep:
        raise UsageError("--sweep '': give the hint counts of Fig. 12, e.g. --sweep 2,4,6,8,10,12")
    bad = [n for n in sweep if not 0 <= n <= nc]
    if bad:
        raise UsageError(f"--sweep {','.join(map(str, sweep))}: hint counts must be in 0..{nc} (Nc), got {bad[0]}")


def warn(message: str) -> None:
    """One yellow warning line on stderr (no markup: a plugin's message may hold brackets)."""
    STDERR.print(f"warning: {message}", style="yellow", markup=False, soft_wrap=True)


def csv_ints(value: str) -> list[int]:
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from exc
