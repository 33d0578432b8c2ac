"""The paper's published Table 1 and Table 3 numbers (yumi, tag2pix, celeba), copied verbatim from the
paper text, for `--paper-rows` reference rows. They are the paper's numbers, not measurements of this code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from colorbench.errors import UsageError

PAPER_DATASETS = ("yumi", "tag2pix", "celeba")
_ALIASES = {
    "yumi": "yumi",
    "yumis_cells": "yumi",
    "yumi's cells": "yumi",
    "tag2pix": "tag2pix",
    "celeba": "celeba",
}
SOURCE = "GuidingPainter (WACV 2023), Table 1 / Table 3"

_Scores = tuple[float, float, float | None]  # (PSNR, FID, NRI); Table 1 has no NRI for automatic rows
_FullScores = tuple[float, float, float]  # Table 3 rows all have an NRI

# Table 1: (paper label, registry model, Cond.) → {dataset: (PSNR, FID, NRI or None)}.
# Written one paper row a line, the datasets in PAPER_DATASETS order, so each line reads against the PDF.
_TABLE1_PAPER: list[tuple[str, str, bool, _Scores, _Scores, _Scores]] = [
    ("CIC", "cic", False, (15.17, 137.35, None), (13.99, 167.88, None), (17.01, 79.05, None)),
    ("Pix2Pix", "pix2pix", False, (15.11, 71.93, None), (14.68, 111.45, None), (16.22, 54.86, None)),
    ("AlacGAN", "alacgan", False, (15.02, 30.72, None), (14.12, 46.24, None), (15.73, 23.52, None)),
    ("RTUG", "rtug", False, (19.05, 35.52, None), (14.44, 92.69, None), (17.23, 52.67, None)),
    ("Ours", "guidingpainter", False, (18.63, 34.07, None), (15.19, 55.31, None), (16.53, 42.46, None)),
    ("AlacGAN", "alacgan", True, (15.68, 29.74, 31.00), (14.53, 46.52, 31.00), (16.52, 22.83, 31.00)),
    ("RTUG", "rtug", True, (20.10, 30.26, 13.82), (16.36, 63.58, 14.79), (19.16, 44.45, 11.64)),
    ("Ours", "guidingpainter", True, (20.88, 24.46, 11.08), (17.55, 43.18, 11.39), (20.24, 16.43, 6.98)),
]
TABLE1: list[tuple[str, str, bool, dict[str, _Scores]]] = [
    (label, model, cond, dict(zip(PAPER_DATASETS, scores))) for label, model, cond, *scores in _TABLE1_PAPER
]

# Table 3: (row, loss set) → {dataset: (PSNR, FID, NRI)}, laid out as Table 1 above.
_TABLE3_PAPER: list[tuple[str, tuple[str, ...], _FullScores, _FullScores, _FullScores]] = [
    ("(a)", ("rec",), (21.04, 28.30, 9.95), (18.11, 66.21, 8.86), (20.76, 39.73, 5.58)),
    ("(b)", ("rec", "adv"), (20.84, 27.90, 11.05), (17.55, 48.37, 11.30), (20.41, 17.15, 6.13)),
    ("(c)", ("rec", "adv", "tv"), (20.72, 27.81, 10.39), (17.58, 47.32, 10.48), (20.19, 16.54, 7.20)),
    ("(d)", ("rec", "adv", "tv", "smth"), (20.88, 24.46, 11.08), (17.55, 43.18, 11.39), (20.24, 16.43, 6.98)),
]
TABLE3: list[tuple[str, tuple[str, ...], dict[str, _FullScores]]] = [
    (label, losses, dict(zip(PAPER_DATASETS, scores))) for label, losses, *scores in _TABLE3_PAPER
]


def paper_dataset(name: str | None) -> str | None:
    """The paper's dataset key for a dataset name ("yumi", "tag2pix", "celeba"), or None."""
    return _ALIASES.get(str(name or "").strip().lower())


def _reported_dataset(dataset: str) -> str:
    """The paper's key for `dataset`; a ValueError when the paper has no numbers for it."""
    key = paper_dataset(dataset)
    if key is None:
        raise UsageError(
            f"the paper reports no numbers for dataset {dataset!r}; it has {', '.join(PAPER_DATASETS)}"
        )
    return key


def _metric_fields(vals: Mapping[str, _Scores], key: str) -> dict[str, Any]:
    """The metric and provenance fields that end every paper row (this key order is what JSON output shows)."""
    psnr, fid, nri = vals[key]
    return {"psnr": psnr, "fid": fid, "nri": nri, "dataset": key, "source": SOURCE}


def table1_rows(dataset: str) -> list[dict[str, Any]]:
    """Table 1 rows of one paper dataset: {"label", "model", "conditional", "psnr", "fid", "nri", ...}."""
    key = _reported_dataset(dataset)
    return [
        {"label": label, "model": model, "conditional": cond, **_metric_fields(vals, key)}
        for label, model, cond, vals in TABLE1
    ]


def table3_rows(dataset: str) -> list[dict[str, Any]]:
    """Table 3 rows of one paper dataset: {"label", "losses", "psnr", "fid", "nri", "source"}."""
    key = _reported_dataset(dataset)
    return [{"label": label, "losses": list(losses), **_metric_fields(vals, key)} for label, losses, vals in TABLE3]


def requested_dataset(option: Any, run_dataset: str) -> str | None:
    """Resolve `--paper-rows`: True → the run's dataset (if the paper has it); a name → that dataset."""
    if not option:
        return None
    if option is True or str(option).lower() in ("1", "true", "yes"):
        return paper_dataset(run_dataset)
    key = paper_dataset(str(option))
    if key is None:
        raise UsageError(f"--paper-rows {option!r}: the paper reports {', '.join(PAPER_DATASETS)} only")
    return key


# Table 4 (supplement B, grayscale colorization L → ab, hints following G): (paper label, registry model) →
# {dataset: (PSNR, FID)}, copied verbatim; one paper row a line, datasets in TABLE4_DATASETS order.
TABLE4_DATASETS = ("CelebA", "Imagenet Car", "Yosemite")
TABLE4_SOURCE = "GuidingPainter (WACV 2023), supplement B, Table 4"
_TABLE4_PAPER: list[tuple[str, str, tuple[float, float], tuple[float, float], tuple[float, float]]] = [
    ("RTUG", "rtug", (29.92, 3.61), (26.40, 31.90), (27.58, 57.97)),
    ("Ours", "guidingpainter", (30.60, 2.40), (26.97, 27.54), (27.94, 54.05)),
]


def table4_rows() -> list[dict[str, Any]]:
    """Every Table 4 cell as a row {"label", "model", "dataset", "psnr", "fid", "source"}, datasets in paper order."""
    return [
        {"label": label, "model": model, "dataset": ds, "psnr": psnr, "fid": fid, "source": TABLE4_SOURCE}
        for label, model, *scores in _TABLE4_PAPER
        for ds, (psnr, fid) in zip(TABLE4_DATASETS, scores)
    ]
