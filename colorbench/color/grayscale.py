"""Grayscale input mode (paper supplement B, Table 4): the network sees L, predicts ab, and every metric sees
the predicted ab recombined with the *input* L.

Input convention (the "sketch" slot of every batch, so the engine and the trainer need no second code path):
  X = L/50 − 1  [B,1,H,W] in [-1,1]   (L of CIE Lab in [0,100], colorbench.color.lab's RTUG/CIC constants)
so X/2 = (L − 50)/100 is exactly RTUG's and CIC's normalised L input. A model in this mode predicts
ab_norm = ab/110 [B,2,H,W] (tanh) and returns `recombine(X, ab_norm)`: RGB [B,3,H,W] in [-1,1] whose L is the
input's. Colours outside the sRGB gamut are brought in by shrinking their chroma (L and hue kept) rather than
by clipping R, G, B, which would move L: the output's L equals the input's up to 8-bit quantisation.
Hints keep their kinds and the `Hints` contract (RGB means); a grayscale model reads their ab (`hint_ab`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from colorbench.api import Hints
from colorbench.color.lab import AB_NORM, L_CENT, lab_to_rgb_unclipped, signed_to_lab

SKETCH, GRAYSCALE = "sketch", "grayscale"
INPUT_MODES = (SKETCH, GRAYSCALE)
_GAMUT_STEPS = 12  # bisection steps of the chroma factor: 1/4096 of the chroma at most is lost


def check_mode(mode: str, what: str = "--input") -> str:
    """`mode` if it is an input mode, else a ValueError naming the known ones."""
    if mode not in INPUT_MODES:
        raise ValueError(f"{what} must be one of {', '.join(INPUT_MODES)}, got {mode!r}")
    return mode


def luminance_input(color: torch.Tensor) -> torch.Tensor:
    """colour [B,3,H,W] RGB in [-1,1] → X = L/50 − 1 [B,1,H,W] in [-1,1] (the grayscale network input)."""
    return signed_to_lab(color.float())[:, :1] / L_CENT - 1.0


def input_lightness(x: torch.Tensor) -> torch.Tensor:
    """X [B,1,H,W] in [-1,1] → L [B,1,H,W] in [0,100]."""
    return ((x.float() + 1.0) * L_CENT).clamp(0.0, 100.0)


def _in_gamut(lab: torch.Tensor) -> torch.Tensor:
    rgb = lab_to_rgb_unclipped(lab)
    return ((rgb >= -1e-4) & (rgb <= 1.0 + 1e-4)).all(dim=1, keepdim=True)


def recombine(x: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor:
    """Input X [B,1,H,W] in [-1,1] + predicted ab_norm [B,2,H,W] (ab/110) → RGB [B,3,H,W] in [-1,1] with L = the
    input's. Out-of-gamut pixels get their ab scaled by the largest factor in [0,1] that fits (found by bisection
    without gradient; the gradient flows through the scaled ab), so hue and L are kept."""
    lum = input_lightness(x)
    ab = ab_norm.float() * AB_NORM
    with torch.no_grad():
        lo = torch.zeros_like(lum)
        hi = torch.ones_like(lum)
        fits = _in_gamut(torch.cat([lum, ab], dim=1))
        lo = torch.where(fits, hi, lo)
        todo = ~fits
        if bool(todo.any()):
            for _ in range(_GAMUT_STEPS):
                mid = (lo + hi) / 2
                ok = _in_gamut(torch.cat([lum, ab * mid], dim=1))
                lo = torch.where(todo & ok, mid, lo)
                hi = torch.where(todo & ~ok, mid, hi)
    rgb = lab_to_rgb_unclipped(torch.cat([lum, ab * lo], dim=1)).clamp(0.0, 1.0)
    return rgb * 2.0 - 1.0


def hint_ab(hints: Hints, like: torch.Tensor) -> torch.Tensor:
    """The ab of the hint colours, ab/110 [B,2,H,W] in ~[-1,1], 0 where the mask is 0 (`like` gives dtype/device).

    Hints are RGB means (region / patch / cell means, as in sketch mode); their ab is the Lab of that mean."""
    mask = hints.mask.to(like)
    return signed_to_lab(hints.color.to(like).float())[:, 1:].to(like) / AB_NORM * mask


def ab_target(color: torch.Tensor) -> torch.Tensor:
    """Ground truth colour [B,3,H,W] in [-1,1] → its ab/110 [B,2,H,W] (the regression target of RTUG's head)."""
    return signed_to_lab(color.float())[:, 1:] / AB_NORM


def config_input(config: Mapping[str, Any] | None) -> str:
    """The input mode a model config (a checkpoint's metadata config) was built for; configs from before the
    grayscale mode have no "input" key and are sketch models."""
    return str((config or {}).get("input", SKETCH))


def supports_grayscale(model_cls: Any) -> bool:
    """True for models whose config has an "input" key (all built-in learned models; not the flat-fill floor)."""
    return "input" in model_cls.default_config()


def mode_labels(labels: list[str], config: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """{"labels": …} without the "-sketch" adaptation labels (RTUG-sketch, CIC-sketch) for a grayscale checkpoint:
    on L those models are run as published; {} for a sketch checkpoint (its labels stay the class's)."""
    if config_input(config) != GRAYSCALE:
        return {}
    return {"labels": [label for label in labels if not label.endswith("-sketch")]}


def grayscale_models() -> list[str]:
    """Registered model names that have a grayscale mode, for messages."""
    from colorbench.registry import MODELS

    return [n for n in MODELS.names() if supports_grayscale(MODELS.get(n))]


def check_variant_inputs(described: Mapping[str, Mapping[str, Any]], models: Mapping[str, Any], mode: str,
                         dataset: str) -> None:
    """Refuse (CheckpointError, exit code 2) every variant whose checkpoint was trained for another input mode
    than the run feeds: a sketch model given L (or the other way round) would run — the shapes may even fit — and
    measure nothing. described: label → Variant.describe(); models: label → model class."""
    from colorbench.checkpoints import CheckpointError

    for label, info in described.items():
        cls = models[label]
        if mode == GRAYSCALE and not supports_grayscale(cls):
            raise CheckpointError(
                f"{label}: {cls.name} has no grayscale mode, and this run feeds grayscale input (L → ab) from "
                f"{dataset!r}; grayscale models: {', '.join(grayscale_models())} — drop {label} from --models "
                "or evaluate with --input sketch")
        trained = config_input(info.get("config"))
        if trained != mode:
            where = info.get("checkpoint") or "its default config"
            train = f"colorbench train {cls.name} --dataset {dataset} --input {mode} --out runs/{cls.name}-{mode}"
            raise CheckpointError(
                f"{label}: checkpoint {where} is a {trained}-mode model (config input {trained!r}), but this run "
                f"feeds {mode} input from {dataset!r}: a {trained} model cannot colorize "
                f"{'L channels' if mode == GRAYSCALE else 'sketches'}. Train a {mode} checkpoint (`{train}`) and "
                f"pass --checkpoint {label}=runs/{cls.name}-{mode}/best.safetensors, or evaluate with --input "
                f"{trained}")
