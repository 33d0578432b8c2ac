"""FID cells from cached Inception features: any subset or mixture of generated images, no second pass.

A cell is {"value", "n", "n_real", "warning", "reason", "standard"}; value None means "n/a" and `reason`
says why (no weights, features not cached, too few images). FID itself is colorbench.metrics.fid's (E3.2).
Computed values are kept in <run>/cache/fid-values.json, keyed by the feature files' size and mtime and
the exact image keys, so re-rendering a report costs no matrix square root.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from colorbench.atomic import atomic_write_text
from colorbench.evaluation.records import FeatureStore
from colorbench.protocols.base import ProtocolContext
from colorbench.versions import source_fingerprint

_STORES: dict[tuple[str, int, int], FeatureStore] = {}
_DISK: dict[str, dict[str, dict[str, Any]]] = {}  # cache file → {key: fid result}
CACHE_NAME = "fid-values.json"


def na_cell(reason: str) -> dict[str, Any]:
    """An "n/a" FID cell with the reason a report prints under the table."""
    return {"value": None, "n": 0, "n_real": 0, "warning": None, "reason": reason, "standard": False}


def load_store(path: Path) -> FeatureStore | None:
    """FeatureStore of a features/*.npz, memoised on (path, mtime, size) so each file is read once."""
    if not path.exists():
        return None
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _STORES:
        _STORES[key] = FeatureStore.load(path)
    return _STORES[key]


def _disk_cache(path: Path) -> dict[str, dict[str, Any]]:
    key = str(path.resolve())
    if key not in _DISK:
        try:
            _DISK[key] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        except (OSError, ValueError):  # a damaged cache is only a cache
            _DISK[key] = {}
    return _DISK[key]


def fid_cell(
    ctx: ProtocolContext, variant: str, keys: Sequence[str], image_ids: Sequence[str]
) -> dict[str, Any]:
    """FID of the generated images `keys` (features/<variant>.npz) against the real images `image_ids`."""
    status = ctx.fid
    if not status.get("available"):
        return na_cell(status.get("reason") or "FID was not computed for this run")
    fake_path = ctx.run_dir / "features" / f"{variant}.npz"
    real_path = ctx.run_dir / "features" / "real.npz"
    for path in (fake_path, real_path):
        if not path.exists():
            return na_cell(f"{path} is missing; rerun `colorbench run` with FID weights to cache features")
    # Look the value up before reading any features: a re-render then never decompresses them. Keyed on the
    # source code, not the version: a changed Fréchet distance must not answer with the old values.
    stamp = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in (fake_path, real_path)]
    key = hashlib.sha256(
        "\n".join([source_fingerprint(), *stamp, *keys, "|", *image_ids]).encode()
    ).hexdigest()
    cache_path = ctx.run_dir / "cache" / CACHE_NAME
    values = _disk_cache(cache_path)
    if key not in values:
        try:
            fake = load_store(fake_path).lookup(keys)  # type: ignore[union-attr]
            real = load_store(real_path).lookup(image_ids)  # type: ignore[union-attr]
        except KeyError as exc:
            return na_cell(
                f"features not cached for {variant} ({exc.args[0]}); the engine caches n = 0, each image's "
                "stratified Nh and the sweep n — rerun `colorbench run` with those hint counts in --sweep"
            )
        from colorbench.metrics.fid import FidError, fid_from_features

        try:
            res = fid_from_features(fake, real)
        except FidError as exc:
            return na_cell(f"FID of {variant} could not be computed: {exc}")
        values[key] = {k: res[k] for k in ("value", "n_fake", "n_real", "warning")}
        try:
            atomic_write_text(cache_path, json.dumps(values, sort_keys=True))
        except OSError:  # a read-only run directory still renders; it just recomputes next time
            pass
    res = values[key]
    return {
        "value": float(res["value"]),
        "n": int(res["n_fake"]),
        "n_real": int(res["n_real"]),
        "warning": res["warning"],
        "reason": None,
        "standard": bool(status.get("standard")),
    }
