"""Versions and provenance recorded in checkpoints and results.json."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
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


# The packages whose code can change a record: hints, engine and metrics, the models, the protocols' inputs.
SOURCE_PACKAGES = ("colorbench", "colorbench.baselines", "colorbench.guidingpainter", "colorbench.protocols")


@lru_cache(maxsize=1)
def source_fingerprint() -> str:
    """sha256 over every .py file of SOURCE_PACKAGES where they are imported from (relative path and bytes).

    Cache keys use it instead of the package version, which stays the same while the code is edited (an
    editable install): a changed model or hint simulator must not reuse records of the old code. Computed
    once per process (~100 small files, milliseconds); a package that is not installed counts as absent.
    """
    h = hashlib.sha256()
    for name in SOURCE_PACKAGES:
        spec = importlib.util.find_spec(name)
        roots = list(spec.submodule_search_locations or []) if spec is not None else []
        h.update(f"package {name}: {len(roots)} location(s)\0".encode())
        for root in map(Path, roots):
            for path in sorted(root.rglob("*.py")):
                h.update(f"{name}/{path.relative_to(root).as_posix()}\0".encode())
                h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


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
