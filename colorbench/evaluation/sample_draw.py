"""Which test images carry pictures (samples/*.npz): a seeded random draw, so figures and the report's
image browser show images typical of the set rather than the first few file names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from colorbench.hint_counts import image_seed


def draw_samples(dataset: str, ids: Sequence[str], n: int, extra: Iterable[str] = ()) -> list[str]:
    """The `n` images whose per-image seed (dataset, id, "sample") is smallest, plus every id of `extra`
    (`--figure-images`) that is a test image; → ids in test-set order.

    A draw by hashed id: the same images whatever the batch size, worker or process count, and nested (a
    larger `n` keeps the smaller draw's images), so `--samples` only ever adds pictures."""
    ranked = sorted(ids, key=lambda i: (image_seed(dataset, i, "sample"), i))
    chosen = set(ranked[: max(0, n)]) | (set(extra) & set(ids))
    return [i for i in ids if i in chosen]
