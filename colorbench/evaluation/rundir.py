"""Checks of what a run directory holds before anything is computed from it: run.json's shape and records.csv's
rows (no conflicting duplicates, only run.json's variants, finite PSNR, at least one row). Torch-free."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from colorbench.errors import UsageError
from colorbench.evaluation.records import SORT_KEYS, read_json

# run.json fields every protocol reads, and the JSON type each must have.
RUN_FIELDS: dict[str, type] = {"variants": dict, "dataset": dict, "protocol": dict}
# Fields read when present (older or hand-made run.json may lack them), which must then be objects too.
OPTIONAL_OBJECTS = ("config", "config.plan", "fid", "cache")


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """The parsed run.json of `run_dir`, its shape checked (a hand-edited `[]` is named, not a traceback)."""
    path = Path(run_dir) / "run.json"
    run = read_json(path)
    if not isinstance(run, dict):
        raise UsageError(f"{path} must be a JSON object (a colorbench run's config); re-run `colorbench run`")
    for key, kind in RUN_FIELDS.items():
        if not isinstance(run.get(key), kind):
            raise UsageError(f"{path}: field {key!r} must be an object, got {run.get(key)!r:.60}; "
                             f"re-run `colorbench run`")
    for dotted in OPTIONAL_OBJECTS:
        parent, _, key = dotted.rpartition(".")
        value = (run.get(parent) if parent else run) or {}
        if isinstance(value, dict) and value.get(key) is not None and not isinstance(value[key], dict):
            raise UsageError(f"{path}: field {dotted!r} must be an object, got {value[key]!r:.60}; "
                             f"re-run `colorbench run`")
    if not run["variants"] or not all(isinstance(v, dict) for v in run["variants"].values()):
        raise UsageError(f"{path}: field 'variants' must map each variant to an object; re-run `colorbench run`")
    return run


def check_records(records: pd.DataFrame, run: dict[str, Any], path: str | Path) -> pd.DataFrame:
    """`records` without exact duplicate rows; a UsageError naming `path` (records.csv) for rows a report
    cannot trust: none at all, conflicting duplicates (the first would silently win), variants run.json does not
    describe, more images per variant than the run had, a PSNR or extra metric value that is NaN or infinite,
    or fewer rows than run.json promises (`_check_complete`)."""
    if records.empty:
        raise UsageError(f"{path} holds no records (header only): re-run `colorbench run --out "
                         f"{Path(path).parent} …`")
    records = records.drop_duplicates().reset_index(drop=True)  # identical rows: harmless (concurrent merges)
    clash = records[records.duplicated(subset=SORT_KEYS, keep=False)]
    if not clash.empty:
        row = clash.iloc[0]
        raise UsageError(f"{path}: {len(clash)} rows disagree for the same variant/image/mode/n, e.g. "
                         f"{row['variant']} {row['image_id']} {row['mode']} n={row['n']}: re-run `colorbench run`")
    unknown = sorted(set(records["variant"]) - set(run["variants"]))
    if unknown:
        raise UsageError(f"{path}: variant {unknown[0]!r} is not in run.json (its variants: "
                         f"{', '.join(run['variants'])}); the two files come from different runs")
    n_images = run["dataset"].get("n_images")
    if isinstance(n_images, int):
        counts = records.groupby("variant")["image_id"].nunique()
        over = counts[counts > n_images]
        if not over.empty:
            raise UsageError(f"{path}: variant {over.index[0]!r} has {int(over.iloc[0])} images, run.json's run "
                             f"had {n_images}; the two files come from different runs")
    bad = records[~np.isfinite(records["psnr"].to_numpy(dtype=float))]
    if not bad.empty:
        row = bad.iloc[0]
        raise UsageError(f"{path}: {len(bad)} rows have a PSNR that is not a finite number, e.g. {row['variant']} "
                         f"{row['image_id']} {row['mode']} n={row['n']}: {row['psnr']}")
    _check_metric_columns(records, run, path)
    _check_complete(records, run, path)
    return records


def _metric_columns(run: dict[str, Any], label: str) -> list[str]:
    """The extra metric columns (ssim, deltae…) the run that computed `label` wrote: its config's plan."""
    config = ((run["variants"][label].get("run") or {}).get("config") or run.get("config") or {})
    metrics = (config.get("plan") or {}).get("metrics") or [] if isinstance(config, dict) else []
    return [c for m in metrics if isinstance(m, dict) and not m.get("unavailable") for c in m.get("columns") or []]


def _check_metric_columns(records: pd.DataFrame, run: dict[str, Any], path: str | Path) -> None:
    """Every extra metric value a variant's run computed is a finite number (ablation rows carry none: NaN)."""
    scored = records[records["mode"] != "ablation"]
    for label, rows in scored.groupby("variant", sort=False):
        for column in _metric_columns(run, str(label)):
            if column not in rows:
                raise UsageError(f"{path}: column {column!r}, which run.json says variant {label!r} was scored "
                                 "with, is missing; re-run `colorbench run`")
            values = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
            if not np.isfinite(values).all():
                row = rows.iloc[int(np.flatnonzero(~np.isfinite(values))[0])]
                raise UsageError(f"{path}: {int((~np.isfinite(values)).sum())} rows have a {column} that is not a "
                                 f"finite number, e.g. {row['variant']} {row['image_id']} {row['mode']} n={row['n']}: "
                                 f"{row[column]}")


def _check_complete(records: pd.DataFrame, run: dict[str, Any], path: str | Path) -> None:
    """Every (variant, image, n, mode) run.json promises is in `records`: each of its variants, on each of its
    n_images test images, at every hint level of Nc (one, n = 0, for automatic models) in native mode, and in
    every other mode at the same levels for each image. A report on fewer rows would silently average fewer
    images or drop a model."""
    nc = run["protocol"].get("nc")
    n_images = run["dataset"].get("n_images")
    all_images = set(records["image_id"])
    for label, info in run["variants"].items():
        rows = records[records["variant"] == label]
        if rows.empty:
            raise UsageError(f"{path} has no rows of variant {label!r}, which run.json lists: records.csv is "
                             f"incomplete; re-run `colorbench run --out {Path(path).parent} …` (it resumes)")
        native = rows[rows["mode"] == "native"]
        images = set(native["image_id"])
        if isinstance(n_images, int) and len(images) != n_images:
            missing = sorted(all_images - images)
            example = f" (e.g. {missing[0]!r})" if missing else ""
            raise UsageError(f"{path}: variant {label!r} has native rows of {len(images)} images, run.json's run had "
                             f"{n_images}{example}: records.csv is incomplete; re-run `colorbench run` (it resumes)")
        levels = set(range(int(nc) + 1)) if isinstance(nc, int) and info.get("conditional", True) else {0}
        for mode, part in rows.groupby("mode", sort=False):
            want = levels if mode == "native" else set(part["n"])
            have = part.groupby("image_id")["n"].nunique()
            short = sorted(set(have[have < len(want)].index) | (images - set(have.index)))
            if short:
                got = set(part.loc[part["image_id"] == short[0], "n"])
                lacking = sorted(want - got)
                raise UsageError(f"{path}: variant {label!r} lacks {mode} rows of image {short[0]!r} at n = "
                                 f"{', '.join(map(str, lacking[:5]))}{' …' if len(lacking) > 5 else ''} "
                                 f"({len(short)} image(s) incomplete): records.csv is incomplete; re-run "
                                 "`colorbench run` (it resumes)")
