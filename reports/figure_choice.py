"""Which sampled images the figures show: `--figure-images` if given, else a spread over the quantiles of
the per-image numbers the figure is about, among the images that carry pictures (samples/*.npz).

Why quantiles and not a random draw: three strips drawn at random from a skewed set often land all on
easy images (or all on one kind), and change with the seed; the images at the 1/6, 1/2 and 5/6 quantiles
of a model's gain from hints show a weak, a typical and a strong response every time, ordered. The
pictured images are themselves a seeded random draw of the test set (colorbench.evaluation.sample_draw), so with
`run --samples N` the quantiles approach the whole set's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from colorbench.defaults import EVAL
from colorbench.errors import UsageError
from colorbench.protocols.levels import RecordsError, available_levels, psnr_matrix


def spread(values: Mapping[str, float], k: int) -> list[str]:
    """The ids at the quantiles (i + ½)/k, i = 0..k−1, of `values` (ties broken by id), lowest first; all
    of them when there are at most k."""
    ranked = sorted(values, key=lambda i: (values[i], i))
    if len(ranked) <= k:
        return ranked
    picks = sorted({int(np.floor((i + 0.5) / k * len(ranked))) for i in range(k)})
    return [ranked[p] for p in picks]


def gain_level(records: pd.DataFrame, variant: str) -> int | None:
    """The n of "gain from hints": PSNR(n) − PSNR(0) at n = 12 (EVAL.sample_levels, the most the pictures
    show), or the variant's largest recorded n below it; None for an automatic variant."""
    levels = [n for n in available_levels(records, variant) if 0 < n <= EVAL.sample_levels]
    return max(levels) if levels else None


def gains(records: pd.DataFrame, variant: str) -> dict[str, float]:
    """image id → PSNR(n) − PSNR(0) (dB) at `gain_level`; {} for automatic variants or missing records."""
    n = gain_level(records, variant)
    if n is None:
        return {}
    try:
        ids, mat = psnr_matrix(records, variant, [0, n])
    except RecordsError:
        return {}
    return dict(zip(ids, mat[:, 1] - mat[:, 0]))


def psnr_at_n(records: pd.DataFrame, variant: str, n: int, mode: str = "native") -> dict[str, float]:
    """image id → PSNR at n in `mode`; {} when not recorded."""
    try:
        ids, mat = psnr_matrix(records, variant, [n], mode)
    except RecordsError:
        return {}
    return dict(zip(ids, mat[:, 0]))


def strip_images(records: pd.DataFrame, variant: str, pictured: Sequence[str], k: int,
                 chosen: Sequence[str] | None = None) -> list[str]:
    """The guidance strip's images of `variant`: `chosen` (in its order), else k pictured images spread over
    the quantiles of the variant's gain from hints (lowest gain first); the first k pictured without records."""
    if chosen:
        return [i for i in chosen if i in set(pictured)]
    g = gains(records, variant)
    have = {i: g[i] for i in pictured if i in g}
    return spread(have, k) if have else list(pictured[:k])


def grid_images(records: pd.DataFrame, shown: Sequence[tuple[str, int, str]], pictured: Sequence[str], k: int,
                chosen: Sequence[str] | None = None) -> list[str]:
    """Fig. 3's rows: `chosen`, else k pictured images spread over the quantiles of their difficulty — the
    mean over the grid's models of the PSNR each is shown at (`shown` = [(variant, n, mode)]), hardest
    first; the first k pictured when no model has records."""
    if chosen:
        return [i for i in chosen if i in set(pictured)]
    per = [psnr_at_n(records, v, n, mode) for v, n, mode in shown]
    per = [p for p in per if p]
    have = {i: float(np.mean([p[i] for p in per])) for i in pictured if per and all(i in p for p in per)}
    return spread(have, k) if have else list(pictured[:k])


def check_figure_images(chosen: Sequence[str], pictured: Mapping[str, Sequence[str]]) -> None:
    """UsageError naming `--figure-images` when an id has no pictures in a samples file of the run
    (`pictured`: variant → its sampled ids), before anything is written."""
    if chosen and not pictured:
        raise UsageError("--figure-images: this run kept no pictures (samples/ is empty: run with --samples 0?); "
                         f"rerun `colorbench run … --figure-images {','.join(chosen)}` into this folder")
    for image_id in chosen:
        missing = [v for v, ids in pictured.items() if image_id not in set(ids)]
        if missing:
            raise UsageError(
                f"--figure-images: {image_id} has no pictures in samples/{missing[0]}.npz (pictures are kept by "
                f"`colorbench run` for its --samples draw and its own --figure-images): rerun `colorbench run … "
                f"--figure-images {','.join(chosen)}` into this folder, or pick among the images listed in report.html")
