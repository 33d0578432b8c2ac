"""Datasets: `open_dataset(name)` finds a registered (synthetic or plugin) dataset or a prepared folder,
and says which command to run when neither exists.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from colorbench.data.base import SPLITS, ColorDataset, DatasetError
from colorbench.data.folder import (
    KNOWN_THRESHOLDS,
    FolderDataset,
    default_data_root,
    is_prepared,
    prepared_size,
)
from colorbench.data.synthetic import Snail, Toon

__all__ = [
    "DEFAULT_SIZE", "SPLITS", "ColorDataset", "DatasetError", "FolderDataset", "Snail", "Toon",
    "dataset_key", "default_data_root", "known_thresholds", "native_size", "open_dataset", "prepared_names",
]  # fmt: skip

DEFAULT_SIZE = 64  # px: what synthetic and plugin sets are served at unless --size says otherwise


def open_dataset(
    name: str,
    split: str = "test",
    size: int = 64,
    root: str | Path | None = None,
    limit: int | None = None,
    **kw: Any,
) -> ColorDataset:
    """The dataset `name`: a registered one (toon, snail, plugins) or one prepared under `root`.

    root: where prepared datasets live (default $COLORBENCH_DATA, else ./data); ignored by synthetic sets.
    Raises DatasetError naming the command to run when the data is not there.
    """
    from colorbench.registry import DATASETS

    key = dataset_key(name)
    if key in DATASETS:
        return DATASETS.get(key)(split=split, size=size, root=None if root is None else str(root), limit=limit, **kw)
    data_root = Path(root) if root is not None else default_data_root()
    if _is_prepared_name(data_root, key):
        return FolderDataset(split=split, size=size, root=data_root, limit=limit, name=key, **kw)
    raise DatasetError(_missing_message(key, data_root, explicit_root=root is not None))


def native_size(name: str, root: str | Path | None = None) -> int:
    """The size `name` is served at when --size is not given: a prepared dataset's own (its manifest's:
    a set prepared at 256² is evaluated at 256²), else DEFAULT_SIZE (registered sets, unknown names)."""
    from colorbench.registry import DATASETS

    key = dataset_key(name)
    data_root = Path(root) if root is not None else default_data_root()
    if key in DATASETS or not _is_prepared_name(data_root, key):
        return DEFAULT_SIZE
    return prepared_size(data_root / key) or DEFAULT_SIZE


def dataset_key(name: str) -> str:
    """`name` as the key a dataset is known by; DatasetError for a path. A prepared set is DATA_ROOT/NAME and a
    run's default folder results/NAME, so '../x' or 'a/b' would read and write outside both."""
    key = name.strip().lower()
    if not key or "/" in key or "\\" in key or key.startswith(".") or "\0" in key:
        raise DatasetError(f"--dataset {name!r} is not a dataset name: give a name (toon, snail, or one prepared "
                           "under the data root, see `colorbench datasets`), not a path; --data-root chooses where "
                           "prepared datasets live")
    return key


def _is_prepared_name(data_root: Path, key: str) -> bool:
    return (data_root / key).is_dir() and is_prepared(data_root / key)


def _missing_message(key: str, data_root: Path, explicit_root: bool) -> str:
    from colorbench.registry import DATASETS

    root_flag = f" --data-root {data_root}" if explicit_root and data_root != default_data_root() else ""
    command = f"`colorbench prepare {key} --src DIR{root_flag}` (DIR = your folder of colour images)"
    where = data_root / key
    if key in KNOWN_THRESHOLDS:
        return f"dataset {key!r} is not prepared under {where}: run {command}"
    synthetic = DATASETS.names()
    prepared = prepared_names(data_root)
    close = difflib.get_close_matches(key, synthetic + sorted(KNOWN_THRESHOLDS) + prepared, n=3)
    return (
        f"unknown dataset {key!r}: not registered and not prepared under {where}."
        + (f" Did you mean {', '.join(repr(c) for c in close)}?" if close else "")
        + f" Built-in: {', '.join(synthetic) or 'none'}."
        + f" Prepared under {data_root}: {', '.join(prepared) or 'none'}."
        + f" Known names to prepare: {', '.join(sorted(KNOWN_THRESHOLDS))}."
        + f" To use your own images run {command}."
    )


def prepared_names(root: str | Path | None = None) -> list[str]:
    """Names of the datasets prepared under `root` (default $COLORBENCH_DATA, else ./data)."""
    data_root = Path(root) if root is not None else default_data_root()
    if not data_root.is_dir():
        return []
    return sorted(p.name for p in data_root.iterdir() if p.is_dir() and not p.name.startswith(".") and is_prepared(p))


def known_thresholds() -> dict[str, float]:
    """NRI threshold (dB) of every dataset name colorbench knows: registered sets and yumi/tag2pix/celeba."""
    from colorbench.registry import DATASETS

    out: dict[str, float] = {}
    for name in DATASETS.names():
        try:
            out[name] = float(DATASETS.get(name).nri_threshold)
        except Exception:  # noqa: BLE001, S112 — a broken plugin must not hide the others
            continue
    out.update(KNOWN_THRESHOLDS)
    return out
