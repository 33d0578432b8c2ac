"""FID cells from cached Inception features: any subset or mixture of generated images, no second pass.

A cell is {"value", "n", "n_real", "warning", "reason", "standard"}; value None means "n/a" and `reason`
says why (no weights, features not cached, too few images). FID itself is colorbench.fid's (E3.2).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

from colorbench.records import FeatureStore
from protocols.base import ProtocolContext

_STORES: dict[tuple[str, int, int], FeatureStore] = {}
_VALUES: dict[str, dict[str, Any]] = {}
_MAX_CACHED = 512  # FID values kept per process (one report needs a few dozen)


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


def fid_cell(ctx: ProtocolContext, variant: str, keys: Sequence[str], image_ids: Sequence[str]) -> dict[str, Any]:
    """FID of the generated images `keys` (features/<variant>.npz) against the real images `image_ids`."""
    status = ctx.fid
    if not status.get("available"):
        return na_cell(status.get("reason") or "FID was not computed for this run")
    fake_path = ctx.run_dir / "features" / f"{variant}.npz"
    real_path = ctx.run_dir / "features" / "real.npz"
    fake_store, real_store = load_store(fake_path), load_store(real_path)
    if fake_store is None or real_store is None:
        missing = fake_path if fake_store is None else real_path
        return na_cell(f"{missing} is missing; rerun `colorbench run` with FID weights to cache features")
    try:
        fake = fake_store.lookup(keys)
        real = real_store.lookup(image_ids)
    except KeyError as exc:
        return na_cell(
            f"features not cached for {variant} ({exc.args[0]}); the engine caches n = 0, each image's "
            "stratified Nh and the sweep n — rerun `colorbench run` with those hint counts in --sweep"
        )
    digest = hashlib.sha256("\n".join([str(fake_path), str(real_path), *keys, "|", *image_ids]).encode()).hexdigest()
    memo_key = f"{digest}|{fake_path.stat().st_mtime_ns}|{real_path.stat().st_mtime_ns}"
    if memo_key not in _VALUES:
        from colorbench.fid import FidError, fid_from_features

        try:
            res = fid_from_features(fake, real)
        except FidError as exc:
            return na_cell(f"FID of {variant} could not be computed: {exc}")
        if len(_VALUES) >= _MAX_CACHED:
            _VALUES.clear()
        _VALUES[memo_key] = res
    res = _VALUES[memo_key]
    return {
        "value": float(res["value"]),
        "n": int(res["n_fake"]),
        "n_real": int(res["n_real"]),
        "warning": res["warning"],
        "reason": None,
        "standard": bool(status.get("standard")),
    }
