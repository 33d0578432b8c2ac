"""Per-image records and the run-directory layout: the only thing protocols and reports read.

A run directory (`--out`, e.g. results/toon) holds
  records.csv            one row per (variant, image_id, mode, n); schema `RECORD_COLUMNS`
  features/<variant>.npz Inception pool3 features of generated images, keys "image_id|mode|n"
  features/real.npz      features of the ground truth, keys "image_id"
  samples/<variant>.npz  a seeded draw of images: sketch, ground truth, regions, outputs and hints at n = 0..12
  run.json               the config of the run, model infos, dataset info, FID-weights status
  results.json           protocol results + provenance (written by the report stage)
Modes: "native" (the model's own hints), "equalized" (point/stroke hints inside GuidingPainter's regions),
"ablation" (Fig. 5: n = index i of the single hinted, moved-to-front region), "perturbed" (supplement E.2:
every model's hints inside GuidingPainter's regions; a point/stroke model's natural-colour reference is its
equalized rows, written at the perturbed levels even when equalized mode itself was not asked for),
"policies" (colorbench.evaluation.hint_policies: records of modes "policies/<policy>" — the same kind of hints in other
orders and places — plus a point/stroke model's equalized rows, its guided policy).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from colorbench.atomic import atomic_write, atomic_write_text
from colorbench.errors import UsageError

RECORD_COLUMNS: dict[str, str] = {
    "variant": "str",  # model label in tables: registry name, or name@tag for extra checkpoints
    "model": "str",  # canonical registry name
    "dataset": "str",
    "image_id": "str",
    "mode": "str",  # native | equalized | ablation | perturbed | policies/<policy>
    "n": "int64",  # number of revealed hints (ablation: region index i, 1-based)
    "psnr": "float64",  # dB, metrics.psnr
    "hint_area": "float64",  # fraction of pixels covered by hints
    "hint_err": "float64",  # mean |Ŷ - C| inside the hint mask, 8-bit units (NaN without hints)
    "empty": "bool",  # ablation: the hinted region was empty for this image
}
# Present only in runs with the "perturbed" mode (supplement E.2), after the metric columns: mean CIEDE2000 ΔE
# between the hint colour and the output over the hinted pixels (NaN without hints), hint_err in perceptual units.
HINT_COLUMNS: dict[str, str] = {"hint_de": "float64"}
# Columns after RECORD_COLUMNS (other than HINT_COLUMNS) are per-image metric columns (colorbench.metrics.registry: "ssim", "deltae", "cf", …),
# float64, present only in runs that selected them (`run --metrics`); a run without them has exactly these.
SORT_KEYS = ["variant", "image_id", "mode", "n"]
MODES = ("native", "equalized", "ablation", "perturbed", "policies")
POLICIES = "policies"  # the --modes entry of colorbench.evaluation.hint_policies: its records' modes are policy_mode(name)
POLICY_PREFIX = POLICIES + "/"


def policy_mode(policy: str) -> str:
    """The record mode of a hint policy: "policies/area", "policies/random/3", …"""
    return POLICY_PREFIX + policy


def mode_family(mode: str) -> str:
    """The --modes entry a record mode comes from: "policies/area" → "policies"; others are their own."""
    return mode.split("/", 1)[0]


def records_frame(rows: Iterable[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Rows (or a frame) → DataFrame with the canonical columns, dtypes and order (sorted by SORT_KEYS)."""
    # A frame is taken as is: a dict round trip costs ~1 s per 100k records (report-time budget).
    df = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    for col, dtype in RECORD_COLUMNS.items():
        if col not in df:
            df[col] = np.nan if dtype == "float64" else (False if dtype == "bool" else "")
    types = RECORD_COLUMNS | {c: "float64" for c in metric_columns(df)} | {c: t for c, t in HINT_COLUMNS.items() if c in df}
    df = df[list(types)].astype(types)
    return df.sort_values(SORT_KEYS, kind="mergesort").reset_index(drop=True)


def metric_columns(df: pd.DataFrame) -> list[str]:
    """The extra per-image metric columns of a records frame, in their order (not RECORD_COLUMNS, HINT_COLUMNS)."""
    return [str(c) for c in df.columns if c not in RECORD_COLUMNS and c not in HINT_COLUMNS]


def write_records(path: str | Path, df: pd.DataFrame) -> None:
    """CSV with round-trip float precision (PSNR to the last bit), written atomically."""
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format="%.17g")
    atomic_write_text(path, buf.getvalue())


def read_records(path: str | Path) -> pd.DataFrame:
    """records.csv as a records_frame; a file pandas cannot parse or type, or one cut short (write_records ends
    every file with a newline), is a UsageError naming it."""
    if _cut_short(path):
        raise UsageError(f"{path} is truncated (its last row is incomplete); re-run `colorbench run`")
    try:
        header = pd.read_csv(path, nrows=0).columns
        numeric = ["psnr", "hint_area", "hint_err"] + [str(c) for c in header if c not in RECORD_COLUMNS]
        df = pd.read_csv(path, dtype={"image_id": str, "variant": str, "model": str, "dataset": str, "mode": str},
                         keep_default_na=False, na_values={c: [""] for c in numeric})
        if not isinstance(df.index, pd.RangeIndex):  # pandas takes a first row longer than the header as an index
            raise UsageError(f"{path}: a row has more fields than the header; re-run `colorbench run`")
        return records_frame(df)
    except UsageError:
        raise
    except (ValueError, TypeError) as exc:  # ParserError, EmptyDataError and failed dtype casts
        raise UsageError(f"{path} is not a colorbench records.csv ({exc}); re-run `colorbench run`") from exc


def _cut_short(path: str | Path) -> bool:
    try:
        with open(path, "rb") as fh:
            if fh.seek(0, os.SEEK_END) == 0:
                return False  # empty: pandas names that one
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) != b"\n"
    except OSError:
        return False  # pandas' error names it


def feature_key(image_id: str, mode: str, n: int) -> str:
    return f"{image_id}|{mode}|{n}"


@dataclass
class FeatureStore:
    """Inception features of one variant (or of the real images): key → [2048] float32."""

    keys: list[str]
    feats: np.ndarray  # [N, D] float32

    def lookup(self, keys: Iterable[str]) -> np.ndarray:
        index = {k: i for i, k in enumerate(self.keys)}
        missing = [k for k in keys if k not in index]
        if missing:
            raise KeyError(f"{len(missing)} feature rows missing (e.g. {missing[0]})")
        return self.feats[[index[k] for k in keys]]

    def save(self, path: str | Path) -> None:
        atomic_write(path, lambda tmp: _savez(tmp, keys=np.asarray(self.keys), feats=self.feats))

    @staticmethod
    def load(path: str | Path) -> FeatureStore:
        with np.load(path, allow_pickle=False) as z:
            return FeatureStore([str(k) for k in z["keys"]], z["feats"])

    @staticmethod
    def merge(stores: Iterable[FeatureStore]) -> FeatureStore:
        keys: list[str] = []
        feats: list[np.ndarray] = []
        for s in stores:
            keys += s.keys
            feats.append(s.feats)
        order = np.argsort(np.asarray(keys), kind="stable")
        stacked = np.concatenate(feats) if feats else np.zeros((0, 2048), np.float32)
        return FeatureStore([keys[i] for i in order], stacked[order])


def _savez(path: str, **arrays: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    """Atomic np.savez_compressed (no pickles: object arrays are refused on load)."""
    atomic_write(path, lambda tmp: _savez(tmp, **arrays))


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def load_samples(path: str | Path, expand: bool = True) -> dict[str, np.ndarray]:
    """samples/<variant>.npz with its hints as hint_color [k,L,3,H,W] and hint_mask [k,L,H,W] (uint8),
    expanded from the stored hint_top [k,L,H,W] and hint_palette [k,L,3] (colorbench.evaluation.engine); files that
    store them expanded (older runs) are returned as they are. `expand=False` keeps them compact (the
    report expands only the images it draws: 32 images at 128 px take 0.3 s to expand)."""
    arrays = load_npz(path)
    return expand_hints(arrays) if expand else arrays


def expand_hints(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add hint_color and hint_mask to samples arrays that hold hint_top and hint_palette; → `arrays`."""
    if "hint_top" in arrays and "hint_color" not in arrays:
        top, palette = arrays["hint_top"], arrays["hint_palette"]
        rows = np.arange(len(top))[:, None, None, None]
        arrays["hint_color"] = np.ascontiguousarray(palette[rows, top].transpose(0, 1, 4, 2, 3))
        arrays["hint_mask"] = (top > 0).astype(np.uint8)
    return arrays


def sample_rows(arrays: dict[str, np.ndarray], ids: Sequence[str]) -> dict[str, np.ndarray]:
    """The samples arrays of the images `ids` only (in that order), hints expanded."""
    held = [str(i) for i in arrays["image_ids"]]
    rows = [held.index(i) for i in ids]
    return expand_hints({name: value[rows] for name, value in arrays.items()})


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | Path) -> Any:
    """The parsed JSON file; a file that cannot be read or parsed is a UsageError naming it (a hand-edited
    or truncated baseline, run.json or results.json is the user's to fix, not a bug)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise UsageError(f"{path} is not valid JSON ({exc}); restore it or re-create it") from exc


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")
