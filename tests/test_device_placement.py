"""The engine on a second device: every tensor it makes follows the model's device (a fake device on CPU,
tests/fake_device.py), with records bit for bit those of a CPU run."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from colorbench.data import open_dataset
from colorbench.evaluation import engine
from colorbench.evaluation.batches import iter_batches
from colorbench.evaluation.engine import EvalPlan, Evaluator
from colorbench.evaluation.variants import resolve_variants
from colorbench.hints import HintSequence

from .fake_device import DeviceMismatch, OnFake, fake_device

MODELS = ["guidingpainter", "rtug", "alacgan", "pix2pix", "cic", "floor"]
PLAN = {"modes": ["native", "equalized", "ablation", "perturbed"], "batch_size": 2, "n_samples": 1}


def _evaluate(device: torch.device, models: list[str] = MODELS) -> pd.DataFrame:
    """Records of `models` (shipped checkpoints) on two toon test images, every mode, on `device`."""
    dataset = open_dataset("toon", "test", size=64, limit=2)
    ids = dataset.ids()
    variants = resolve_variants(models, [], "toon")
    region_source = next(v for v in variants if v.model == "guidingpainter").load(device)
    frames = []
    for v in variants:
        model = v.load(device)
        ev = Evaluator(v, model, dataset, EvalPlan(**PLAN), device, region_source=region_source,
                       sample_ids=set(ids[:1]))
        for batch in iter_batches(dataset, ids, 2, device):
            assert isinstance(batch.sketch, OnFake) == (device.type == "meta")
            records, _, _ = ev.run_batch(batch)
            frames.append(records)
    return pd.concat(frames, ignore_index=True)


@pytest.mark.slow
def test_engine_tensors_follow_the_models_device_and_records_match_cpu():
    on_cpu = _evaluate(torch.device("cpu"))
    with fake_device() as dev:
        elsewhere = _evaluate(dev)
    assert set(on_cpu["mode"]) == {"native", "equalized", "ablation", "perturbed"}
    pd.testing.assert_frame_equal(elsewhere, on_cpu, check_exact=True)


def test_the_fake_device_catches_a_hint_left_on_cpu(monkeypatch):
    # The harness must fail when an engine line leaves a tensor on CPU: here the hint simulator's output.
    real = engine.simulate

    def on_cpu(*args, **kwargs) -> HintSequence:
        seq = real(*args, **kwargs)
        return HintSequence(seq.masks.cpu(), seq.colors.cpu(), seq.regions)

    monkeypatch.setattr(engine, "simulate", on_cpu)
    with fake_device() as dev, pytest.raises(DeviceMismatch):
        _evaluate(dev, ["guidingpainter", "rtug"])
