"""The bounded geometric hint-count law G (Eq. 3) and per-image seeds (reference-brief E5.5).

Torch-free (torch is imported only to sample for training), so protocols and reports can use it cheaply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

NC_DEFAULT = 30
P_STOP_DEFAULT = 0.125


# ---------------------------------------------------------------------------------------------
# The bounded geometric distribution G (Eq. 3)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BoundedGeometric:
    """G(i) = (1-p)^i p for i < Nc, G(Nc) = (1-p)^Nc  (Eq. 3). Support 0..Nc."""

    nc: int = NC_DEFAULT
    p: float = P_STOP_DEFAULT

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
        return float((np.arange(self.nc + 1) * self.pmf()).sum())

    def expectation(self, values: Sequence[float] | np.ndarray) -> float:
        """Exact E_G[v(n)] = Σ_n G(n)·v(n) for values at n = 0..Nc (used for E_G[PSNR], E7.2)."""
        v = np.asarray(values, dtype=np.float64)
        if v.shape != (self.nc + 1,):
            raise ValueError(f"need {self.nc + 1} values (n = 0..{self.nc}), got shape {v.shape}")
        return float((self.pmf() * v).sum())

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
