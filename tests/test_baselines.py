"""The four baselines (RTUG, AlacGAN, Pix2Pix, CIC) and the flat-fill floor: shapes, training, CIC maths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from colorbench.api import HintKind, Hints
from colorbench.baselines.alacgan import AlacGAN, sample_cell_hints_train
from colorbench.baselines.cic import CIC, ab_bins, annealed_mean, nearest_bin, rebalance_weights, soft_encode
from colorbench.baselines.floor import FlatFill
from colorbench.baselines.pix2pix import Pix2Pix
from colorbench.baselines.rtug import RTUG
from colorbench.checkpoints import load_checkpoint, load_into, save_checkpoint
from colorbench.color.lab import lab_to_rgb, rgb_to_lab, signed_to_lab
from colorbench.hints import simulate
from colorbench.model import TrainContext
from colorbench.registry import MODELS

SIZE = 32
TINY = {"width": 0.125}
LEARNED = [RTUG, AlacGAN, Pix2Pix, CIC]


def toy_batch(b: int = 2, size: int = SIZE, seed: int = 0) -> dict[str, torch.Tensor]:
    """Flat-coloured quadrants with black outlines (colour and sketch agree), [-1,1]."""
    g = torch.Generator().manual_seed(seed)
    half = size // 2
    color = torch.empty(b, 3, size, size)
    for i in range(b):
        for ys in (slice(0, half), slice(half, size)):
            for xs in (slice(0, half), slice(half, size)):
                color[i, :, ys, xs] = (torch.rand(3, 1, 1, generator=g) * 2 - 1)
    sketch = torch.ones(b, 1, size, size)
    sketch[:, :, half, :] = -1
    sketch[:, :, :, half] = -1
    color = torch.where(sketch < 0, -torch.ones_like(color), color)
    return {"sketch": sketch, "color": color}


def ctx(seed: int = 0) -> TrainContext:
    return TrainContext(epoch=0, epochs=1, step=0, generator=torch.Generator().manual_seed(seed),
                        device=torch.device("cpu"))


def make(cls, **cfg):
    torch.manual_seed(0)  # init_weights draws from the global RNG; fix it so tests are repeatable
    model = cls({**TINY, **cfg}) if cls is not FlatFill else cls()
    if isinstance(model, CIC):
        model.prepare_training([{"color": c} for c in toy_batch(4, seed=1)["color"]])
    return model


def eval_hints(cls, color: torch.Tensor, n: int = 5) -> Hints:
    seeds = list(range(color.shape[0]))
    return simulate(cls.hint_kind, color, seeds).at(n)


# ------------------------------------------------------------------------------------------------
# Interface
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", LEARNED + [FlatFill], ids=lambda c: c.name)
def test_output_shape_and_range(cls):
    torch.set_num_threads(1)
    model = make(cls).eval()
    batch = toy_batch(3)
    with torch.no_grad():
        out = model.colorize(batch["sketch"], eval_hints(cls, batch["color"]))
    assert out.shape == (3, 3, SIZE, SIZE)
    assert torch.isfinite(out).all() and out.min() >= -1.0 and out.max() <= 1.0


@pytest.mark.parametrize("name,cls", [("rtug", RTUG), ("alacgan", AlacGAN), ("pix2pix", Pix2Pix), ("cic", CIC)])
def test_registered_and_labelled(name, cls):
    assert MODELS.get(name) is cls
    info = cls.info()
    assert info.labels and info.display_name
    assert cls.from_config(cls.default_config()).config["width"] == 0.25  # CPU default
    assert all(isinstance(v, (int, float, str)) for v in cls.default_config().values())  # JSON-able


def test_hint_kinds():
    assert (RTUG.hint_kind, AlacGAN.hint_kind, Pix2Pix.hint_kind, CIC.hint_kind, FlatFill.hint_kind) == (
        HintKind.POINT, HintKind.STROKE, HintKind.NONE, HintKind.NONE, HintKind.POINT)


def test_unknown_config_key_is_rejected():
    with pytest.raises(ValueError, match="unknown config keys"):
        RTUG({"widht": 0.5})


# ------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", LEARNED, ids=lambda c: c.name)
def test_one_train_step_changes_weights(cls):
    torch.set_num_threads(1)
    model = make(cls).train()
    defaults = model.training_defaults()
    optimizers = model.configure_optimizers(defaults["lr"], tuple(defaults["betas"]))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = model.train_step(toy_batch(4), optimizers, ctx())
    assert losses and all(math.isfinite(v) for v in losses.values())
    after = model.state_dict()
    changed = {k for k in before if before[k].is_floating_point() and not torch.equal(before[k], after[k])}
    for prefix in {k.split(".")[0] for k, _ in model.named_parameters()}:  # every sub-network learns
        assert any(k.startswith(prefix + ".") for k in changed), f"{prefix} did not change"
    assert all(torch.isfinite(v).all() for v in after.values() if v.is_floating_point())


@pytest.mark.parametrize("cls", [RTUG, AlacGAN], ids=lambda c: c.name)
def test_train_step_randomness_comes_from_ctx_generator(cls):
    torch.set_num_threads(1)
    runs = []
    for seed in (3, 3, 4):
        model = make(cls).train()
        opts = model.configure_optimizers(1e-3, (0.5, 0.999))
        runs.append(model.train_step(toy_batch(4), opts, ctx(seed))["loss"])
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_gan_discriminators_are_training_only():
    for cls in (AlacGAN, Pix2Pix):
        model = make(cls)
        keys = set(model.inference_state_dict())
        assert keys and not any(k.startswith("discriminator.") for k in keys)
        assert any(k.startswith("discriminator.") for k in model.state_dict())


# ------------------------------------------------------------------------------------------------
# Conditional models use their hints
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [RTUG, AlacGAN, FlatFill], ids=lambda c: c.name)
def test_output_depends_on_hint_colour(cls):
    """Hint colours reach the output (a model that dropped C, or its Lab conversion, would fail)."""
    model = make(cls).eval()
    batch = toy_batch(2)
    hints = eval_hints(cls, batch["color"], n=8)
    assert hints.mask.sum() > 0
    recoloured = Hints((-hints.color) * hints.mask, hints.mask)  # same places, other colours
    with torch.no_grad():
        a = model.colorize(batch["sketch"], hints)
        b = model.colorize(batch["sketch"], recoloured)
        c = model.colorize(batch["sketch"], Hints.empty(2, SIZE, SIZE))
    # Untrained nets respond weakly (N(0, 0.02) weights), so "used" means "the output is not identical".
    assert not torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("cls", [Pix2Pix, CIC], ids=lambda c: c.name)
def test_automatic_models_ignore_hints(cls):
    model = make(cls).eval()
    batch = toy_batch(2)
    with torch.no_grad():
        a = model.colorize(batch["sketch"], eval_hints(RTUG, batch["color"], n=8))
        b = model.colorize(batch["sketch"], Hints.empty(2, SIZE, SIZE))
    assert torch.equal(a, b)


def test_alacgan_training_hints_follow_its_sampler():
    torch.set_num_threads(1)
    color = torch.rand(64, 3, 128, 128, generator=torch.Generator().manual_seed(0)) * 2 - 1
    hints = sample_cell_hints_train(color, torch.Generator().manual_seed(1), cell=4, sigma=0.005)
    mask = hints.mask
    assert mask[32:].sum() == 0  # second half of the batch: no hints
    # Aligned 4×4 blocks painted with the GT's cell mean.
    cells = mask[:, 0].unfold(1, 4, 4).unfold(2, 4, 4)  # [B,32,32,4,4]
    assert (cells.amin((-1, -2)) == cells.amax((-1, -2))).all()
    cell_mean = torch.nn.functional.avg_pool2d(color, 4)
    painted = torch.nn.functional.avg_pool2d(hints.color, 4)
    small_mask = cells[..., 0, 0].unsqueeze(1)
    assert torch.allclose(painted * small_mask, cell_mean * small_mask, atol=1e-6)
    # Mean density of the hinted half: E[1 − t] = σ·E|Z| = 0.005·√(2/π) ≈ 0.40 %.
    density = small_mask[:32].mean().item()
    assert 0.002 < density < 0.006


# ------------------------------------------------------------------------------------------------
# CIC maths
# ------------------------------------------------------------------------------------------------
def test_rebalance_weights_match_cic_formula():
    hist = torch.tensor([60.0, 30.0, 10.0, 0.0])
    w = rebalance_weights(hist, lam=0.5)
    # p̃ = (.6, .3, .1, 0), Q = 3 bins seen: raw w = 1/(.5 p̃ + .5/3) = (1/.4667, 1/.3167, 1/.2167, 6)
    raw = np.array([1 / (0.3 + 1 / 6), 1 / (0.15 + 1 / 6), 1 / (0.05 + 1 / 6), 6.0])
    expected = raw / (np.array([0.6, 0.3, 0.1, 0.0]) * raw).sum()
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-12)
    assert float((w[:3] * torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64)).sum()) == pytest.approx(1.0)
    assert w[0] < w[1] < w[2]  # rarer colours weigh more
    assert torch.allclose(rebalance_weights(hist, lam=1.0)[:3], torch.ones(3, dtype=torch.float64))  # λ=1: none


def test_rebalance_weights_reject_bad_histograms():
    with pytest.raises(ValueError):
        rebalance_weights(torch.zeros(4))
    with pytest.raises(ValueError):
        rebalance_weights(torch.tensor([1.0, -1.0, 2.0]))


def test_annealed_mean_interpolates_mean_and_mode():
    g = torch.Generator().manual_seed(0)
    centers = ab_bins()
    logits = torch.randn(2, centers.shape[0], 3, 3, generator=g) * 3
    probs = torch.softmax(logits, dim=1)
    mean = torch.einsum("bqhw,qc->bchw", probs, centers)
    assert torch.allclose(annealed_mean(logits, centers, T=1.0), mean, atol=1e-4)
    mode = centers[logits.argmax(dim=1)].permute(0, 3, 1, 2)
    assert torch.allclose(annealed_mean(logits, centers, T=1e-3), mode, atol=1e-2)
    # CIC's T = 0.38 lies between: closer to the mode than the mean is.
    t38 = annealed_mean(logits, centers, T=0.38)
    assert (t38 - mode).norm() < (mean - mode).norm()
    with pytest.raises(ValueError):
        annealed_mean(logits, centers, T=0.0)


def test_bins_cover_the_srgb_gamut():
    centers = ab_bins()
    assert centers.shape == (262, 2)
    rgb = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    ab = rgb_to_lab(rgb)[:, 1:]
    nearest = centers[nearest_bin(ab, centers)].permute(0, 3, 1, 2)
    assert (ab - nearest).abs().max() <= 5.0 + 1e-4  # every colour falls in its own 10×10 cell


def test_soft_encoding_is_k_nearest_gaussian():
    centers = ab_bins()
    ab = torch.tensor([[3.0, -7.0], [41.0, 12.0]]).view(2, 2, 1, 1)
    target = soft_encode(ab, centers, k=5, sigma=5.0)
    assert torch.allclose(target.sum(dim=1), torch.ones(2, 1, 1))
    assert ((target > 0).sum(dim=1) == 5).all()
    assert torch.equal(target.argmax(dim=1), nearest_bin(ab, centers))
    # Weights ∝ exp(−d²/2σ²): ratio of the two largest equals the Gaussian ratio of their distances.
    d2 = ((centers - ab[0, :, 0, 0]) ** 2).sum(1)
    top, idx = target[0, :, 0, 0].topk(2)
    assert float(top[0] / top[1]) == pytest.approx(math.exp(-(d2[idx[0]] - d2[idx[1]]).item() / 50.0), rel=1e-4)


def test_cic_prior_is_computed_stored_and_required():
    fresh = CIC(TINY)
    opts = fresh.configure_optimizers(1e-4, (0.9, 0.99))
    with pytest.raises(RuntimeError, match="prepare_training"):
        fresh.train_step(toy_batch(2), opts, ctx())
    model = make(CIC)
    assert int(model.prior_images_used) == 4
    assert float(model.prior.sum()) == pytest.approx(1.0, abs=1e-5)
    assert float((model.prior * model.class_weights).sum()) == pytest.approx(1.0, abs=1e-4)  # E_p̃[w] = 1
    assert model.class_weights.std() > 0


def test_cic_prior_survives_a_checkpoint(tmp_path):
    model = make(CIC)
    path = tmp_path / "cic.safetensors"
    save_checkpoint(path, model.state_dict(), {"model": "cic", "config": model.config})
    tensors, meta = load_checkpoint(path)
    again = CIC(meta["config"])
    load_into(again, tensors, str(path))
    assert torch.equal(again.class_weights, model.class_weights) and int(again.prior_images_used) == 4


# ------------------------------------------------------------------------------------------------
# Lab and the floor
# ------------------------------------------------------------------------------------------------
def test_lab_matches_skimage_and_round_trips():
    from skimage.color import rgb2lab

    rgb = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ours = rgb_to_lab(rgb)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, rgb2lab(rgb[0].permute(1, 2, 0).numpy()), atol=1e-3)
    assert torch.allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-6)
    assert torch.allclose(signed_to_lab(torch.ones(1, 3, 1, 1))[0, :, 0, 0], torch.tensor([100.0, 0, 0]), atol=1e-2)


def test_floor_fills_regions_with_nearest_hint():
    batch = toy_batch(1)
    sketch = batch["sketch"]
    model = FlatFill()
    assert model.colorize(sketch, Hints.empty(1, SIZE, SIZE)).abs().max() == 0  # grey without hints
    color = torch.zeros(1, 3, SIZE, SIZE)
    mask = torch.zeros(1, 1, SIZE, SIZE)
    red, blue = torch.tensor([1.0, -1, -1]), torch.tensor([-1.0, -1, 1])
    color[0, :, 2:4, 2:4] = red[:, None, None]  # top-left quadrant
    color[0, :, 20:22, 2:4] = blue[:, None, None]  # bottom-left quadrant
    mask[0, 0, 2:4, 2:4] = 1
    mask[0, 0, 20:22, 2:4] = 1
    out = model.colorize(sketch, Hints(color, mask))[0]
    assert torch.equal(out[:, 8, 8], red) and torch.equal(out[:, 24, 8], blue)
    assert torch.equal(out[:, 6, 24], red)  # top-right has no hint: its nearest one is the red patch
    assert torch.equal(out[:, 28, 28], blue)  # bottom-right: nearest is blue
    assert torch.equal(out[:, 16, 8], red) or torch.equal(out[:, 16, 8], blue)  # lines take a neighbour's colour
