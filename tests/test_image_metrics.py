"""SSIM and CIEDE2000 ΔE against scikit-image on random and edge-case images; colourfulness against a worked
example; the metrics chosen with `run --metrics` land in the engine's records."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

from colorbench.metrics.builtin import cf, ciede2000, colourfulness, deltae, ssim


def _pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, pred, gt) uint8 [H,W,3] image pairs: random, correlated, constant, identical, extreme."""
    rng = np.random.default_rng(23)
    a = rng.integers(0, 256, (24, 31, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (24, 31, 3), dtype=np.uint8)
    near = np.clip(a.astype(int) + rng.integers(-12, 13, a.shape), 0, 255).astype(np.uint8)
    const1 = np.full((24, 31, 3), 90, np.uint8)
    const2 = np.full((24, 31, 3), (200, 30, 140), np.uint8)
    grey = np.repeat(rng.integers(0, 256, (24, 31, 1), dtype=np.uint8), 3, axis=2)  # zero chroma: ΔE branches
    black, white = np.zeros_like(a), np.full_like(a, 255)
    return [("random", a, b), ("near", near, a), ("constant", const1, const2), ("identical", a, a.copy()),
            ("constant-vs-random", const1, a), ("grey", grey, a), ("grey-vs-grey", grey, grey[::-1].copy()),
            ("black-white", black, white)]


def _t(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


PAIRS = _pairs()


def test_ssim_equals_scikit_image_on_random_and_edge_cases() -> None:
    ours = ssim(_t([p for _, p, _ in PAIRS]), _t([g for _, _, g in PAIRS]))
    for (name, p, g), value in zip(PAIRS, ours.tolist()):
        ref = structural_similarity(p, g, channel_axis=-1, data_range=255)
        assert value == pytest.approx(ref, abs=1e-7), name  # exact integer window sums, float32 ratio
    assert ours[3].item() == pytest.approx(1.0, abs=1e-12)  # identical images


def test_ssim_refuses_images_smaller_than_its_window() -> None:
    with pytest.raises(ValueError, match="7×7"):
        ssim(torch.zeros(1, 3, 6, 9, dtype=torch.uint8), torch.zeros(1, 3, 6, 9, dtype=torch.uint8))


def test_deltae2000_equals_scikit_image_per_pixel_and_in_the_mean() -> None:
    pred, gt = _t([p for _, p, _ in PAIRS]), _t([g for _, _, g in PAIRS])
    means = deltae(pred, gt)
    for (name, p, g), value in zip(PAIRS, means.tolist()):
        ref = deltaE_ciede2000(rgb2lab(p), rgb2lab(g), channel_axis=-1)
        assert value == pytest.approx(float(ref.mean()), abs=2e-5), name  # float32 Lab and ΔE
    assert means[3].item() == 0.0  # identical images
    # Per pixel on scikit-image's own Lab values: the port alone, without the Lab conversion.
    lab1, lab2 = rgb2lab(PAIRS[0][1]), rgb2lab(PAIRS[0][2])
    per_pixel = ciede2000(torch.from_numpy(lab1).permute(2, 0, 1)[None], torch.from_numpy(lab2).permute(2, 0, 1)[None])
    np.testing.assert_allclose(per_pixel[0].numpy(), deltaE_ciede2000(lab1, lab2, channel_axis=-1), rtol=0, atol=1e-9)


def test_the_ciede2000_port_in_float64_equals_scikit_image_near_every_hue_branch() -> None:
    # Hue differences near 0, ±π/2 and ±π (the two forms of the Δh term), zero chroma and exact antipodes.
    # Not Δh = π ± 1 ulp: ΔE2000 is discontinuous there, and torch's and numpy's atan2 may differ by an ulp.
    rng = np.random.default_rng(7)
    n = 4000
    L = rng.uniform(0, 100, (2, n))
    c1, c2 = rng.uniform(0, 80, n), rng.uniform(0, 80, n)
    h1 = rng.uniform(0, 2 * np.pi, n)
    dh = rng.choice([0.0, 1e-4, -1e-4, np.pi / 2, -np.pi / 2, np.pi - 1e-4, -np.pi + 1e-4], n) + \
        rng.normal(0, 1e-3, n) * (rng.random(n) < 0.5)
    h2 = h1 + dh
    c1[:50] = 0.0
    lab1 = np.stack([L[0], c1 * np.cos(h1), c1 * np.sin(h1)], axis=-1)
    lab2 = np.stack([L[1], c2 * np.cos(h2), c2 * np.sin(h2)], axis=-1)
    lab2[-20:, 1:] = -lab1[-20:, 1:]  # exact antipodes
    ours = ciede2000(torch.from_numpy(lab1.T[None, :, :, None].copy()), torch.from_numpy(lab2.T[None, :, :, None].copy()))
    np.testing.assert_allclose(ours[0, :, 0].numpy(), deltaE_ciede2000(lab1, lab2), rtol=0, atol=1e-9)


def test_the_engine_split_equals_the_metric_and_the_ground_truth_share_is_per_image() -> None:
    from colorbench.metrics.registry import METRICS

    pred, gt = _t([p for _, p, _ in PAIRS]), _t([g for _, _, g in PAIRS])
    for name in ("ssim", "deltae", "cf"):
        m = METRICS.get(name)
        refs = m.prepare(gt)
        assert all(r.shape[0] == len(PAIRS) for r in refs), name  # rows the engine can gather per hint level
        assert torch.equal(m.score(pred, *refs), m(pred, gt)), name


def test_colourfulness_matches_a_hand_worked_example() -> None:
    # Two pixels: pure red (255, 0, 0) and black. rg = (255, 0), yb = (127.5, 0).
    # μ_rg = 127.5, μ_yb = 63.75; σ_rg = 127.5, σ_yb = 63.75 (population std of two values: half their gap).
    # CF = √(127.5² + 63.75²) + 0.3·√(127.5² + 63.75²) = 1.3 · 63.75·√5 = 1.3 · 142.5493… = 185.3141…
    img = torch.tensor([[[[255, 0]], [[0, 0]], [[0, 0]]]], dtype=torch.uint8)  # [1,3,1,2]
    expected = 1.3 * math.hypot(127.5, 63.75)
    assert colourfulness(img).item() == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(185.3141, abs=1e-4)
    grey = torch.full((1, 3, 4, 4), 77, dtype=torch.uint8)
    assert colourfulness(grey).item() == 0.0  # no chroma at all
    both = cf(img, torch.zeros_like(img))  # against a black ground truth (CF 0): |ΔCF| = CF
    assert both.shape == (1, 2) and both[0, 0].item() == pytest.approx(expected) and both[0, 1].item() == pytest.approx(expected)


def test_colourfulness_equals_a_numpy_transcription_on_random_images() -> None:
    rng = np.random.default_rng(5)
    imgs = rng.integers(0, 256, (3, 3, 9, 11), dtype=np.uint8)
    ours = colourfulness(torch.from_numpy(imgs))
    for i, img in enumerate(imgs.astype(np.float64)):
        rg, yb = img[0] - img[1], 0.5 * (img[0] + img[1]) - img[2]
        ref = np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
        assert ours[i].item() == pytest.approx(ref, rel=1e-12)
