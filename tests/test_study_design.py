"""The study's counterbalanced plan: Williams rows, model order and image use balanced over a group of participants."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest

from colorbench.study.design import Design, rank_images, williams


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_williams_rows_are_latin_and_carry_over_balanced(n: int) -> None:
    rows = williams(n)
    assert len(rows) == (n if n % 2 == 0 else 2 * n)
    assert all(sorted(r) == list(range(n)) for r in rows)
    for pos in range(n):  # every treatment in every position equally often
        assert len(set(Counter(r[pos] for r in rows).values())) == 1
    follows = Counter(p for r in rows for p in pairwise(r))  # every ordered pair equally often
    assert len(follows) == n * (n - 1) and len(set(follows.values())) == 1


@pytest.mark.parametrize("models, images, per", [(2, 12, 3), (3, 12, 3), (2, 2, 1), (3, 7, 2)])
def test_a_full_group_sees_every_model_first_and_every_image_per_model_equally(models, images, per) -> None:
    d = Design(tuple(f"m{i}" for i in range(models)), tuple(f"i{j}" for j in range(images)), per)
    plans = [d.plan(k) for k in range(2 * d.period)]
    assert len(set(Counter(p[0][0] for p in plans).values())) == 1 and len({p[0][0] for p in plans}) == models
    used = {i for p in plans for _, i in p}
    for m in d.models:
        counts = Counter(i for p in plans for mm, i in p if mm == m)
        assert set(counts) == used and len(set(counts.values())) == 1, (m, counts)
    for p in plans:
        assert Counter(m for m, _ in p) == dict.fromkeys(d.models, per)
        if d.blocks >= models:  # nobody colorizes one sketch twice
            assert len({i for _, i in p}) == len(p)


def test_twelve_participants_are_three_balanced_groups_of_the_default_study() -> None:
    d = Design(("guidingpainter", "rtug"), tuple(f"test-{j:06d}" for j in range(12)), 3)
    assert d.period == 4
    assert Counter(d.plan(k)[0][0] for k in range(12)) == {"guidingpainter": 6, "rtug": 6}


def test_rank_images_rotate_over_participants() -> None:
    images = [f"i{j}" for j in range(5)]
    use = Counter(i for k in range(5) for i in rank_images(k, 3, images))
    assert set(use.values()) == {3}
