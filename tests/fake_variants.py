"""The fake checkpoints of tests/records_factory.py's run directories: each variant's PSNR curve and FID
parameters (FakeVariant), the default and loss-ablation sets, and the run.json entry a variant gets."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FakeVariant:
    """One fake checkpoint. PSNR_i(n) = base + difficulty_i + gain·(1 − exp(−n/scale)) + noise (dB)."""

    label: str
    model: str
    display_name: str
    hint_kind: str  # region | point | stroke | none
    base: float
    gain: float = 0.0
    scale: float = 6.0
    shift: float = 1.0  # distance of the fake feature mean from the real one at n = 0 (FID ∝ shift²)
    follow: float = 1.5  # hint_err(perturbed) / hint_err(native)
    tag: str = ""
    labels: tuple[str, ...] = ()

    @property
    def conditional(self) -> bool:
        return self.hint_kind != "none"


DEFAULT_VARIANTS: tuple[FakeVariant, ...] = (
    FakeVariant("guidingpainter", "guidingpainter", "GuidingPainter", "region", 16.4, 6.0, 4.0, 0.9, 1.2),
    FakeVariant("rtug", "rtug", "RTUG", "point", 17.0, 4.0, 8.0, 1.1, 1.8, labels=("RTUG-sketch",)),
    FakeVariant(
        "alacgan", "alacgan", "AlacGAN", "stroke", 15.0, 1.5, 12.0, 1.0, 2.6, labels=("AlacGAN-lite",)
    ),
    FakeVariant("pix2pix", "pix2pix", "Pix2Pix", "none", 15.1, shift=1.5),
    FakeVariant("cic", "cic", "CIC", "none", 15.3, shift=2.2, labels=("CIC-sketch",)),
)

LOSS_VARIANTS: tuple[FakeVariant, ...] = (
    FakeVariant(
        "guidingpainter@rec", "guidingpainter", "GuidingPainter", "region", 16.9, 6.2, 4.0, 1.6, tag="rec"
    ),
    FakeVariant(
        "guidingpainter@rec+adv",
        "guidingpainter",
        "GuidingPainter",
        "region",
        16.5,
        5.9,
        4.2,
        1.1,
        tag="rec+adv",
    ),
    FakeVariant(
        "guidingpainter@rec+adv+tv",
        "guidingpainter",
        "GuidingPainter",
        "region",
        16.4,
        5.9,
        4.1,
        1.0,
        tag="rec+adv+tv",
    ),
    FakeVariant(
        "guidingpainter@rec+adv+tv+smth",
        "guidingpainter",
        "GuidingPainter",
        "region",
        16.4,
        6.0,
        4.0,
        0.9,
        tag="rec+adv+tv+smth",
    ),
)

def describe(v: FakeVariant) -> dict[str, Any]:
    """run.json variants[label], as Variant.describe() writes it."""
    sha = hashlib.sha256(f"checkpoint|{v.label}".encode()).hexdigest()
    return {
        "name": v.model,
        "display_name": v.display_name,
        "hint_kind": v.hint_kind,
        "labels": list(v.labels),
        "conditional": v.conditional,
        "model": v.model,
        "tag": v.tag,
        "checkpoint": f"/ckpt/{v.label}.safetensors",
        "checkpoint_sha256": sha,
        "config": {"width": 0.25, "nc": 30},
        "trained": {"dataset": "toy", "size": 32, "epoch": 3},
    }
