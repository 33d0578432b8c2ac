"""XDoG sketch extraction as pinned by docs/protocol.md E1.3 (Lee et al. 2020 recipe, Winnemöller et al. 2012).

I = BT.601 grey in [0,1] (float32, no rounding); σ ∈ {0.3, 0.4, 0.5} chosen by sha256 of the image id;
D = G_σ(I) − 0.95·G_{4.5σ}(I); sketch = 255 where D ≥ 0 else 0 (φ = 1e9 is a hard step, ε = 0).
The blur reproduces cv2.GaussianBlur(I, (0,0), σ) on float32: kernel size round(8σ+1) forced odd,
BORDER_REFLECT_101 (scipy mode 'mirror'); OpenCV is not a dependency.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter

__all__ = [
    "EPSILON",
    "KAPPA",
    "SIGMAS",
    "TAU",
    "XDoGParams",
    "gaussian_blur",
    "opencv_ksize",
    "xdog",
    "xdog_sigma",
]

SIGMAS = (0.3, 0.4, 0.5)
TAU = 0.95
KAPPA = 4.5
EPSILON = 0.0  # white where D ≥ ε; with φ = 1e9 the soft threshold is a hard step
_BT601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def xdog_sigma(dataset: str, image_id: str) -> float:
    """σ = SIGMAS[h mod 3], h = int of the first 16 hex digits of sha256("colorbench|xdog|<dataset>|<id>")."""
    h = int(hashlib.sha256(f"colorbench|xdog|{dataset}|{image_id}".encode()).hexdigest()[:16], 16)
    return SIGMAS[h % 3]


def opencv_ksize(sigma: float) -> int:
    """OpenCV's automatic kernel size for float images and ksize (0,0): cvRound(8σ + 1) | 1."""
    return int(np.rint(sigma * 8 + 1)) | 1


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """cv2.GaussianBlur(image, (0,0), sigma) on float32 [H,W]: same kernel extent, BORDER_REFLECT_101."""
    radius = opencv_ksize(sigma) // 2
    return gaussian_filter(image.astype(np.float32, copy=False), sigma, mode="mirror", radius=radius)


@dataclass(frozen=True)
class XDoGParams:
    """The parameters one sketch was made with (recorded per image in the prepare manifest)."""

    sigma: float
    tau: float = TAU
    kappa: float = KAPPA
    epsilon: float = EPSILON
    phi: float = 1e9
    ksize: tuple[int, int] = (0, 0)  # OpenCV kernel sizes of G_σ and G_{κσ}
    method: str = "xdog-E1.3"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ksize"] = list(self.ksize)
        return out


def xdog(
    rgb: np.ndarray, dataset: str, image_id: str, sigma: float | None = None, tau: float = TAU,
    epsilon: float = EPSILON,
) -> tuple[np.ndarray, XDoGParams]:
    """XDoG line art of one colour image.

    rgb: uint8 [H,W,3] (the resized ground truth, E1.1). `sigma` overrides the hashed choice; `tau` and
    `epsilon` the E1.3 values (`prepare --xdog-sigma/--xdog-tau/--xdog-epsilon`, for sketches that come out
    nearly empty or nearly solid). Returns (sketch uint8 [H,W] in {0 = line, 255 = paper}, the parameters used).
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"xdog wants uint8 [H,W,3], got {rgb.dtype} {list(rgb.shape)}")
    sigma = xdog_sigma(dataset, image_id) if sigma is None else float(sigma)
    grey = (rgb.astype(np.float32) @ _BT601) / np.float32(255.0)
    d = gaussian_blur(grey, sigma) - np.float32(tau) * gaussian_blur(grey, KAPPA * sigma)
    sketch = np.where(d >= epsilon, 255, 0).astype(np.uint8)
    return sketch, XDoGParams(sigma=sigma, tau=tau, epsilon=epsilon,
                              ksize=(opencv_ksize(sigma), opencv_ksize(KAPPA * sigma)))
