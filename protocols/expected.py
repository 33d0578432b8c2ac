"""Expectations under the hint-count law G (Eq. 3): exact E_G[PSNR] (E7.2), its Monte-Carlo check, the
automatic n = 0 PSNR (E7.1), the mixture-set keys of FID under G (E7.3) and the separately named E_G[FID].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from colorbench.evaluation.records import feature_key
from colorbench.hint_counts import BoundedGeometric, image_seed
from colorbench.protocols.levels import RecordsError, psnr_at, psnr_matrix


def expected_per_image(matrix: np.ndarray, dist: BoundedGeometric) -> np.ndarray:
    """Σ_n G(n)·PSNR_i(n) per image: matrix [I, Nc+1] (columns n = 0..Nc) → [I] (E7.2)."""
    pmf = dist.pmf()
    if matrix.shape[1] != pmf.shape[0]:
        raise ValueError(f"need PSNR at n = 0..{dist.nc} ({pmf.shape[0]} columns), got {matrix.shape[1]}")
    return matrix @ pmf


def expected_psnr_per_image(
    records: pd.DataFrame, variant: str, dist: BoundedGeometric, mode: str = "native"
) -> tuple[list[str], np.ndarray]:
    """(image ids, Σ_n G(n)·PSNR_i(n) [I]); their mean is E_G[PSNR] = Σ_n G(n)·mean_i PSNR_i(n) exactly."""
    ids, mat = psnr_matrix(records, variant, range(dist.nc + 1), mode)
    return ids, expected_per_image(mat, dist)


def expected_psnr(records: pd.DataFrame, variant: str, dist: BoundedGeometric, mode: str = "native") -> float:
    """E_G[PSNR] = Σ_{n=0}^{Nc} G(n) · mean over images of PSNR(n)   (E7.2, exact, dB)."""
    _, mat = psnr_matrix(records, variant, range(dist.nc + 1), mode)
    return dist.expectation(mat.mean(axis=0))


def automatic_psnr_per_image(
    records: pd.DataFrame, variant: str, mode: str = "native"
) -> tuple[list[str], np.ndarray]:
    """(image ids, PSNR at n = 0 [I]): the "✗ Cond." value of every model (E7.1)."""
    return psnr_at(records, variant, 0, mode)


def monte_carlo_nh(image_ids: Sequence[str], dist: BoundedGeometric, dataset: str, seed: int) -> np.ndarray:
    """One Nh per image drawn like the official test script (Nc Bernoulli(1−p) flags, Nh = leading ones).

    Each image has its own generator (hashed id + seed), so the draw does not depend on image order.
    """
    out = np.empty(len(image_ids), dtype=np.int64)
    for k, image_id in enumerate(image_ids):
        rng = np.random.Generator(np.random.PCG64(image_seed(dataset, image_id, f"mc-nh|{seed}")))
        live = rng.random(dist.nc) < (1.0 - dist.p)
        out[k] = int(np.cumprod(live).sum())
    return out


def monte_carlo_psnr(
    records: pd.DataFrame,
    variant: str,
    dist: BoundedGeometric,
    dataset: str,
    seed: int = 0,
    mode: str = "native",
) -> dict:
    """The official script's estimate of E_G[PSNR]: mean over images of PSNR_i(Nh_i), one seeded Nh_i each.

    A check on the exact value, not a replacement: it varies with the seed by roughly std/√I.
    """
    ids, mat = psnr_matrix(records, variant, range(dist.nc + 1), mode)
    nh = monte_carlo_nh(ids, dist, dataset, seed)
    picked = mat[np.arange(len(ids)), nh]
    return {"value": float(picked.mean()), "n": len(ids), "seed": int(seed), "mean_nh": float(nh.mean())}


def mixture_keys(
    image_ids: Sequence[str], nh_assignment: Mapping[str, int], mode: str = "native"
) -> list[str]:
    """Feature keys of the FID-under-G fake set: image i colorized with its own stratified n_i (E7.3)."""
    missing = [i for i in image_ids if i not in nh_assignment]
    if missing:
        raise RecordsError(
            f"run.json fid.nh_assignment has no Nh for {len(missing)} image(s) (e.g. {missing[0]!r}); "
            "the run directory mixes runs — rerun `colorbench run`"
        )
    return [feature_key(i, mode, int(nh_assignment[i])) for i in image_ids]


def expected_of_fid(fid_by_n: Mapping[int, float], dist: BoundedGeometric) -> float:
    """E_G[FID] = Σ_n G(n)·FID(n). NOT the FID under G (a mixture's FID is not linear); named apart."""
    missing = [n for n in range(dist.nc + 1) if n not in fid_by_n]
    if missing:
        raise ValueError(f"E_G[FID] needs FID at every n = 0..{dist.nc}; missing n = {missing[:5]}…")
    return dist.expectation([fid_by_n[n] for n in range(dist.nc + 1)])
