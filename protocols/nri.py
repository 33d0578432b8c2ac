"""Number of required interactions (paper §4.2, docs/protocol.md E7.4): per image, the first hint count whose
PSNR reaches the dataset threshold τ_d, Nc + 1 if none does; the dataset value is the mean over images.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from colorbench.protocols.levels import psnr_matrix


def nri_per_image(matrix: np.ndarray, threshold: float) -> np.ndarray:
    """matrix [I, Nc+1] of PSNR at n = 0..Nc (dB) → NRI [I] int64 in 0..Nc+1.

    NRI_i = min{n : PSNR_i(n) ≥ τ}, or Nc + 1 when no n reaches τ (E7.4; n starts at 0, so an image
    already above τ without hints needs 0 interactions).
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 1:
        raise ValueError(f"need a [images, Nc+1] PSNR matrix, got shape {m.shape}")
    reached = m >= threshold
    first = reached.argmax(axis=1)  # index of the first True; 0 when there is none
    return np.where(reached.any(axis=1), first, m.shape[1]).astype(np.int64)


def nri_of_variant(
    records: pd.DataFrame, variant: str, threshold: float, nc: int, mode: str = "native"
) -> tuple[list[str], np.ndarray]:
    """(image ids, per-image NRI [I]) of one conditional variant from its native records at n = 0..Nc."""
    ids, mat = psnr_matrix(records, variant, range(nc + 1), mode)
    return ids, nri_per_image(mat, threshold)


def nri(records: pd.DataFrame, variant: str, threshold: float, nc: int, mode: str = "native") -> float:
    """Mean NRI over images (E7.4)."""
    return float(nri_of_variant(records, variant, threshold, nc, mode)[1].mean())
