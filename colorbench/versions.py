"""Versions and provenance recorded in checkpoints and results.json."""

from __future__ import annotations

import importlib.metadata
import subprocess
from functools import lru_cache
from pathlib import Path


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def versions() -> dict[str, str | None]:
    """colorbench, torch, torchvision, torch-fidelity, numpy and Python versions."""
    import platform

    return {
        "colorbench": _version("colorbench"),
        "torch": _version("torch"),
        "torchvision": _version("torchvision"),
        "torch-fidelity": _version("torch-fidelity"),
        "numpy": _version("numpy"),
        "python": platform.python_version(),
    }


@lru_cache(maxsize=1)
def git_hash() -> str | None:
    """The commit of the colorbench checkout, when it is one (None for an installed wheel)."""
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
