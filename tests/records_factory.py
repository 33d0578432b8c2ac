"""Builds realistic fake run directories — records.csv, features/*.npz, samples/*.npz, run.json — in exactly
the layout colorbench.evaluation.engine/runner write (colorbench.evaluation.records), for protocol and report tests.

PSNR rises with n towards a per-variant ceiling (image difficulty shared across variants), FID features
approach the real ones as n grows, perturbed hints are followed less faithfully than natural ones.
Everything is drawn from seeded generators: the same arguments give byte-identical directories.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from colorbench.defaults import EVAL
from colorbench.evaluation.records import (
    FeatureStore,
    feature_key,
    records_frame,
    save_npz,
    write_json,
    write_records,
)
from colorbench.hints import BoundedGeometric
from colorbench.versions import versions

from .fake_variants import DEFAULT_VARIANTS, LOSS_VARIANTS, FakeVariant, describe

NO_WEIGHTS_REASON = "no Inception weights: pass --fid-weights PATH or set COLORBENCH_FID_WEIGHTS"
PALETTE = np.array(
    [
        [230, 90, 80],
        [250, 210, 170],
        [60, 70, 160],
        [120, 190, 90],
        [240, 200, 60],
        [150, 80, 170],
        [90, 200, 220],
        [200, 120, 60],
        [30, 30, 30],
        [235, 235, 235],
    ],
    np.uint8,
)


def _rng(*parts: Any) -> np.random.Generator:
    digest = hashlib.sha256("|".join(str(p) for p in ("factory", *parts)).encode()).hexdigest()
    return np.random.Generator(np.random.PCG64(int(digest[:16], 16)))


def _psnr_curve(v: FakeVariant, difficulty: float, levels: Sequence[int], noise: np.ndarray) -> np.ndarray:
    n = np.asarray(levels, dtype=np.float64)
    return v.base + difficulty + v.gain * (1.0 - np.exp(-n / v.scale)) + noise


def make_records(
    variants: Sequence[FakeVariant],
    ids: Sequence[str],
    dataset: str,
    nc: int,
    sweep: Sequence[int],
    modes: Sequence[str],
    seed: int,
) -> list[dict[str, Any]]:
    """Record rows of every variant, as Evaluator._emit / _ablation produce them."""
    rows: list[dict[str, Any]] = []
    for image_id in ids:
        difficulty = float(_rng(seed, "difficulty", image_id).normal(0.0, 1.2))
        n_nonempty = int(_rng(seed, "regions", image_id).integers(6, 14))
        for v in variants:
            base = {
                "variant": v.label,
                "model": v.model,
                "dataset": dataset,
                "image_id": image_id,
                "empty": False,
            }
            r = _rng(seed, "psnr", v.label, image_id)
            levels = list(range(nc + 1)) if v.conditional else [0]
            psnr = _psnr_curve(v, difficulty, levels, r.normal(0.0, 0.15, len(levels)))
            err = 12.0 + 4.0 * r.random(len(levels))
            for j, n in enumerate(levels):
                rows.append(
                    base
                    | {
                        "mode": "native",
                        "n": n,
                        "psnr": float(psnr[j]),
                        "hint_area": min(1.0, 0.04 * n),
                        "hint_err": float(err[j]) if n else float("nan"),
                    }
                )
            if not v.conditional:
                continue
            if "perturbed" in modes:
                for n in sorted(set(sweep)):
                    rows.append(
                        base
                        | {
                            "mode": "perturbed",
                            "n": n,
                            "psnr": float(psnr[n]) - 1.0,
                            "hint_area": min(1.0, 0.04 * n),
                            "hint_err": float(err[n] * v.follow * (1.0 + 0.1 * r.normal())),
                        }
                    )
            # As the engine: a point/stroke model's perturbed hints get their natural-colour reference in
            # equalized rows, at the perturbed levels when equalized mode itself was not asked for.
            eq_levels = levels if "equalized" in modes else sorted(set(sweep)) if "perturbed" in modes else []
            if v.hint_kind in ("point", "stroke"):
                for n in eq_levels:
                    j = levels.index(n)
                    rows.append(
                        base
                        | {
                            "mode": "equalized",
                            "n": n,
                            "psnr": float(psnr[j]) + 0.3,
                            "hint_area": min(1.0, 0.04 * n),
                            "hint_err": float(err[j]) if n else float("nan"),
                        }
                    )
            if "ablation" in modes and v.hint_kind == "region":
                for i in range(1, nc + 1):
                    empty = i > n_nonempty
                    value = v.base + difficulty + (0.0 if empty else 0.6 * v.gain * np.exp(-(i - 1) / 3.0))
                    rows.append(
                        base
                        | {
                            "mode": "ablation",
                            "n": i,
                            "psnr": float(value + r.normal(0.0, 0.1)),
                            "hint_area": 0.0 if empty else 0.5**i,
                            "hint_err": float("nan"),
                            "empty": empty,
                        }
                    )
    return rows


def make_features(
    v: FakeVariant, ids: Sequence[str], nh: dict[str, int], sweep: Sequence[int], dim: int, seed: int
) -> FeatureStore:
    """Features the engine caches: n = 0, the stratified Nh and the sweep (conditional models), else n = 0."""
    direction = np.ones(dim) / np.sqrt(dim)
    keys, feats = [], []
    for image_id in ids:
        ns = {0} | ({nh[image_id]} | set(sweep) if v.conditional else set())
        for n in sorted(ns):
            closeness = np.exp(-n / v.scale) if v.conditional else 1.0
            r = _rng(seed, "feat", v.label, image_id, n)
            keys.append(feature_key(image_id, "native", n))
            feats.append(
                r.normal(0.0, 1.0 + 0.3 * v.shift * closeness, dim) + 2.0 * v.shift * closeness * direction
            )
    return FeatureStore.merge([FeatureStore(keys, np.asarray(feats, dtype=np.float32))])


def _snail_regions(size: int, nc: int, flip: bool) -> np.ndarray:
    """Dark-snail partition (§4.5): each region half of what is left, clockwise; index = priority."""
    out = np.zeros((size, size), np.uint8)
    top, left, h, w = 0, 0, size, size
    for k in range(nc):
        if h < 2 and w < 2:
            out[top : top + h, left : left + w] = k
            break
        if (k % 2 == 0) != flip:  # split vertically: left part is region k
            half = max(1, w // 2)
            out[top : top + h, left : left + half] = k
            left, w = left + half, w - half
        else:
            half = max(1, h // 2)
            out[top : top + half, left : left + w] = k
            top, h = top + half, h - half
    return out


def make_samples(
    v: FakeVariant, ids: Sequence[str], nc: int, size: int, modes: Sequence[str], seed: int
) -> dict[str, np.ndarray]:
    """samples/<variant>.npz arrays for the first images at n = 0..12, the hints stored expanded (hint_color,
    hint_mask) as older runs wrote them: records.load_samples reads both that and the engine's compact form."""
    levels = list(range(min(nc, EVAL.sample_levels) + 1)) if v.conditional else [0]
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("sketch", "gt", "outputs", "hint_color", "hint_mask")}
    if v.hint_kind == "region":
        out["regions"] = []
    if "equalized" in modes and v.hint_kind in ("point", "stroke"):
        out["equalized_outputs"] = []
    for image_id in ids:
        r = _rng(seed, "sample", image_id)
        regions = _snail_regions(size, nc, flip=bool(r.integers(2)))
        colors = PALETTE[r.permutation(len(PALETTE))][np.arange(nc) % len(PALETTE)]
        gt = colors[regions].transpose(2, 0, 1)  # [3,H,W]
        edges = np.zeros((size, size), bool)
        edges[:, 1:] |= regions[:, 1:] != regions[:, :-1]
        edges[1:, :] |= regions[1:, :] != regions[:-1, :]
        sketch = np.where(edges, 0, 255).astype(np.uint8)
        guess = np.array([150, 140, 130], np.float64)[:, None, None] + _rng(seed, "guess", v.label).normal(
            0, 30, (3, 1, 1)
        )
        outs, hcol, hmask, eq = [], [], [], []
        points = []  # one small patch inside each region k, as equalized point hints
        for k in range(nc):
            ys, xs = np.nonzero(regions == k)
            if len(ys):
                c = int(r.integers(len(ys)))
                points.append((int(ys[c]), int(xs[c])))
        for n in levels:
            known = regions < n
            if v.hint_kind in ("point", "stroke"):  # point hints colour only part of each region well
                known &= (np.arange(size)[None, :] + np.arange(size)[:, None]) % 3 != 0
            img = np.where(known[None], gt, 0.6 * guess + 0.4 * gt)
            img = np.where(edges[None], 0.3 * img, img)
            outs.append(np.clip(img, 0, 255).astype(np.uint8))
            if v.hint_kind == "region":
                mask = regions < n
            else:
                mask = np.zeros((size, size), bool)
                for y, x in points[:n]:  # nested: the hints for n+1 contain those for n
                    mask[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2] = True
            hcol.append(np.where(mask[None], gt, 127).astype(np.uint8))
            hmask.append(mask.astype(np.uint8))
            eq.append(np.clip(np.where((regions < n)[None], gt, img), 0, 255).astype(np.uint8))
        out["sketch"].append(sketch)
        out["gt"].append(gt.astype(np.uint8))
        out["outputs"].append(np.stack(outs))
        out["hint_color"].append(np.stack(hcol))
        out["hint_mask"].append(np.stack(hmask))
        if "regions" in out:
            out["regions"].append(regions)
        if "equalized_outputs" in out:
            out["equalized_outputs"].append(np.stack(eq))
    arrays = {k: np.stack(vals) for k, vals in out.items()}
    arrays["image_ids"] = np.asarray(list(ids), dtype=str)
    return arrays


def ensure_builtin_protocols() -> None:
    """Register pyproject's built-in protocols if the installed metadata predates them (stale editable
    install);
    a current install finds them through the entry points and this does nothing."""
    import tomllib

    from colorbench.registry import PROTOCOLS

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text())["project"]["entry-points"]["colorbench.protocols"]
    for name, target in declared.items():
        if name not in PROTOCOLS:
            PROTOCOLS.register(name, target, origin="pyproject.toml (tests)")


def make_run_dir(
    root: str | Path,
    *,
    variants: Sequence[FakeVariant] = DEFAULT_VARIANTS,
    n_images: int = 24,
    nc: int = 30,
    p: float = 0.125,
    sweep: Sequence[int] = (2, 4, 6, 8, 10, 12),
    modes: Sequence[str] = ("native", "perturbed"),
    dataset: str = "toy",
    nri_threshold: float = 19.0,
    fid: bool = True,
    feature_dim: int = 8,
    n_samples: int = 2,
    size: int = 32,
    seed: int = 0,
) -> Path:
    """Write a complete fake run directory under `root` and return it."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    ids = [f"{i:04d}" for i in range(n_images)]
    dist = BoundedGeometric(nc, p)
    nh = dict(zip(ids, (int(k) for k in dist.stratified([f"colorbench|nh|{dataset}|{i}" for i in ids]))))
    write_records(
        root / "records.csv", records_frame(make_records(variants, ids, dataset, nc, sweep, modes, seed))
    )
    if fid:
        r = _rng(seed, "real")
        FeatureStore(ids, r.normal(0.0, 1.0, (n_images, feature_dim)).astype(np.float32)).save(
            root / "features" / "real.npz"
        )
        for v in variants:
            make_features(v, ids, nh, sweep, feature_dim, seed).save(root / "features" / f"{v.label}.npz")
    for v in variants:
        save_npz(
            root / "samples" / f"{v.label}.npz", **make_samples(v, ids[:n_samples], nc, size, modes, seed)
        )
    config: dict[str, Any] = {
        "models": sorted({v.model for v in variants}),
        "dataset": dataset,
        "size": size,
        "checkpoints": [f"{v.label}=/ckpt/{v.label}.safetensors" for v in variants if v.tag],
        "plan": {"nc": nc, "p": p, "sweep": list(sweep), "modes": list(modes)},
    }
    fid_status: dict[str, Any] = (
        {"available": True, "reason": None, "weights_sha256": "6726825d" + "0" * 56, "standard": True}
        if fid
        else {"available": False, "reason": NO_WEIGHTS_REASON, "weights_sha256": None, "standard": False}
    )
    run = {
        "dataset": {
            "name": dataset,
            "split": "test",
            "size": size,
            "n_images": n_images,
            "fingerprint": hashlib.sha256(f"{dataset}|{n_images}".encode()).hexdigest(),
            "nri_threshold": nri_threshold,
        },
        "variants": {v.label: describe(v) for v in variants},
        "protocol": {
            "nc": nc,
            "p": p,
            "sweep": list(sweep),
            "modes": list(modes),
            "seed": 0,
            "gumbel_noise": False,
            "perturb_amount": 64.0,
        },
        "fid": fid_status | {"nh_assignment": nh},
        "versions": versions(),
        "config": config,
        "config_fingerprint": hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest(),
        "git": None,
    }
    write_json(root / "run.json", run)
    return root


__all__ = [
    "DEFAULT_VARIANTS",
    "LOSS_VARIANTS",
    "NO_WEIGHTS_REASON",
    "FakeVariant",
    "describe",
    "ensure_builtin_protocols",
    "make_features",
    "make_records",
    "make_run_dir",
    "make_samples",
]
