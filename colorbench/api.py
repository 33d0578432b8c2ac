"""The contracts every part of colorbench agrees on: hint kinds, hint tensors and model descriptions.

Tensor conventions (as the official GuidingPainter code):
  sketch  X  [B,1,H,W] float32 in [-1,1]   (white paper = +1, black lines = -1)
  colour  Y  [B,3,H,W] float32 in [-1,1]   (RGB)
  output  Ŷ  [B,3,H,W] float32 in [-1,1]
  hints   U = (C, M): C [B,3,H,W] in [-1,1] (0 where no hint), M [B,1,H,W] in {0,1}
  regions S  [B,Nc,H,W] in {0,1}, one-hot over channels, ordered by priority (S_1 first)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import torch


class HintKind(str, enum.Enum):
    """How a model wants its colour hints. Decides which simulator the engine uses."""

    REGION = "region"  # GuidingPainter: whole regions filled with their mean colour (Eq. 4-8)
    POINT = "point"  # RTUG: small square patches with the patch mean colour
    STROKE = "stroke"  # AlacGAN: sparse 4x4 cells (quarter-resolution pixels, as its public code)
    NONE = "none"  # automatic models (Pix2Pix, CIC)


@dataclass
class Hints:
    """A batch of colour hints U = (C, M), plus the ordered regions when the model uses them.

    color:   [B,3,H,W] float in [-1,1]; exactly 0 where mask is 0.
    mask:    [B,1,H,W] float in {0,1}.
    regions: [B,Nc,H,W] float in {0,1} or None; the full (possibly permuted) segment stack S that
             GuidingPainter's g receives as input even for unhinted regions (Eq. 9).
    """

    color: torch.Tensor
    mask: torch.Tensor
    regions: torch.Tensor | None = None

    @staticmethod
    def empty(batch: int, height: int, width: int, device: torch.device | str = "cpu") -> Hints:
        """No hints at all: C = 0, M = 0."""
        return Hints(
            color=torch.zeros(batch, 3, height, width, device=device),
            mask=torch.zeros(batch, 1, height, width, device=device),
        )

    def to(self, device: torch.device | str) -> Hints:
        return Hints(
            self.color.to(device),
            self.mask.to(device),
            None if self.regions is None else self.regions.to(device),
        )

    def __len__(self) -> int:
        return self.color.shape[0]


@dataclass
class ModelInfo:
    """Static facts about a registered model that protocols and reports need without loading it."""

    name: str
    display_name: str
    hint_kind: HintKind
    labels: list[str] = field(default_factory=list)

    @property
    def conditional(self) -> bool:
        return self.hint_kind is not HintKind.NONE

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "hint_kind": self.hint_kind.value,
            "labels": list(self.labels),
            "conditional": self.conditional,
        }
