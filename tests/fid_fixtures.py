"""Offline stand-in for the FID Inception weights: a seeded, randomly initialised `inception-v3-compat`.

PLUMBING ONLY: features from these weights exercise torch-fidelity's real loading and forward path, but
distances computed with them are not FID and must never be reported as FID.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def write_random_inception_weights(path: str | Path, seed: int = 0) -> Path:
    """Save a state dict with exactly the keys/shapes torch-fidelity's InceptionV3 loads; returns the path.

    Convs get Kaiming-normal (ReLU) weights: PyTorch's default init makes pool3 features vanish (~1e-8) and
    every distance ≈ 0, which would let a broken pipeline pass. BatchNorm stays identity-like (its defaults).
    """
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _Unloaded(FeatureExtractorInceptionV3):
        # torch-fidelity's constructor always loads a state dict; skipping it builds the bare architecture.
        def load_state_dict(self, state_dict, strict=True, assign=False):  # type: ignore[override]
            return None

    path = Path(path)
    empty = path.with_suffix(".empty.pth")
    torch.save({}, empty)
    # Module construction draws default inits from the global RNG; fork it so the caller's stream is untouched
    # (every value we keep is overwritten from the seeded generator below).
    with torch.random.fork_rng(devices=[]):
        net = _Unloaded("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty))
    empty.unlink()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu", generator=gen)
        net.fc.weight.normal_(0.0, 0.01, generator=gen)
        net.fc.bias.zero_()
    torch.save(net.state_dict(), path)
    return path


def noise_images(n: int, size: int, low: int, high: int, seed: int) -> torch.Tensor:
    """uint8 [n,3,size,size] uniform noise in [low, high), from a seeded numpy generator."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(low, high, size=(n, 3, size, size), dtype=np.uint8))
