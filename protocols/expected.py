"""Expectations under the hint-count law G (Eq. 3): exact E_G[PSNR] (E7.2), its Monte-Carlo check, the
automatic n = 0 PSNR (E7.1), the mixture-set keys of FID under G (E7.3) and the separately named E_G[FID].

Every Σ_n G(n)·v(n) goes through BoundedGeometric.expectation; Table 1, the gate, the comparisons and the
policies read E_G from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from colorbench.evaluation.records import feature_key
from colorbench.hint_counts import BoundedGeometric, image_seed
from colorbench.protocols.levels import RecordsError, psnr_matrix


def expected_per_image(matrix: np.ndarray, law: BoundedGeometric) -> np.ndarray:
    """Σ_n G(n)·value_i(n) per image: matrix [I, Nc+1] (columns n = 0..Nc) → [I] (E7.2)."""
    if matrix.ndim != 2 or matrix.shape[1] != law.nc + 1:
        raise ValueError(f"need values at n = 0..{law.nc} ({law.nc + 1} columns), got shape {matrix.shape}")
    return law.expectation(matrix)


def expected_psnr_per_image(
    records: pd.DataFrame, variant: str, law: BoundedGeometric, mode: str = "native", column: str = "psnr"
) -> tuple[list[str], np.ndarray]:
    """(image ids, Σ_n G(n)·PSNR_i(n) [I]); their mean is E_G[PSNR] = Σ_n G(n)·mean_i PSNR_i(n) exactly.
    `column`: another per-image metric column of records.csv (`run --metrics`), E_G of it alike."""
    ids, mat = psnr_matrix(records, variant, range(law.nc + 1), mode, column=column)
    return ids, expected_per_image(mat, law)


def expected_psnr(
    records: pd.DataFrame, variant: str, law: BoundedGeometric, mode: str = "native", column: str = "psnr"
) -> float:
    """E_G[PSNR] = Σ_{n=0}^{Nc} G(n) · mean over images of PSNR(n)   (E7.2, exact, dB); of `column` alike."""
    _, mat = psnr_matrix(records, variant, range(law.nc + 1), mode, column=column)
    return law.expectation(mat.mean(axis=0))


def automatic_psnr_per_image(
    records: pd.DataFrame, variant: str, mode: str = "native", column: str = "psnr"
) -> tuple[list[str], np.ndarray]:
    """(image ids, PSNR at n = 0 [I]): the "✗ Cond." value of every model (E7.1); of `column` alike."""
    ids, mat = psnr_matrix(records, variant, [0], mode, column=column)
    return ids, mat[:, 0]


def monte_carlo_nh(image_ids: Sequence[str], law: BoundedGeometric, dataset: str, seed: int) -> np.ndarray:
    """One Nh per image drawn like the official test script (Nc Bernoulli(1−p) flags, Nh = leading ones).

    Each image has its own generator (hashed id + seed), so the draw does not depend on image order.
    """
    out = np.empty(len(image_ids), dtype=np.int64)
    for k, image_id in enumerate(image_ids):
        rng = np.random.Generator(np.random.PCG64(image_seed(dataset, image_id, f"mc-nh|{seed}")))
        live = rng.random(law.nc) < (1.0 - law.p)
        out[k] = int(np.cumprod(live).sum())
    return out


def monte_carlo_psnr(
    records: pd.DataFrame,
    variant: str,
    law: BoundedGeometric,
    dataset: str,
    seed: int = 0,
    mode: str = "native",
) -> dict:
    """The official script's estimate of E_G[PSNR]: mean over images of PSNR_i(Nh_i), one seeded Nh_i each.

    A check on the exact value, not a replacement: it varies with the seed by roughly std/√I.
    """
    ids, mat = psnr_matrix(records, variant, range(law.nc + 1), mode)
    nh = monte_carlo_nh(ids, law, dataset, seed)
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


def expected_of_fid(fid_by_n: Mapping[int, float], law: BoundedGeometric) -> float:
    """E_G[FID] = Σ_n G(n)·FID(n). NOT the FID under G (a mixture's FID is not linear); named apart."""
    missing = [n for n in range(law.nc + 1) if n not in fid_by_n]
    if missing:
        raise ValueError(f"E_G[FID] needs FID at every n = 0..{law.nc}; missing n = {missing[:5]}…")
    return law.expectation([fid_by_n[n] for n in range(law.nc + 1)])
