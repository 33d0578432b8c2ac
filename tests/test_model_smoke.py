"""Every registered model, built tiny: one training step (when it trains) moves its weights, colorize gives
finite [-1,1] images of the input's shape, and for conditional models the hint colours reach the output.

Parametrized over the model registry, so a newly registered model is covered without editing this file."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from colorbench.api import HintKind, Hints
from colorbench.hints import simulate
from colorbench.model import ColorizerModel, TrainContext
from colorbench.registry import MODELS

SIZE = 32


def _batch(b: int = 2) -> dict[str, torch.Tensor]:
    """Four flat-coloured quadrants per image with black outlines, colour and sketch in [-1,1]."""
    g = torch.Generator().manual_seed(0)
    half = SIZE // 2
    color = (torch.rand(b, 3, 2, 2, generator=g) * 2 - 1).repeat_interleave(half, 2).repeat_interleave(half, 3)
    sketch = torch.ones(b, 1, SIZE, SIZE)
    sketch[:, :, half] = sketch[:, :, :, half] = -1
    return {"sketch": sketch, "color": torch.where(sketch < 0, -torch.ones_like(color), color)}


def _tiny(cls: type[ColorizerModel]) -> ColorizerModel:
    torch.manual_seed(0)  # init_weights draws from the global RNG
    return cls.from_config({"width": 0.125} if "width" in cls.default_config() else {})


def _trains(model: ColorizerModel) -> bool:
    return type(model).train_step is not ColorizerModel.train_step


@pytest.mark.parametrize("name", MODELS.names())
def test_model_trains_one_step_colorizes_and_follows_hints(name: str) -> None:
    torch.set_num_threads(1)
    cls = MODELS.get(name)
    model = _tiny(cls)
    batch = _batch()
    if _trains(model):
        if hasattr(model, "prepare_training"):
            model.prepare_training([{"color": c} for c in _batch(4)["color"]])
        before = {k: v.detach().clone() for k, v in model.state_dict().items()}
        optimizers = model.configure_optimizers(1e-3, (0.5, 0.999))
        model.train()
        losses = model.train_step(batch, optimizers,
                                  TrainContext(0, 1, 0, torch.Generator().manual_seed(0), torch.device("cpu")))
        assert losses and all(torch.isfinite(torch.as_tensor(v)) for v in losses.values()), losses
        assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items()), "no weight moved"

    model.eval()
    with torch.no_grad():
        regions = model.propose_regions(batch["sketch"])
        if cls.hint_kind is HintKind.REGION:
            assert regions is not None and regions.shape[0] == 2 and regions.shape[2:] == (SIZE, SIZE)
        seq = simulate(cls.hint_kind, batch["color"], [0, 1], regions=regions)
        hints = seq.at(seq.masks.shape[1])  # every entry: a tiny net's first regions may be empty
        out = model.colorize(batch["sketch"], hints)
    assert out.shape == (2, 3, SIZE, SIZE)
    assert torch.isfinite(out).all() and out.min() >= -1 and out.max() <= 1

    if cls.hint_kind is HintKind.NONE:
        return
    assert hints.mask.sum() > 0
    # Same places, other colours: any change of output shows the colours themselves reach it (not only the
    # mask). An untrained tiny net moves its output by ~1e-5 only, so any difference counts; ignored hints
    # leave it bit-identical.
    recoloured = dataclasses.replace(hints, color=torch.where(hints.mask > 0, -hints.color.sign(), hints.color))
    with torch.no_grad():
        other = model.colorize(batch["sketch"], recoloured)
    assert not torch.equal(other, out), "the output ignores the hint colours"
    if _trains(model):
        # And the dependence is differentiable: the gradient of the output w.r.t. the hint colours is non-zero.
        color = hints.color.clone().requires_grad_(True)
        model.colorize(batch["sketch"], Hints(color, hints.mask, hints.regions)).sum().backward()
        assert color.grad is not None and color.grad[hints.mask.expand_as(color) > 0].abs().sum() > 0
