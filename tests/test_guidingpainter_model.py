"""GuidingPainter as a colorbench model: training steps, the fixed_nh / reorder switches, inference contract."""

from __future__ import annotations

import math

import pytest
import torch

from colorbench.api import HintKind, Hints
from colorbench.guidingpainter.model import GuidingPainter
from colorbench.guidingpainter.segmentation import one_hot_argmax
from colorbench.hints import region_sequence
from colorbench.model import TrainContext
from colorbench.registry import MODELS

TINY = {"width": 0.125, "nc": 8, "augment": False}


def batch(seed: int = 0, b: int = 2, size: int = 32) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {"sketch": torch.rand(b, 1, size, size, generator=gen) * 2 - 1, "color": torch.rand(b, 3, size, size, generator=gen) * 2 - 1}


def ctx(seed: int = 0, epoch: int = 0) -> TrainContext:
    return TrainContext(epoch=epoch, epochs=4, step=0, generator=torch.Generator().manual_seed(seed), device=torch.device("cpu"))


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict[str, torch.Tensor], module: torch.nn.Module, params_only: bool = True) -> bool:
    names = {n for n, _ in module.named_parameters()} if params_only else set(before)
    return any(not torch.equal(before[k], v) for k, v in module.state_dict().items() if k in names)


def test_registered_with_alias_and_region_hints() -> None:
    assert MODELS.get("ours") is GuidingPainter
    assert GuidingPainter.hint_kind is HintKind.REGION


def test_one_step_changes_f_g_and_d_without_nan() -> None:
    model = GuidingPainter({**TINY, "augment": True})
    opts = model.configure_optimizers(2e-4, (0.5, 0.999))
    f0, g0, d0 = snapshot(model.seg), snapshot(model.gen), snapshot(model.disc)
    out = model.train_step(batch(), opts, ctx())
    assert set(out) >= {"loss_rec", "loss_adv", "loss_tv", "loss_smth", "loss_d", "nh_mean"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.values())
    assert changed(f0, model.seg) and changed(g0, model.gen) and changed(d0, model.disc)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    # D is trainable again after the step (frozen only during the G step).
    assert all(p.requires_grad for p in model.disc.parameters())


def test_train_step_is_reproducible_from_the_generator() -> None:
    first = GuidingPainter({**TINY, "augment": True})
    second = GuidingPainter({**TINY, "augment": True})
    second.load_state_dict(first.state_dict())
    results = []
    for model in (first, second):
        opts = model.configure_optimizers(2e-4, (0.5, 0.999))
        results.append(model.train_step(batch(), opts, ctx(seed=11)))
    assert results[0] == results[1]
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


def test_fixed_nh_hints_every_region() -> None:
    model = GuidingPainter({**TINY, "fixed_nh": True})
    opts = model.configure_optimizers(2e-4, (0.5, 0.999))
    values = [model.train_step(batch(b=3), opts, ctx(seed=s))["nh_mean"] for s in range(3)]
    assert values == [8.0, 8.0, 8.0]
    normal = GuidingPainter(TINY)
    opts = normal.configure_optimizers(2e-4, (0.5, 0.999))
    values = [normal.train_step(batch(b=3), opts, ctx(seed=s))["nh_mean"] for s in range(3)]
    assert any(v < 8.0 for v in values)


def test_no_hint_share_and_its_loss_part_are_reported_and_nohint_p_raises_the_share() -> None:
    """train_step says how many samples had Nh = 0 and their part of loss_rec; nohint_p gives more samples no
    hint, and its default leaves the paper's random stream (every value of the step) as it was."""
    shares = {}
    for p_extra in (0.0, 0.75):
        model = GuidingPainter({**TINY, "nohint_p": p_extra})
        opts = model.configure_optimizers(2e-4, (0.5, 0.999))
        outs = [model.train_step(batch(b=16), opts, ctx(seed=s)) for s in range(4)]
        assert all(0.0 <= o["loss_rec_nohint_part"] <= o["loss_rec"] + 1e-7 for o in outs)
        assert all((o["loss_rec_nohint_part"] > 0) == (o["nohint_share"] > 0) for o in outs)
        shares[p_extra] = sum(o["nohint_share"] for o in outs) / len(outs)
    assert shares[0.0] < 0.4 < shares[0.75]  # G alone: 1/8 expected; with 0.75 on top: 0.78
    everyone = GuidingPainter({**TINY, "fixed_nh": True})
    out = everyone.train_step(batch(b=4), everyone.configure_optimizers(2e-4, (0.5, 0.999)), ctx())
    assert out["nohint_share"] == 0.0 and out["loss_rec_nohint_part"] == 0.0
    with pytest.raises(ValueError, match="nohint_p"):
        GuidingPainter({**TINY, "nohint_p": 1.0})


def test_reorder_stage_freezes_f_and_trains_g() -> None:
    model = GuidingPainter({**TINY, "stage": "reorder"})
    opts = model.configure_optimizers(2e-4, (0.5, 0.999))
    f0, g0 = snapshot(model.seg), snapshot(model.gen)
    out = model.train_step(batch(b=4), opts, ctx())
    # f's weights and its BN running statistics stay exactly as they were.
    assert not changed(f0, model.seg, params_only=False)
    assert changed(g0, model.gen)
    assert model.seg.training  # train mode restored after the frozen forward
    assert out["nh_mean"] < 8.0  # m_i ~ Bernoulli(0.125), not all Nc


def test_lambda_zero_switches_a_loss_off() -> None:
    model = GuidingPainter({**TINY, "lambda_adv": 0.0})
    opts = model.configure_optimizers(2e-4, (0.5, 0.999))
    d0 = snapshot(model.disc)
    out = model.train_step(batch(), opts, ctx())
    assert not changed(d0, model.disc, params_only=False)  # variant (a): D is never run
    assert out["loss_adv"] == 0.0 and out["loss_d"] == 0.0
    # Only L_smth: g receives no gradient at all, f does.
    model = GuidingPainter({**TINY, "lambda_rec": 0.0, "lambda_adv": 0.0, "lambda_tv": 0.0})
    opts = model.configure_optimizers(2e-4, (0.5, 0.999))
    f0, g0 = snapshot(model.seg), snapshot(model.gen)
    model.train_step(batch(), opts, ctx())
    assert changed(f0, model.seg) and not changed(g0, model.gen)


def test_bad_config_is_refused_with_a_readable_message() -> None:
    with pytest.raises(ValueError, match="stage"):
        GuidingPainter({**TINY, "stage": "both"})
    with pytest.raises(ValueError, match="loss weights"):
        GuidingPainter({**TINY, "lambda_rec": 0, "lambda_adv": 0, "lambda_tv": 0, "lambda_smth": 0})
    with pytest.raises(ValueError, match="unknown config keys"):
        GuidingPainter({**TINY, "lambda_perceptual": 1})


def test_propose_regions_is_one_hot_and_empty_regions_get_no_colour() -> None:
    model = GuidingPainter(TINY).eval()
    data = batch(b=3)
    with torch.no_grad():
        regions = model.propose_regions(data["sketch"])
        assert regions.shape == (3, 8, 32, 32)
        assert torch.equal(regions.sum(1), torch.ones(3, 32, 32))
        assert set(regions.unique().tolist()) <= {0.0, 1.0}
        regions[:, 0] += regions[:, -1]  # the last channel emptied: the case that must not give NaN
        regions[:, -1] = 0
        empty = regions.sum((2, 3)) == 0
        assert empty.any()
        seq = region_sequence(data["color"], regions)
        assert torch.equal(seq.colors[empty], torch.zeros(int(empty.sum()), 3))
        for n in (0, 1, 8):
            out = model.colorize(data["sketch"], seq.at(n))
            assert out.shape == (3, 3, 32, 32) and torch.isfinite(out).all()
            assert out.abs().max() <= 1.0
        # Without regions in the hints, colorize uses propose_regions: same output.
        hints = region_sequence(data["color"], model.propose_regions(data["sketch"])).at(2)
        same = model.colorize(data["sketch"], Hints(hints.color, hints.mask, None))
        assert torch.equal(same, model.colorize(data["sketch"], hints))


def test_gumbel_eval_is_seeded_per_image_not_per_batch() -> None:
    model = GuidingPainter({**TINY, "gumbel_eval": True}).eval()
    plain = GuidingPainter(TINY)
    plain.load_state_dict(model.state_dict())
    plain.eval()
    sketch = batch(b=3)["sketch"]
    with torch.no_grad():
        whole = model.propose_regions(sketch)
        alone = model.propose_regions(sketch[1:2])
        again = model.propose_regions(sketch)
        argmax = plain.propose_regions(sketch)
    assert torch.equal(whole[1:2], alone) and torch.equal(whole, again)
    assert torch.equal(whole.sum(1), torch.ones(3, 32, 32))
    assert not torch.equal(whole, argmax)  # the noise does change some pixels


def test_colorize_refuses_regions_of_another_nc() -> None:
    model = GuidingPainter(TINY).eval()
    hints = Hints.empty(1, 32, 32)
    hints.regions = torch.zeros(1, 30, 32, 32)
    with pytest.raises(ValueError, match="nc=8"):
        model.colorize(torch.zeros(1, 1, 32, 32), hints)


def test_initialisation_depends_on_init_seed_only() -> None:
    torch.manual_seed(123)
    a = GuidingPainter(TINY)
    torch.manual_seed(456)
    b = GuidingPainter(TINY)
    c = GuidingPainter({**TINY, "init_seed": 1})
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.seg.unet.out.weight, c.seg.unet.out.weight)
    assert a.seg.unet.out.weight.std().item() == pytest.approx(0.02, rel=0.3)  # N(0, 0.02)


@pytest.mark.parametrize("d_fake,forwards", [("reuse", 1), ("fresh", 2)])
def test_d_step_reuses_the_fake_or_runs_the_official_second_forward(d_fake: str, forwards: int,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    model = GuidingPainter({**TINY, "d_fake": d_fake}).train()
    calls: list[bool] = []
    original = model._generate

    def counting(*args: object) -> tuple:
        calls.append(torch.is_grad_enabled())
        return original(*args)

    monkeypatch.setattr(model, "_generate", counting)
    opts = model.configure_optimizers(1e-3, (0.5, 0.999))
    ctx = TrainContext(0, 1, 0, torch.Generator().manual_seed(0), torch.device("cpu"))
    model.train_step(batch(b=2), opts, ctx)
    assert calls == [True, False][:forwards]  # the D step's own forward needs no generator gradients


@pytest.mark.parametrize("norm", ["batch", "group"])
def test_group_norm_normalises_each_image_by_itself(norm: str) -> None:
    """g_norm=group: an image's training-mode output does not depend on the other images of its batch (with
    BatchNorm it does), and a training step still moves f and g; an unknown norm is refused."""
    data = batch(b=3)
    model = GuidingPainter({**TINY, "f_norm": norm, "g_norm": norm})
    regions = model.eval().propose_regions(data["sketch"])
    hints = region_sequence(data["color"], regions).at(2)
    model.train()
    with torch.no_grad():
        together = model.colorize_from(data["sketch"], hints, regions)[:1]
        alone = model.colorize_from(data["sketch"][:1], Hints(hints.color[:1], hints.mask[:1], None), regions[:1])
    assert torch.allclose(together, alone, atol=1e-5) == (norm == "group")
    opts = model.configure_optimizers(2e-4, (0.5, 0.999))
    f0, g0 = snapshot(model.seg), snapshot(model.gen)
    out = model.train_step(batch(), opts, ctx())
    assert all(math.isfinite(v) for v in out.values())
    assert changed(f0, model.seg) and changed(g0, model.gen)
    with pytest.raises(ValueError, match="g_norm"):
        GuidingPainter({**TINY, "g_norm": "layer"})


@pytest.mark.parametrize("g_regions", ["sample", "argmax"])
def test_g_regions_argmax_trains_g_on_the_regions_of_inference(g_regions: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """g_regions=argmax: in training g (and the hints) get the argmax of f's logits, the regions `colorize` uses,
    not the Gumbel-noised sample, and f still learns through them; with the paper's sample they differ."""
    model = GuidingPainter({**TINY, "g_regions": g_regions}).train()
    seen: list[torch.Tensor] = []
    original = model.colorize_from

    def recording(sketch: torch.Tensor, hints: Hints, regions: torch.Tensor) -> torch.Tensor:
        seen.append(regions)
        return original(sketch, hints, regions)

    monkeypatch.setattr(model, "colorize_from", recording)
    data = batch(b=2)
    _, sample, _, pred = model._generate(data["sketch"], data["color"], 1.0, ctx())
    clean = model._ordered(one_hot_argmax(model.seg(data["sketch"]).detach()))
    assert torch.equal(seen[0].detach(), clean) == (g_regions == "argmax")
    assert not torch.equal(sample.detach(), clean)  # L_tv still scores the noised sample
    pred.sum().backward()
    assert model.seg.unet.out.weight.grad.abs().sum() > 0
