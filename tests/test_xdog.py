"""XDoG (docs/protocol.md E1.3): binary output, hashed σ choice, OpenCV-equivalent blur, lines at edges."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from colorbench.data.xdog import SIGMAS, gaussian_blur, opencv_ksize, xdog, xdog_sigma


def _opencv_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Independent reference: separable kernel of cv2.getGaussianKernel(ksize, σ) with BORDER_REFLECT_101."""
    ksize = round(8 * sigma + 1) | 1
    r = ksize // 2
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-(x**2) / (2 * sigma**2))
    k /= k.sum()
    padded = np.pad(
        image.astype(np.float64), r, mode="reflect"
    )  # numpy 'reflect' = REFLECT_101 (no edge repeat)
    rows = sum(k[i] * padded[:, i : i + image.shape[1]] for i in range(ksize))
    return sum(k[i] * rows[i : i + image.shape[0], :] for i in range(ksize))


def _rgb(seed: int, size: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), 235, np.uint8)
    for _ in range(6):
        y0, x0 = rng.integers(0, size - 8, 2)
        h, w = rng.integers(4, size // 2, 2)
        img[y0 : y0 + h, x0 : x0 + w] = rng.integers(0, 256, 3)
    return img


def test_output_is_binary_uint8_and_params_recorded() -> None:
    sketch, params = xdog(_rgb(0), "yumi", "0001")
    assert sketch.shape == (48, 48) and sketch.dtype == np.uint8
    assert set(np.unique(sketch)) == {0, 255}
    d = params.to_dict()
    assert d["sigma"] in SIGMAS and d["tau"] == 0.95 and d["kappa"] == 4.5 and d["epsilon"] == 0.0
    assert d["ksize"] == [opencv_ksize(d["sigma"]), opencv_ksize(4.5 * d["sigma"])]


def test_sigma_choice_is_the_hashed_one_and_reproducible() -> None:
    seen = set()
    for i in range(60):
        image_id = f"img{i}"
        h = int(hashlib.sha256(f"colorbench|xdog|celeba|{image_id}".encode()).hexdigest()[:16], 16)
        assert xdog_sigma("celeba", image_id) == [0.3, 0.4, 0.5][h % 3]
        seen.add(xdog_sigma("celeba", image_id))
    assert seen == set(SIGMAS)
    a, pa = xdog(_rgb(1), "celeba", "img7")
    b, pb = xdog(_rgb(1), "celeba", "img7")
    assert a.tobytes() == b.tobytes() and pa == pb
    # the dataset name is part of the key: the same id can get another σ in another dataset
    assert any(xdog_sigma("celeba", f"img{i}") != xdog_sigma("yumi", f"img{i}") for i in range(20))


def test_kernel_sizes_follow_opencv() -> None:
    # cvRound(8σ+1)|1 for σ, 4.5σ with σ ∈ {0.3, 0.4, 0.5}
    assert [opencv_ksize(s) for s in (0.3, 0.4, 0.5)] == [3, 5, 5]
    assert [opencv_ksize(4.5 * s) for s in (0.3, 0.4, 0.5)] == [13, 15, 19]


@pytest.mark.parametrize("sigma", [0.3, 0.4, 0.5, 1.35, 1.8, 2.25])
def test_blur_matches_opencv_reference(sigma: float) -> None:
    img = np.random.default_rng(3).random((23, 31)).astype(np.float32)
    np.testing.assert_allclose(gaussian_blur(img, sigma), _opencv_blur(img, sigma), atol=2e-6)


def test_lines_follow_edges_and_flat_areas_are_white() -> None:
    flat = np.full((32, 32, 3), 120, np.uint8)
    assert (xdog(flat, "x", "a")[0] == 255).all()
    img = np.full((48, 48, 3), 255, np.uint8)
    img[16:32, 16:32] = 0  # a black square on white
    sketch, _ = xdog(img, "x", "a", sigma=0.5)
    lines = sketch == 0
    assert lines[16, 16:32].all() and lines[31, 16:32].all()  # its border, on the dark side
    assert not lines[:12].any() and not lines[36:].any()  # far from the edge: paper
    assert lines.sum() < 0.25 * lines.size


def test_rejects_non_rgb_uint8() -> None:
    with pytest.raises(ValueError, match="uint8"):
        xdog(np.zeros((8, 8), np.uint8), "x", "a")
    with pytest.raises(ValueError, match="uint8"):
        xdog(np.zeros((8, 8, 3), np.float32), "x", "a")
