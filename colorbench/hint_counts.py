"""The bounded geometric hint-count law G (Eq. 3), the one place expectations under it are computed, and
per-image seeds (E5.5).

Torch-free (torch is imported only to sample for training), so protocols and reports can use it cheaply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from colorbench.defaults import EVAL

if TYPE_CHECKING:
    import torch


# ---------------------------------------------------------------------------------------------
# The bounded geometric distribution G (Eq. 3)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BoundedGeometric:
    """G(i) = (1-p)^i p for i < Nc, G(Nc) = (1-p)^Nc  (Eq. 3). Support 0..Nc."""

    nc: int = EVAL.nc
    p: float = EVAL.p

    def __post_init__(self) -> None:
        if self.nc < 0 or not 0.0 < self.p <= 1.0:
            raise ValueError(f"need nc >= 0 and 0 < p <= 1, got nc={self.nc}, p={self.p}")

    def pmf(self) -> np.ndarray:
        """[Nc+1] float64 probabilities; they sum to 1 exactly up to rounding."""
        i = np.arange(self.nc + 1, dtype=np.float64)
        out = (1.0 - self.p) ** i * self.p
        out[self.nc] = (1.0 - self.p) ** self.nc
        return out

    def cdf(self) -> np.ndarray:
        return np.cumsum(self.pmf())

    def mean(self) -> float:
        """E_G[n], the mean hint count."""
        return self.expectation(np.arange(self.nc + 1))

    def expectation(self, values: Sequence[float] | np.ndarray) -> float | np.ndarray:
        """Exact E_G[v] = Σ_n G(n)·v(n) (E7.2): the one function every E_G of colorbench goes through
        (E_G[PSNR] of Table 1 and of the gate, E_G of every metric column, E_G[FID], policies).

        values: [Nc+1] at n = 0..Nc → a float; or [..., Nc+1] (e.g. [I, Nc+1], one row per image) → [...].
        A vector is summed as products (np.sum's order) and a matrix goes through one matrix-vector product,
        as each was computed before they met here: the two orders round differently in the last bit, and
        every published number stays bit-identical.
        """
        v = np.asarray(values, dtype=np.float64)
        if v.ndim == 0 or v.shape[-1] != self.nc + 1:
            raise ValueError(f"need {self.nc + 1} values (n = 0..{self.nc}) on the last axis, got shape {v.shape}")
        pmf = self.pmf()
        return float((pmf * v).sum()) if v.ndim == 1 else v @ pmf

    def sample(self, generator: torch.Generator, size: int) -> torch.Tensor:
        """Nh per sample, [size] int64, as the official code: Nc Bernoulli(1-p) flags, Nh = leading ones."""
        import torch  # lazily: protocols and reports use this class without torch

        live = torch.rand(size, self.nc, generator=generator, device=generator.device) < (1.0 - self.p)
        return live.to(torch.int64).cumprod(dim=1).sum(dim=1)

    def stratified(self, keys: Sequence[str]) -> np.ndarray:
        """One Nh per key so that the counts follow G as closely as N allows (E7.3).

        Keys are ranked by sha256; rank r gets u = (r+0.5)/N and Nh = min{k : CDF(k) >= u}.
        Returns [N] int64 in the order of `keys`.
        """
        n = len(keys)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        order = sorted(range(n), key=lambda i: hashlib.sha256(keys[i].encode()).hexdigest())
        cdf = self.cdf()
        cdf[-1] = 1.0  # guard against rounding leaving the last bin unreachable
        out = np.empty(n, dtype=np.int64)
        for rank, i in enumerate(order):
            out[i] = int(np.searchsorted(cdf, (rank + 0.5) / n, side="left"))
        return out


# ---------------------------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------------------------
def image_seed(dataset: str, image_id: str, tag: str) -> int:
    """Seed of one image's random draws for one purpose (E5.5): first 16 hex digits of a sha256."""
    digest = hashlib.sha256(f"colorbench|hints|{dataset}|{image_id}|{tag}".encode()).hexdigest()
    return int(digest[:16], 16)


def image_rng(dataset: str, image_id: str, tag: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(image_seed(dataset, image_id, tag)))
