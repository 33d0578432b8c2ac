"""Hint simulation: G's law, nesting, Eq. (6)-(8), binary masks, n = 0, seeds per image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from colorbench.api import HintKind
from colorbench.hints import (
    BoundedGeometric,
    image_seed,
    point_sequence,
    region_hints,
    region_sequence,
    sample_point_hints_train,
    simulate,
    stroke_sequence,
)


def test_pmf_sums_to_one_and_matches_eq3():
    g = BoundedGeometric(30, 0.125)
    pmf = g.pmf()
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    assert pmf[0] == pytest.approx(0.125)
    assert pmf[29] == pytest.approx(0.875**29 * 0.125)
    assert pmf[30] == pytest.approx(0.875**30)  # the cap carries the whole tail
    assert g.mean() == pytest.approx(6.8726, abs=1e-4)  # E10.2 conformance


@given(nc=st.integers(0, 40), p=st.floats(0.01, 1.0))
def test_pmf_sums_to_one_any_parameters(nc, p):
    assert BoundedGeometric(nc, p).pmf().sum() == pytest.approx(1.0, abs=1e-9)


def test_expectation_is_exact_weighted_sum():
    g = BoundedGeometric(3, 0.5)
    assert g.expectation([10, 20, 30, 40]) == pytest.approx(0.5 * 10 + 0.25 * 20 + 0.125 * 30 + 0.125 * 40)
    with pytest.raises(ValueError):
        g.expectation([1, 2])


def test_expectation_of_a_matrix_is_one_per_row_as_each_row_alone():
    # Table 1 weighs [I, Nc+1] per-image rows; the gate the mean curve: both through the one E_G function.
    g = BoundedGeometric(3, 0.5)
    rows = np.array([[10.0, 20.0, 30.0, 40.0], [1.0, 1.0, 1.0, 1.0]])
    assert g.expectation(rows) == pytest.approx([g.expectation(r) for r in rows], rel=1e-15)
    assert g.expectation(rows).shape == (2,)
    with pytest.raises(ValueError, match="last axis"):
        g.expectation(rows[:, :3])


def test_sampling_follows_g():
    g = BoundedGeometric(30, 0.125)
    draws = g.sample(torch.Generator().manual_seed(0), 200_000).numpy()
    freq = np.bincount(draws, minlength=31) / len(draws)
    assert np.abs(freq - g.pmf()).max() < 0.004
    assert draws.max() <= 30


def test_stratified_counts_follow_g_within_one():
    g = BoundedGeometric()
    n = 777
    nh = g.stratified([f"img{i}" for i in range(n)])
    counts = np.bincount(nh, minlength=31)
    assert np.all(np.abs(counts - n * g.pmf()) <= 1.0 + 1e-9)


def _onehot(labels: torch.Tensor, k: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, k).permute(0, 3, 1, 2).float()


def test_region_hints_reproduce_eq_6_to_8_on_two_regions():
    color = torch.zeros(1, 3, 2, 2)
    color[0, :, 0, 0] = torch.tensor([1.0, 0.0, -1.0])
    color[0, :, 0, 1] = torch.tensor([0.0, 0.5, -1.0])
    color[0, :, 1, :] = 0.25
    labels = torch.tensor([[[0, 0], [1, 1]]])  # region 1 = top row, region 2 = bottom row
    s = _onehot(labels, 2)
    h = region_hints(color, s, torch.tensor([[1.0, 0.0]]))  # only the first region hinted
    expected_top = torch.tensor([0.5, 0.25, -1.0])  # Eq. (6): the mean over the region
    assert torch.allclose(h.color[0, :, 0, 0], expected_top) and torch.allclose(h.color[0, :, 0, 1], expected_top)
    assert torch.all(h.color[0, :, 1, :] == 0)  # Eq. (7): unhinted pixels carry 0
    assert torch.equal(h.mask[0, 0], torch.tensor([[1.0, 1.0], [0.0, 0.0]]))  # Eq. (8)


def test_empty_region_gives_zero_colour_not_nan():
    color = torch.rand(1, 3, 4, 4) * 2 - 1
    s = _onehot(torch.zeros(1, 4, 4, dtype=torch.long), 3)  # regions 2 and 3 empty
    seq = region_sequence(color, s)
    assert torch.isfinite(seq.colors).all() and torch.all(seq.colors[0, 1:] == 0)


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from([HintKind.REGION, HintKind.POINT, HintKind.STROKE]), seed=st.integers(0, 2**32),
       n=st.integers(0, 11))
def test_hints_are_nested_binary_and_empty_at_zero(kind, seed, n):
    gen = torch.Generator().manual_seed(seed % 1000)
    color = torch.rand(2, 3, 16, 16, generator=gen) * 2 - 1
    regions = _onehot(torch.randint(0, 12, (2, 16, 16), generator=gen), 12)
    seq = simulate(kind, color, [seed, seed + 1], regions=regions, k=12)
    a, b = seq.at(n), seq.at(n + 1)
    assert set(a.mask.unique().tolist()) <= {0.0, 1.0}
    assert torch.all(a.mask <= b.mask)  # hints(n) ⊆ hints(n+1)
    zero = seq.at(0)
    assert zero.mask.sum() == 0 and zero.color.abs().sum() == 0
    assert torch.all(a.color[a.mask.expand_as(a.color) == 0] == 0)
    if kind is HintKind.REGION:  # every region hint colour is the region mean of Y (Eq. 6)
        for i in range(min(n, 12)):
            sel = regions[0, i] > 0
            if sel.any():
                assert torch.allclose(a.color[0, :, sel].T, color[0, :, sel].mean(dim=1).expand(int(sel.sum()), 3),
                                      atol=1e-5)


def test_point_hints_depend_only_on_the_image_seed():
    color = torch.rand(3, 3, 32, 32) * 2 - 1
    seeds = [image_seed("toon", f"test-{i}", "rtug") for i in range(3)]
    full = point_sequence(color, seeds, k=10).at(7)
    single = point_sequence(color[1:2], seeds[1:2], k=10).at(7)  # batch composition must not matter
    assert torch.equal(full.mask[1:2], single.mask) and torch.equal(full.color[1:2], single.color)


def test_point_hint_colour_is_patch_mean():
    color = torch.rand(1, 3, 32, 32) * 2 - 1
    seq = point_sequence(color, [5], k=1)
    m = seq.masks[0, 0]
    assert torch.allclose(seq.colors[0, 0], color[0][:, m].mean(dim=1), atol=1e-6)


def test_stroke_hints_are_aligned_4x4_cells():
    color = torch.rand(1, 3, 32, 32) * 2 - 1
    seq = stroke_sequence(color, [3], k=5)
    for j in range(5):
        ys, xs = torch.nonzero(seq.masks[0, j], as_tuple=True)
        assert len(ys) == 16 and ys.min() % 4 == 0 and xs.min() % 4 == 0


def test_equalized_hints_fall_inside_their_region():
    color = torch.rand(1, 3, 32, 32) * 2 - 1
    regions = _onehot(torch.randint(0, 6, (1, 32, 32), generator=torch.Generator().manual_seed(1)), 6)
    seq = simulate(HintKind.POINT, color, [9], regions=regions, k=6, equalized=True)
    for j in range(6):
        if regions[0, j].sum() > 0:  # the patch is centred on a pixel of region j
            assert (seq.masks[0, j] & (regions[0, j] > 0)).any()


def test_training_point_sampler_is_seeded_and_geometric():
    color = torch.rand(64, 3, 32, 32) * 2 - 1
    a = sample_point_hints_train(color, torch.Generator().manual_seed(0))
    b = sample_point_hints_train(color, torch.Generator().manual_seed(0))
    assert torch.equal(a.mask, b.mask)
    assert (a.mask.flatten(1).sum(1) == 0).float().mean() > 0.02  # some images get no hint at all (p = 0.125)


@pytest.mark.parametrize("kind", [HintKind.REGION, HintKind.POINT, HintKind.STROKE, HintKind.NONE])
def test_stacked_levels_equal_per_level_hints(kind):
    gen = torch.Generator().manual_seed(3)
    color = torch.rand(3, 3, 16, 16, generator=gen) * 2 - 1
    regions = _onehot(torch.randint(0, 8, (3, 16, 16), generator=gen), 8)
    seq = simulate(kind, color, [1, 2, 3], regions=regions, k=8)
    levels = [0, 5, 1, 8, 12, 3]
    st_h = seq.stacked(levels)
    for li, n in enumerate(levels):
        ref = seq.at(n)
        assert torch.equal(st_h.color[li * 3 : (li + 1) * 3], ref.color)
        assert torch.equal(st_h.mask[li * 3 : (li + 1) * 3], ref.mask)
