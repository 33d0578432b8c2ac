"""FLOP counts behind the README's GPU estimate: counted from the real nets, scaling as convolutions do."""

from __future__ import annotations

import pytest

from colorbench.evaluation.flops import model_flops


@pytest.mark.parametrize("name", ["guidingpainter", "rtug"])
def test_flops_scale_with_pixels_and_training_costs_more_than_forward(name):
    small = model_flops(name, 32, 0.125, train=True)
    large = model_flops(name, 64, 0.125, train=False)
    for part in large:  # fully convolutional: four times the pixels, four times the multiply-adds
        assert large[part] == pytest.approx(4 * small[part], rel=1e-9)
    forward = small.get("segment", 0) + small["colorize"]
    assert small["train_step"] > 2.5 * forward  # a backward pass costs about twice its forward
