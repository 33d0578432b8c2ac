"""GuidingPainter's pieces on hand-made tensors: h (Eq. 4-8), ST-Gumbel (Eq. 1), losses (Eq. 10-11), augmentation."""

from __future__ import annotations

import pytest
import torch

from colorbench.guidingpainter.augment import augment_batch, crop_and_flip, hsv_to_rgb, rgb_to_hsv
from colorbench.guidingpainter.hint_generation import generate_hints, sample_activation
from colorbench.guidingpainter.losses import (
    nested_total_variance_loss,
    smoothness_loss,
    total_variance_loss,
    usage_loss,
)
from colorbench.guidingpainter.segmentation import one_hot_argmax, sort_by_area, st_gumbel, temperature
from colorbench.hints import BoundedGeometric, prefix_mask


def two_region_example() -> tuple[torch.Tensor, torch.Tensor]:
    """2×2 image: left column is region 1, right column region 2, region 3 is empty."""
    color = torch.tensor(
        [[[0.2, -1.0], [0.6, 0.0]],  # R
         [[1.0, 0.5], [0.0, 0.5]],  # G
         [[-0.4, 0.25], [-0.8, -0.75]]]  # B
    )[None]
    regions = torch.zeros(1, 3, 2, 2)
    regions[0, 0, :, 0] = 1
    regions[0, 1, :, 1] = 1
    return color, regions


@pytest.mark.parametrize("nh", [0, 1, 2, 3])
def test_hint_generation_reproduces_eq_6_to_8(nh: int) -> None:
    color, regions = two_region_example()
    hints = generate_hints(color, regions, prefix_mask(torch.tensor([nh]), 3))
    c1 = torch.tensor([0.4, 0.5, -0.6])  # Eq. (6): mean of the left column
    c2 = torch.tensor([-0.5, 0.5, -0.25])  # mean of the right column; region 3 is empty → c̄_3 = 0
    expected_c = torch.zeros(3, 2, 2)
    expected_m = torch.zeros(1, 2, 2)
    if nh >= 1:
        expected_c[:, :, 0] = c1[:, None]
        expected_m[:, :, 0] = 1
    if nh >= 2:
        expected_c[:, :, 1] = c2[:, None]
        expected_m[:, :, 1] = 1
    assert torch.allclose(hints.color[0], expected_c, atol=1e-7)  # Eq. (7)
    assert torch.equal(hints.mask[0], expected_m)  # Eq. (8)
    assert torch.equal(hints.regions, regions)  # g always receives the full S


def test_hint_generation_passes_gradients_to_regions() -> None:
    color, regions = two_region_example()
    regions = regions.clone().requires_grad_(True)
    hints = generate_hints(color, regions, torch.ones(1, 3))
    hints.color.sum().backward()
    assert regions.grad is not None and regions.grad.abs().sum() > 0
    assert torch.isfinite(regions.grad).all()  # the empty region must not produce NaN gradients


def test_activation_modes() -> None:
    gen = torch.Generator().manual_seed(3)
    nc, p, batch = 30, 0.125, 4000
    geo = sample_activation("geometric", batch, nc, p, gen, torch.device("cpu"))
    nh = geo.sum(1)
    assert torch.equal(geo, prefix_mask(nh.long(), nc))  # Eq. (4): a prefix per sample
    assert abs(nh.mean().item() - BoundedGeometric(nc, p).mean()) < 0.35  # E[Nh] = 6.87
    assert len(nh.unique()) > 10  # drawn per sample, not once per batch
    assert torch.equal(sample_activation("fixed", 3, nc, p, gen, torch.device("cpu")), torch.ones(3, nc))
    bern = sample_activation("bernoulli", batch, nc, p, gen, torch.device("cpu"))
    assert abs(bern.mean().item() - p) < 0.01
    assert not torch.equal(bern, prefix_mask(bern.sum(1).long(), nc))  # any subset, not a prefix
    with pytest.raises(ValueError, match="unknown hint activation"):
        sample_activation("sometimes", 1, nc, p, gen, torch.device("cpu"))


def test_nh_per_batch_draws_one_nh_for_the_whole_mini_batch() -> None:
    nc, p, cpu = 30, 0.125, torch.device("cpu")
    gen = torch.Generator().manual_seed(3)
    draws = [sample_activation("geometric", 8, nc, p, gen, cpu, nh_per="batch") for _ in range(400)]
    for m in draws:
        assert torch.equal(m, m[:1].expand_as(m))  # the paper's §3.3 reading: every sample shares Nh
    nh = torch.stack([m[0].sum() for m in draws])
    assert abs(nh.mean().item() - BoundedGeometric(nc, p).mean()) < 0.8  # still G, one draw per batch
    with pytest.raises(ValueError, match="nh_per"):
        sample_activation("geometric", 2, nc, p, gen, cpu, nh_per="image")


def test_st_gumbel_is_one_hot_forward_with_softmax_gradient() -> None:
    logits = torch.randn(2, 5, 4, 4, generator=torch.Generator().manual_seed(0), requires_grad=True)
    weights = torch.randn(2, 5, 4, 4, generator=torch.Generator().manual_seed(1))
    tau = 0.5
    s = st_gumbel(logits, tau, torch.Generator().manual_seed(7))
    assert set(s.detach().unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(s.detach().sum(1), torch.ones(2, 4, 4))
    (s * weights).sum().backward()
    # The gradient is that of softmax((logits + g)/τ) with the same noise.
    ref_logits = logits.detach().clone().requires_grad_(True)
    from colorbench.guidingpainter.segmentation import gumbel_noise

    noise = gumbel_noise(ref_logits.shape, torch.Generator().manual_seed(7), ref_logits.device)
    (torch.softmax((ref_logits + noise) / tau, 1) * weights).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    assert torch.allclose(logits.grad, ref_logits.grad, atol=1e-6)
    # The forward is the one-hot argmax of the noisy scores.
    assert torch.equal(s.detach().argmax(1), (logits.detach() + noise).argmax(1))


def test_st_gumbel_without_noise_is_argmax() -> None:
    logits = torch.randn(1, 6, 8, 8, generator=torch.Generator().manual_seed(2))
    s = st_gumbel(logits, 1.0, None)
    assert torch.equal(s.argmax(1), logits.argmax(1))


def test_regions_of_tied_scores_go_to_the_first_tied_channel() -> None:
    # An untrained or saturated f gives exactly equal logits; its regions must not depend on how argmax
    # is computed (the channel axis is made contiguous for speed): the first tied channel wins, as torch's.
    scores = torch.randint(0, 3, (2, 5, 7, 9), generator=torch.Generator().manual_seed(3)).float()  # many ties
    scores[0] = 0.0  # all channels tied everywhere in image 0
    s = one_hot_argmax(scores)
    assert torch.equal(s.argmax(1), scores.argmax(1))
    assert torch.equal(s[0, 0], torch.ones(7, 9)) and s[0, 1:].sum() == 0
    assert torch.equal(s.sum(1), torch.ones(2, 7, 9))  # one-hot


def test_temperature_schedule() -> None:
    assert temperature(0.0) == 1.0
    assert temperature(0.5) == pytest.approx(0.1**0.5)
    assert temperature(0.99) > 0.1


def test_smoothness_loss_hand_computed() -> None:
    logits = torch.tensor([[0.0, 1.0], [2.0, 4.0]])[None, None]
    # vertical |2-0|,|4-1| → 2.5; horizontal |1-0|,|4-2| → 1.5; diagonal |4-0| → 4; anti-diagonal |2-1| → 1.
    assert smoothness_loss(logits, "eight_l1").item() == pytest.approx(0.25 * (2.5 + 1.5 + 4 + 1))
    assert smoothness_loss(logits, "four_l1").item() == pytest.approx(0.5 * (2.5 + 1.5))
    assert smoothness_loss(logits, "eight_l2").item() == pytest.approx(0.25 * (6.5 + 2.5 + 16 + 1))
    assert smoothness_loss(torch.ones(1, 3, 5, 5)).item() == 0.0
    with pytest.raises(ValueError, match="smoothness"):
        smoothness_loss(logits, "nine_l3")


def test_nested_tv_is_the_expected_flat_fill_error_of_the_hint_prefix() -> None:
    # Brute force: for each n, the first n regions keep their mean and the rest are merged into one.
    gen = torch.Generator().manual_seed(0)
    color = torch.rand(2, 3, 8, 8, generator=gen) * 2 - 1
    index = torch.randint(0, 5, (2, 8, 8), generator=gen)
    index[1][index[1] == 3] = 4  # region 3 of image 1 is empty
    regions = torch.nn.functional.one_hot(index, 5).permute(0, 3, 1, 2).float()
    pmf = torch.tensor(BoundedGeometric(5, 0.3).pmf(), dtype=torch.float32)
    want = 0.0
    for n in range(6):
        keep = prefix_mask(torch.full((2,), n), 5)[:, :, None, None]
        merged = torch.cat([regions * keep, (regions * (1 - keep)).sum(1, keepdim=True)], dim=1)
        want += float(pmf[n]) * total_variance_loss(color, merged).item()
    assert nested_total_variance_loss(color, regions, pmf).item() == pytest.approx(want, rel=1e-5)


def test_nested_tv_pulls_a_pixel_to_the_region_with_the_nearest_mean() -> None:
    # Two pixels per region with colours ±1 in region 0 and 0.9 in region 1; a soft assignment of pixel
    # 0 (colour 0.9) to region 1 must lower the loss: its gradient there is (y − c̄_1)² < (y − c̄_0)².
    color = torch.tensor([0.9, -1.0, 0.9, 0.9]).view(1, 1, 1, 4).expand(1, 3, 1, 4).contiguous()
    regions = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]).view(1, 2, 1, 4).requires_grad_(True)
    pmf = torch.tensor([0.0, 0.0, 1.0])  # always both hinted
    nested_total_variance_loss(color, regions, pmf).backward()
    assert regions.grad[0, 1, 0, 0] < regions.grad[0, 0, 0, 0]


def test_total_variance_loss_hand_computed() -> None:
    color = torch.tensor([[1.0, 0.0], [-1.0, -1.0], [0.5, -0.5]])[None, :, None, :]  # [1,3,1,2]
    together = torch.ones(1, 1, 1, 2)
    # One region: c̄ = (0.5, -1, 0); squared errors (0.25, 0, 0.25) at each pixel → 1.0 over 6 values.
    assert total_variance_loss(color, together).item() == pytest.approx(1.0 / 6.0)
    apart = torch.tensor([[1.0, 0.0], [0.0, 1.0]])[None, :, None, :]
    assert total_variance_loss(color, apart).item() == pytest.approx(0.0, abs=1e-12)
    # Eq. (11) as written, Σ_i ‖(Y − c̄_i) ⊙ S_i‖², differs only by the 1/(B·3·H·W) normalisation.
    three = torch.zeros(1, 3, 1, 2)
    three[0, 0] = 1.0
    assert total_variance_loss(color, three).item() == pytest.approx(1.0 / 6.0)


def test_hsv_round_trip() -> None:
    rgb = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(hsv_to_rgb(rgb_to_hsv(rgb)), rgb, atol=1e-5)


def test_augmentation_is_seeded_joint_and_in_range() -> None:
    gen = torch.Generator().manual_seed(0)
    sketch = torch.rand(4, 1, 32, 32, generator=gen) * 2 - 1
    color = sketch.repeat(1, 3, 1, 1)
    s2, c2 = crop_and_flip(sketch, color, torch.Generator().manual_seed(5))
    # Crop and flip move sketch and colour together: the colour still equals the sketch everywhere.
    assert torch.allclose(c2, s2.expand_as(c2))
    assert not torch.allclose(s2, sketch)
    a = augment_batch(sketch, color, torch.Generator().manual_seed(9))
    b = augment_batch(sketch, color, torch.Generator().manual_seed(9))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape == sketch.shape and a[1].shape == color.shape
    assert a[1].min() >= -1 and a[1].max() <= 1


def test_sort_by_area_puts_the_largest_region_first_and_keeps_gradients() -> None:
    index = torch.tensor([[0, 2, 2, 2], [1, 1, 2, 2]]).view(1, 2, 4)  # areas: ch0 1, ch1 2, ch2 5, ch3 0
    logits = torch.nn.functional.one_hot(index, 4).permute(0, 3, 1, 2).float().requires_grad_(True)
    ordered = sort_by_area(logits)
    assert ordered.sum((2, 3)).tolist() == [[5.0, 2.0, 1.0, 0.0]]
    assert torch.equal(ordered[0, 0], logits[0, 2].detach())
    (ordered[:, 0].sum() * 2).backward()  # the first sorted channel is channel 2
    assert logits.grad[0, 2].eq(2).all() and logits.grad[0, [0, 1, 3]].eq(0).all()


def test_usage_loss_is_lowest_for_even_channel_use() -> None:
    even = torch.zeros(1, 4, 2, 2)
    even[0, :, 0, 0], even[0, :, 0, 1], even[0, :, 1, 0], even[0, :, 1, 1] = (
        torch.eye(4)[0] * 50, torch.eye(4)[1] * 50, torch.eye(4)[2] * 50, torch.eye(4)[3] * 50)
    one = torch.zeros(1, 4, 2, 2)
    one[:, 0] = 50.0
    assert usage_loss(even, 1.0).item() == pytest.approx(-1.0, abs=1e-4)
    assert usage_loss(one, 1.0).item() == pytest.approx(0.0, abs=1e-4)
