"""Which variants a table shows and in what order, from run.json alone (protocols never import models).

Order follows the paper's Table 1 (CIC, Pix2Pix, AlacGAN, RTUG, Ours, then anything else); variants tagged
with a loss set (ours@rec+adv …) belong to Table 3, not Table 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from colorbench.errors import UsageError

PAPER_ORDER = ("cic", "pix2pix", "alacgan", "rtug", "guidingpainter")
PAPER_NAMES = {"ours": "guidingpainter"}  # the paper calls GuidingPainter "Ours"
LOSS_TERMS = ("rec", "adv", "tv", "smth")  # Table 3 columns, Eq. (14)
_LOSS_ALIASES = {"rec": "rec", "adv": "adv", "tv": "tv", "smth": "smth", "smooth": "smth", "smt": "smth"}


def is_conditional(info: Mapping[str, Any]) -> bool:
    """run.json variants[v]: conditional unless its hint kind is "none"."""
    if "conditional" in info:
        return bool(info["conditional"])
    return info.get("hint_kind", "none") != "none"


def display_name(variant: str, info: Mapping[str, Any]) -> str:
    """Table label: the model's display name, plus "@tag" for extra checkpoints."""
    base = info.get("display_name") or info.get("model") or variant
    tag = info.get("tag") or (variant.split("@", 1)[1] if "@" in variant else "")
    return f"{base}@{tag}" if tag else str(base)


def loss_set(tag: str | None) -> tuple[str, ...] | None:
    """'rec+adv+tv' → ('rec', 'adv', 'tv') in Eq. (14) order; None if the tag is not a loss set."""
    if not tag:
        return None
    parts = [p.strip().lower() for p in tag.replace(",", "+").split("+") if p.strip()]
    if not parts or any(p not in _LOSS_ALIASES for p in parts):
        return None
    terms = {_LOSS_ALIASES[p] for p in parts}
    return tuple(t for t in LOSS_TERMS if t in terms)


def variant_tag(variant: str, info: Mapping[str, Any]) -> str:
    return str(info.get("tag") or (variant.split("@", 1)[1] if "@" in variant else ""))


def ordered_variants(variants: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Variant labels in the paper's order; ties keep run.json order."""
    names = list(variants)

    def key(v: str) -> tuple[int, int]:
        model = str(variants[v].get("model", v.split("@")[0]))
        rank = PAPER_ORDER.index(model) if model in PAPER_ORDER else len(PAPER_ORDER)
        return rank, names.index(v)

    return sorted(names, key=key)


def table1_variants(variants: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Variants of Table 1: all except loss-ablation checkpoints (unless only those exist)."""
    order = ordered_variants(variants)
    main = [v for v in order if loss_set(variant_tag(v, variants[v])) is None]
    return main or order


def resolve_variant(name: str, variants: Mapping[str, Mapping[str, Any]]) -> str:
    """A user's name for a variant ("ours", "rtug", "GuidingPainter", "guidingpainter@rec") → its label.

    Matches the label, then the model name (paper names like "ours" included), then the display name;
    among several matches the untagged checkpoint wins. Raises ValueError listing the variants.
    """
    want = name.strip().lower()
    want = PAPER_NAMES.get(want, want)
    labels = list(variants)
    for v in labels:
        if v.lower() == want:
            return v
    hits = [v for v in labels if str(variants[v].get("model", "")).lower() == want]
    hits = hits or [v for v in labels if str(variants[v].get("display_name", "")).lower() == want]
    if not hits:
        raise UsageError(f"--compare: no variant {name!r} in this run; variants are: {', '.join(labels)}")
    untagged = [v for v in hits if not variant_tag(v, variants[v])]
    return (untagged or hits)[0]
