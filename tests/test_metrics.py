"""PSNR exactly as docs/protocol.md / the official code."""

from __future__ import annotations

import math

import pytest
import torch

from colorbench.metrics.psnr import PSNR_IDENTICAL, psnr, psnr_uint8, to_uint8


def test_quantisation_rounds_to_the_nearest_level_and_clamps():
    x = torch.tensor([-1.0, 1.0, 0.0, 2.0, -3.0, 10.7 / 127.5 - 1]).view(1, 1, 1, 6).expand(1, 3, 1, 6)
    assert to_uint8(x)[0, 0, 0].tolist() == [0, 255, 128, 255, 0, 11]  # 127.5 rounds half to even: 128


def test_psnr_of_uniform_one_level_error_is_48_13_db():
    a = torch.full((2, 3, 8, 8), 100, dtype=torch.uint8)
    b = a + 1
    assert torch.allclose(psnr_uint8(a, b), torch.tensor(20 * math.log10(255.0), dtype=torch.float64))
    assert round(float(psnr_uint8(a, b)[0]), 2) == 48.13


def test_psnr_hand_computed_value():
    a = torch.zeros(1, 3, 2, 2, dtype=torch.uint8)
    b = a.clone()
    b[0, 0, 0, 0] = 12  # MSE = 144 / 12 = 12
    assert float(psnr_uint8(b, a)[0]) == pytest.approx(20 * math.log10(255 / math.sqrt(12.0)), abs=1e-12)


def test_identical_images_score_the_cap_and_psnr_is_per_image():
    y = torch.rand(3, 3, 8, 8) * 2 - 1
    assert torch.all(psnr(y, y) == PSNR_IDENTICAL)
    noisy = y.clone()
    noisy[1] += 0.2
    vals = psnr(noisy, y)
    assert vals[0] == PSNR_IDENTICAL and vals[1] < 40 and vals[2] == PSNR_IDENTICAL


def test_psnr_agrees_with_scikit_image_on_uint8_images():
    from skimage.metrics import peak_signal_noise_ratio

    gen = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (3, 3, 16, 16), generator=gen, dtype=torch.uint8)
    b = torch.randint(0, 256, (3, 3, 16, 16), generator=gen, dtype=torch.uint8)
    ours = psnr_uint8(a, b)
    for i in range(3):
        ref = peak_signal_noise_ratio(a[i].numpy(), b[i].numpy(), data_range=255)
        assert float(ours[i]) == pytest.approx(ref, abs=1e-9)
