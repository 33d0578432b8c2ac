"""The paper's published Table 1 and Table 3 numbers (yumi, tag2pix, celeba), copied verbatim from the
paper text, for `--paper-rows` reference rows. They are the paper's numbers, not measurements of this code.
"""

from __future__ import annotations

from typing import Any

PAPER_DATASETS = ("yumi", "tag2pix", "celeba")
_ALIASES = {
    "yumi": "yumi",
    "yumis_cells": "yumi",
    "yumi's cells": "yumi",
    "tag2pix": "tag2pix",
    "celeba": "celeba",
}
SOURCE = "GuidingPainter (WACV 2023), Table 1 / Table 3"

# Table 1: (paper label, registry model, Cond.) → {dataset: (PSNR, FID, NRI or None)}
TABLE1: list[tuple[str, str, bool, dict[str, tuple[float, float, float | None]]]] = [
    (
        "CIC",
        "cic",
        False,
        {"yumi": (15.17, 137.35, None), "tag2pix": (13.99, 167.88, None), "celeba": (17.01, 79.05, None)},
    ),
    (
        "Pix2Pix",
        "pix2pix",
        False,
        {"yumi": (15.11, 71.93, None), "tag2pix": (14.68, 111.45, None), "celeba": (16.22, 54.86, None)},
    ),
    (
        "AlacGAN",
        "alacgan",
        False,
        {"yumi": (15.02, 30.72, None), "tag2pix": (14.12, 46.24, None), "celeba": (15.73, 23.52, None)},
    ),
    (
        "RTUG",
        "rtug",
        False,
        {"yumi": (19.05, 35.52, None), "tag2pix": (14.44, 92.69, None), "celeba": (17.23, 52.67, None)},
    ),
    (
        "Ours",
        "guidingpainter",
        False,
        {"yumi": (18.63, 34.07, None), "tag2pix": (15.19, 55.31, None), "celeba": (16.53, 42.46, None)},
    ),
    (
        "AlacGAN",
        "alacgan",
        True,
        {"yumi": (15.68, 29.74, 31.00), "tag2pix": (14.53, 46.52, 31.00), "celeba": (16.52, 22.83, 31.00)},
    ),
    (
        "RTUG",
        "rtug",
        True,
        {"yumi": (20.10, 30.26, 13.82), "tag2pix": (16.36, 63.58, 14.79), "celeba": (19.16, 44.45, 11.64)},
    ),
    (
        "Ours",
        "guidingpainter",
        True,
        {"yumi": (20.88, 24.46, 11.08), "tag2pix": (17.55, 43.18, 11.39), "celeba": (20.24, 16.43, 6.98)},
    ),
]

# Table 3: (row, loss set) → {dataset: (PSNR, FID, NRI)}
TABLE3: list[tuple[str, tuple[str, ...], dict[str, tuple[float, float, float]]]] = [
    (
        "(a)",
        ("rec",),
        {"yumi": (21.04, 28.30, 9.95), "tag2pix": (18.11, 66.21, 8.86), "celeba": (20.76, 39.73, 5.58)},
    ),
    (
        "(b)",
        ("rec", "adv"),
        {"yumi": (20.84, 27.90, 11.05), "tag2pix": (17.55, 48.37, 11.30), "celeba": (20.41, 17.15, 6.13)},
    ),
    (
        "(c)",
        ("rec", "adv", "tv"),
        {"yumi": (20.72, 27.81, 10.39), "tag2pix": (17.58, 47.32, 10.48), "celeba": (20.19, 16.54, 7.20)},
    ),
    (
        "(d)",
        ("rec", "adv", "tv", "smth"),
        {"yumi": (20.88, 24.46, 11.08), "tag2pix": (17.55, 43.18, 11.39), "celeba": (20.24, 16.43, 6.98)},
    ),
]


def paper_dataset(name: str | None) -> str | None:
    """The paper's dataset key for a dataset name ("yumi", "tag2pix", "celeba"), or None."""
    return _ALIASES.get(str(name or "").strip().lower())


def table1_rows(dataset: str) -> list[dict[str, Any]]:
    """Table 1 rows of one paper dataset: {"label", "model", "conditional", "psnr", "fid", "nri", ...}."""
    key = paper_dataset(dataset)
    if key is None:
        raise ValueError(
            f"the paper reports no numbers for dataset {dataset!r}; it has {', '.join(PAPER_DATASETS)}"
        )
    return [
        {
            "label": label,
            "model": model,
            "conditional": cond,
            "psnr": vals[key][0],
            "fid": vals[key][1],
            "nri": vals[key][2],
            "dataset": key,
            "source": SOURCE,
        }
        for label, model, cond, vals in TABLE1
    ]


def table3_rows(dataset: str) -> list[dict[str, Any]]:
    """Table 3 rows of one paper dataset: {"label", "losses", "psnr", "fid", "nri", "source"}."""
    key = paper_dataset(dataset)
    if key is None:
        raise ValueError(
            f"the paper reports no numbers for dataset {dataset!r}; it has {', '.join(PAPER_DATASETS)}"
        )
    return [
        {
            "label": label,
            "losses": list(losses),
            "psnr": vals[key][0],
            "fid": vals[key][1],
            "nri": vals[key][2],
            "dataset": key,
            "source": SOURCE,
        }
        for label, losses, vals in TABLE3
    ]


def requested_dataset(option: Any, run_dataset: str) -> str | None:
    """Resolve `--paper-rows`: True → the run's dataset (if the paper has it); a name → that dataset."""
    if not option:
        return None
    if option is True or str(option).lower() in ("1", "true", "yes"):
        return paper_dataset(run_dataset)
    key = paper_dataset(str(option))
    if key is None:
        raise ValueError(f"--paper-rows {option!r}: the paper reports {', '.join(PAPER_DATASETS)} only")
    return key
