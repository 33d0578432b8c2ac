"""Per-image PSNR by hint count, pulled out of records.csv: the matrix every E_G / NRI / sweep number uses.

A conditional variant has native records at every n = 0..Nc (E6.1); an automatic one only at n = 0 (E5.4).
Records frames are treated as read-only: the (variant, mode) split and the pivots are memoised per frame.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


class RecordsError(ValueError):
    """records.csv lacks rows a protocol needs; the message names the variant/mode/n and what to do."""


_MEMO: dict[int, tuple[weakref.ref, dict[Any, Any]]] = {}


def _memo(records: pd.DataFrame) -> dict[Any, Any]:
    """Per-frame cache (one frame at a time): a report filters the same 100k rows dozens of times."""
    hit = _MEMO.get(id(records))
    if hit is not None and hit[0]() is records:
        return hit[1]
    _MEMO.clear()
    store: dict[Any, Any] = {"groups": {k: g for k, g in records.groupby(["variant", "mode"], sort=False)}}
    _MEMO[id(records)] = (weakref.ref(records), store)
    return store


def variants_present(records: pd.DataFrame) -> set[str]:
    """Variant labels that have at least one record."""
    return {v for v, _ in _memo(records)["groups"]}


def mode_rows(records: pd.DataFrame, variant: str, mode: str) -> pd.DataFrame:
    """Rows of one variant and mode, possibly empty (no error)."""
    rows = _memo(records)["groups"].get((variant, mode))
    return records.iloc[0:0] if rows is None else rows


def variant_records(records: pd.DataFrame, variant: str, mode: str = "native") -> pd.DataFrame:
    """Rows of one variant and mode; raises RecordsError if there are none."""
    rows = _memo(records)["groups"].get((variant, mode))
    if rows is None or rows.empty:
        have = sorted(m for v, m in _memo(records)["groups"] if v == variant)
        raise RecordsError(
            f"records.csv has no {mode!r} rows for variant {variant!r} "
            f"(it has modes: {', '.join(have) or 'none'}); "
            f"rerun `colorbench run` with --modes including {mode}"
        )
    return rows


def psnr_matrix(
    records: pd.DataFrame, variant: str, levels: Sequence[int], mode: str = "native", column: str = "psnr"
) -> tuple[list[str], np.ndarray]:
    """(image ids sorted, PSNR [I, len(levels)] float64 in dB) with column j = n levels[j]; `column` names
    another per-image metric column of records.csv (SSIM, ΔE, … of `run --metrics`) for its matrix instead.

    Every image must have a record at every requested n: a hole would silently bias means, so it raises.
    """
    memo = _memo(records)
    if ("wide", variant, mode, column) not in memo:
        rows = variant_records(records, variant, mode)
        if column not in rows:
            raise RecordsError(f"records.csv has no {column!r} column; rerun `colorbench run --metrics …` with it")
        memo[("wide", variant, mode, column)] = rows.pivot_table(
            index="image_id", columns="n", values=column, aggfunc="first", dropna=column == "psnr"
        )  # a metric column all NaN at some n (a run merged with one without it) is a hole, not a missing n
    wide = memo[("wide", variant, mode, column)]
    levels = [int(n) for n in levels]
    missing = [n for n in levels if n not in wide.columns]
    if missing:
        raise RecordsError(
            f"variant {variant!r} has no {mode!r} PSNR records at n = {_span(missing)} "
            f"(has n = {_span(sorted(int(c) for c in wide.columns))}); the run used other hint counts — "
            f"rerun `colorbench run` with the same --sweep / Nc"
        )
    wide = wide[levels].sort_index()
    holes = wide.isna().any(axis=1)
    if holes.any():
        raise RecordsError(
            f"variant {variant!r}: {int(holes.sum())} image(s) (e.g. {wide.index[holes][0]!r}) lack {mode!r} "
            f"{column} at some n; records.csv is incomplete — rerun `colorbench run` (it resumes)"
        )
    return [str(i) for i in wide.index], wide.to_numpy(dtype=np.float64)


def psnr_at(
    records: pd.DataFrame, variant: str, n: int, mode: str = "native"
) -> tuple[list[str], np.ndarray]:
    """(image ids, PSNR [I]) at one n."""
    ids, mat = psnr_matrix(records, variant, [n], mode)
    return ids, mat[:, 0]


def available_levels(records: pd.DataFrame, variant: str, mode: str = "native") -> list[int]:
    """Sorted hint counts n recorded for a variant and mode (empty list if none)."""
    rows = _memo(records)["groups"].get((variant, mode))
    return [] if rows is None else sorted(int(n) for n in set(rows["n"]))


def _span(ns: Sequence[int]) -> str:
    if not ns:
        return "none"
    if len(ns) > 2 and list(ns) == list(range(ns[0], ns[-1] + 1)):
        return f"{ns[0]}..{ns[-1]}"
    return ", ".join(str(n) for n in ns)
