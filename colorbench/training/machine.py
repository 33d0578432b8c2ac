"""The machine a run trains on: which device `--device` names, whether the CPU has bf16, and what CPU-trained
weights depend on besides code and versions (recorded in every checkpoint)."""

from __future__ import annotations

import platform
from typing import Any

import torch

from colorbench.errors import UsageError


def resolve_device(spec: str) -> torch.device:
    """auto → cuda if present, else mps, else cpu."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise UsageError(f"--device {spec!r}: {exc}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for but no CUDA device is visible; use --device cpu")
    backend = getattr(torch.backends, "mps", None)
    if device.type == "mps" and (backend is None or not backend.is_available()):
        raise UsageError("--device mps was asked for but this machine has no MPS device (Apple-silicon GPU); "
                         "use --device cpu")
    return device


def cpu_has_bf16() -> bool:
    """True when this CPU runs bf16 in hardware (AVX512-BF16 or AMX), so bf16 autocast is fast on it."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def compute_platform() -> dict[str, Any]:
    """What CPU training results depend on beyond code and versions: torch's intra-op thread count and the
    instruction set its kernels use (AVX2 and AVX-512 kernels round differently)."""
    return {"threads": torch.get_num_threads(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "machine": platform.machine()}
