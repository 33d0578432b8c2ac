"""The code identity of a model, dataset or metric a run uses: what its cached records depend on besides
colorbench's own source (versions.source_fingerprint), so that an edited plugin never reuses old records.

A plugin's identity is its installed distribution's name, version and RECORD (the file hashes pip wrote), or
else the sha256 of its module's source files: the file itself, or every .py file of its top-level package.
Code without a file (`python -c`, a notebook cell) has none: the run then refuses to reuse cached records of
it and says so in run.json.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

# Modules versions.source_fingerprint already covers (colorbench.baselines, .guidingpainter, .protocols…).
OWN_PREFIX = "colorbench."


def code_identity(obj: Any) -> dict[str, Any]:
    """{"kind": "colorbench" | "distribution" | "source", "module", "sha256", …} of the code defining `obj` (a
    class or a function), or {"kind": "unknown", "module", "reason"} when none can be had."""
    module = inspect.getmodule(obj)
    name = getattr(module, "__name__", None) or getattr(obj, "__module__", None) or "?"
    if name == "colorbench" or name.startswith(OWN_PREFIX):
        return {"kind": "colorbench", "module": name}  # its bytes are in the source fingerprint
    file = _module_file(module)
    if file is None:
        return {"kind": "unknown", "module": name,
                "reason": f"{name} has no source file (defined in `python -c`, a notebook or an interpreter)"}
    dist = _distribution_of(file)
    if dist is not None:
        return dist | {"module": name}
    files = _source_files(module, file)
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return {"kind": "source", "module": name, "files": len(files), "sha256": h.hexdigest()}


def _module_file(module: ModuleType | None) -> Path | None:
    file = getattr(module, "__file__", None)
    if not file or not str(file).endswith(".py"):
        return None
    path = Path(file).resolve()
    return path if path.is_file() else None


def _source_files(module: ModuleType | None, file: Path) -> list[Path]:
    """The module's file, or, inside a package, every .py file of its top-level package (a model's helpers
    usually live beside it), sorted."""
    name = getattr(module, "__name__", "")
    top = sys.modules.get(name.partition(".")[0]) if "." in name or file.name == "__init__.py" else None
    roots = list(getattr(top, "__path__", []) or [])
    if not roots:
        return [file]
    return sorted({p.resolve() for root in roots for p in Path(root).rglob("*.py")})


def _distribution_of(file: Path) -> dict[str, Any] | None:
    """name, version and the sha256 of RECORD of the installed distribution that lists `file`; None when no
    distribution with a RECORD lists it (a plain folder, an editable install: the files are hashed then)."""
    for name, version, record, files in _installed():
        if file in files:
            return {"kind": "distribution", "distribution": name, "version": version,
                    "sha256": hashlib.sha256(record.encode()).hexdigest()}
    return None


@lru_cache(maxsize=1)
def _installed() -> tuple[tuple[str, str, str, frozenset[Path]], ...]:
    """(name, version, RECORD text, its .py files resolved) of every installed distribution with a RECORD."""
    out = []
    for dist in importlib.metadata.distributions():
        record = dist.read_text("RECORD")
        if not record or not dist.files:
            continue
        files = frozenset(Path(str(dist.locate_file(f))).resolve() for f in dist.files if str(f).endswith(".py"))
        out.append((dist.metadata["Name"] or "?", dist.version or "?", record, files))
    return tuple(out)


def run_identities(models: dict[str, Any], dataset: Any, metrics: list[Any]) -> dict[str, Any]:
    """run.json's cache.code: {"models": {label: identity}, "dataset": identity, "metrics": {name: identity}}
    of the classes and metric functions this run uses."""
    base = getattr(dataset, "base", dataset)  # an InputView (grayscale input) serves another dataset's images
    return {"models": {label: code_identity(cls) for label, cls in models.items()},
            "dataset": code_identity(base if isinstance(base, type) else type(base)),
            "metrics": {m.name: code_identity(m.fn) for m in metrics if m.fn is not None}}


def unknown_parts(identities: dict[str, Any], label: str | None) -> list[str]:
    """The reasons the records of `label` (None: the ground truth's features, which depend on the dataset only)
    cannot be reused: every part they depend on (the model, the dataset, the metrics) without a code identity."""
    parts = [identities["dataset"]]  # the ground truth's features depend on the dataset alone
    if label is not None:
        parts = [identities["models"][label], *parts, *identities["metrics"].values()]
    return [p["reason"] for p in parts if p["kind"] == "unknown"]


def identity_key(identities: dict[str, Any], label: str | None) -> list[Any]:
    """The part of a cache key that names the code outside colorbench that `label`'s records (None: the ground
    truth's features) depend on: its model, the dataset and the metrics; [] when all of it is colorbench's."""
    parts = [("dataset", identities["dataset"])]  # the ground truth's features depend on the dataset alone
    if label is not None:
        parts = [("model", identities["models"][label]), *parts,
                 *((f"metric {k}", v) for k, v in identities["metrics"].items())]
    return [[role, ident] for role, ident in parts if ident["kind"] != "colorbench"]
