"""Seeded percentile-bootstrap intervals over test images, and the paired bootstrap between two variants.

Images are the resampling unit (they are the i.i.d. draws; hint counts n are not). Every interval of one
report uses the same seed, so two cells over the same images see the same resamples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

CHUNK = 128  # resamples per block: bounds memory at CHUNK × I indices for large test sets


def resample_indices(n_items: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Blocks of bootstrap index sets [b, n_items] int64 (with replacement), `n_resamples` rows in total."""
    if n_items < 1:
        raise ValueError("cannot bootstrap an empty set of images")
    rng = np.random.Generator(np.random.PCG64(seed))
    done = 0
    while done < n_resamples:
        b = min(CHUNK, n_resamples - done)
        yield rng.integers(0, n_items, size=(b, n_items))
        done += b


def bootstrap_distribution(
    arrays: tuple[np.ndarray, ...], statistic: Callable[..., np.ndarray], n_resamples: int, seed: int
) -> np.ndarray:
    """[n_resamples] statistic values; `statistic` maps resampled arrays [b, I, ...] to [b]."""
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError("all bootstrapped arrays need one entry per image")
    out = [statistic(*(a[idx] for a in arrays)) for idx in resample_indices(n, n_resamples, seed)]
    return np.concatenate(out)


def _interval(point: float, resampled: np.ndarray, n: int, level: float) -> dict[str, float | int]:
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(resampled, [alpha, 1.0 - alpha])
    return {"value": float(point), "low": float(lo), "high": float(hi), "n": int(n), "level": float(level)}


def bootstrap_ci(values: np.ndarray, *, n_resamples: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Mean of per-image values [I] with its percentile CI: {"value", "low", "high", "n", "level"}.

    E_G[PSNR] is linear in the per-image values, so resampling images and recomputing Σ G(n)·mean PSNR(n)
    is exactly resampling the per-image expectations Σ G(n)·PSNR_i(n): pass those here.
    """
    v = np.asarray(values, dtype=np.float64)
    resampled = bootstrap_distribution((v,), lambda x: x.mean(axis=1), n_resamples, seed)
    return _interval(float(v.mean()), resampled, len(v), level)


def bootstrap_ratio_ci(
    num: np.ndarray, den: np.ndarray, *, n_resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """mean(num) / mean(den) over images with its percentile CI (images resampled jointly)."""
    a, b = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    if b.mean() == 0:
        raise ValueError("ratio of means with a zero denominator mean")
    resampled = bootstrap_distribution((a, b), lambda x, y: x.mean(axis=1) / y.mean(axis=1), n_resamples, seed)
    return _interval(float(a.mean() / b.mean()), resampled, len(a), level)


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, *, n_resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """Mean per-image difference a − b [I] with CI and a two-sided bootstrap p-value.

    p = 2·min(P*(Δ ≤ 0), P*(Δ ≥ 0)) over the resampled mean differences Δ (percentile-interval inversion:
    p < 1 − level exactly when the interval excludes 0), with (count + 1)/(R + 1) so p is never 0.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired bootstrap needs the same images on both sides, got {a.shape} vs {b.shape}")
    d = a - b
    resampled = bootstrap_distribution((d,), lambda x: x.mean(axis=1), n_resamples, seed)
    r = len(resampled)
    below = (int((resampled <= 0).sum()) + 1) / (r + 1)
    above = (int((resampled >= 0).sum()) + 1) / (r + 1)
    out = _interval(float(d.mean()), resampled, len(d), level)
    out["p_value"] = float(min(1.0, 2.0 * min(below, above)))
    return out
