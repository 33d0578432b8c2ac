"""Which split each prepared image goes to (E1.2: a hash ranking cut 81:9:10) and which images are one content,
so that identical content never straddles splits."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

SPLIT_FRACTIONS = (0.81, 0.09)  # train, val; test gets the rest (paper §4.1: 81:9:10)


def split_of(ids: list[str], name: str, seed: int = 0, group: dict[str, str] | None = None) -> dict[str, str]:
    """E1.2: rank ids by sha256("colorbench|split|NAME|id") and cut 81:9:10 (floor, floor, rest).

    seed 0 is the normative split; another seed salts the hash (",seed=N") for a different one.
    group: id → content key; ids sharing a key all take the split of the first-ranked of them (identical
    content in train and test would score a model on an image it trained on). Ids without a twin keep their
    E1.2 split, so a set without duplicates is split exactly as before groups existed.
    """
    salt = "" if seed == 0 else f"|seed={seed}"
    ranked = sorted(ids, key=lambda i: hashlib.sha256(f"colorbench|split|{name}|{i}{salt}".encode()).hexdigest())
    n = len(ranked)
    n_train, n_val = int(np.floor(SPLIT_FRACTIONS[0] * n)), int(np.floor(SPLIT_FRACTIONS[1] * n))
    group = group or {}
    out: dict[str, str] = {}
    first: dict[str, str] = {}  # content key → split of its first-ranked id
    for position, i in enumerate(ranked):
        split = "train" if position < n_train else "val" if position < n_train + n_val else "test"
        out[i] = first.setdefault(group.get(i, f"id|{i}"), split)
    return out


def duplicate_groups(images: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Ids whose prepared colour image is byte-identical (copies, links to one file, one picture saved twice
    losslessly), as sorted groups of two or more."""
    by_content: dict[str, list[str]] = {}
    for image_id, entry in sorted(images.items()):
        by_content.setdefault(entry["color_sha256"], []).append(image_id)
    return sorted(g for g in by_content.values() if len(g) > 1)
