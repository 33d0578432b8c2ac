"""A model's calls during evaluation, checked: a plugin's exception or a malformed tensor becomes one ModelError
naming the model, the call and the images; NaN/inf outputs stop the run; outputs outside [-1,1] are counted."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from colorbench.api import Hints
from colorbench.checkpoints import CheckpointError
from colorbench.errors import ModelError, UsageError
from colorbench.evaluation.variants import Variant
from colorbench.model import ColorizerModel


@dataclass
class OutOfRange:
    """Output values outside [-1,1]: how many, of how many computed, and the extremes. They are scored as the
    8-bit image they give (clamped to 0..255), which hides by how much a model overshoots: run.json and the
    run's warnings report them."""

    values: int = 0
    total: int = 0
    lo: float = -1.0
    hi: float = 1.0

    def add(self, count: int, lo: float, hi: float) -> None:
        self.values += count
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)

    def to_array(self) -> np.ndarray:
        return np.asarray([self.values, self.total, self.lo, self.hi], dtype=np.float64)


def images_label(ids: Sequence[str]) -> str:
    """'image a' / 'images a … z (N)': where a model call failed."""
    return f"image {ids[0]}" if len(ids) == 1 else f"images {ids[0]} … {ids[-1]} ({len(ids)})"


def _origin(model: str) -> str:
    from colorbench.registry import MODELS

    try:
        return MODELS.origin(model)
    except Exception:  # noqa: BLE001 — only a label for a message
        return "?"


class CheckedModel:
    """One variant's model, every call checked. `where` names the images being computed (for messages);
    `out_of_range` counts the outputs outside [-1,1] since it was last reset."""

    def __init__(self, variant: Variant, model: ColorizerModel) -> None:
        self.variant, self.model = variant, model
        self.builtin = type(model).__module__.startswith("colorbench.")  # its errors are bugs, not the user's
        self.origin = _origin(variant.model)
        self.where = "its first batch"
        self.out_of_range = OutOfRange()

    def _fault(self, text: str) -> ModelError:
        return ModelError(f"model {self.variant.label!r} ({self.origin}) {text}")

    def call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args), a call into the model's code. A plugin's exception becomes one ModelError naming the model,
        the call and the images (its traceback under --debug); colorbench's own models' errors stay bugs."""
        try:
            return fn(*args)
        except (UsageError, MemoryError):
            raise
        except Exception as exc:
            if self.builtin:
                raise
            raise self._fault(f"raised {type(exc).__name__} in {what} on {self.where}: {exc}") from exc

    def colorize(self, x: torch.Tensor, c: torch.Tensor, m: torch.Tensor, r: torch.Tensor | None) -> torch.Tensor:
        """colorize(x, (c, m, r)) → float32 [N,3,H,W], refusing (ModelError) anything else it returns."""
        y = self.call("colorize", self.model.colorize, x, Hints(c, m, r))
        self.check_tensor("colorize", y, (x.shape[0], 3, *x.shape[-2:]), "[B,3,H,W] in [-1,1]")
        return y.float()

    def propose_regions(self, x: torch.Tensor) -> torch.Tensor:
        """propose_regions(x) → [N,K,H,W] in {0,1}, refusing (ModelError) anything else, NaN among it: argmax-free
        code downstream would otherwise read NaN regions as empty or as one region."""
        r = self.call("propose_regions", self.model.propose_regions, x)
        self.check_tensor("propose_regions", r, None, "one-hot regions [B,Nc,H,W] in {0,1}", floating=False)
        if r.dim() != 4 or r.shape[0] != x.shape[0] or tuple(r.shape[-2:]) != tuple(x.shape[-2:]):
            raise self._fault(f"returned regions of shape {tuple(r.shape)} from propose_regions on {self.where}, "
                              f"expected [{x.shape[0]},Nc,{x.shape[-2]},{x.shape[-1]}] in {{0,1}}")
        if not bool(((r == 0) | (r == 1)).all()):
            bad = "NaN" if bool(torch.isnan(r).any()) else "values other than 0 and 1"
            raise self._fault(f"returned regions holding {bad} from propose_regions on {self.where} (a diverged "
                              "region network?): they cannot be used")
        return r

    def check_tensor(self, what: str, y: Any, shape: tuple[int, ...] | None, expected: str,
                     floating: bool = True) -> None:
        if not isinstance(y, torch.Tensor):
            kind = f"{type(y).__module__}.{type(y).__qualname__}".removeprefix("builtins.")
            raise self._fault(f"returned a {kind} from {what} on {self.where}, expected a torch.Tensor {expected}")
        if shape is not None and tuple(y.shape) != shape:
            raise self._fault(f"returned shape {tuple(y.shape)} from {what} on {self.where}, expected {shape} "
                              f"({expected})")
        if floating and not y.is_floating_point():
            raise self._fault(f"returned {y.dtype} from {what} on {self.where}, expected a floating-point tensor "
                              f"{expected}")

    def check_output(self, y: torch.Tensor) -> None:
        """Refuse NaN/inf outputs of colorize ([N,3,H,W]); count those outside [-1,1] (scored clamped to 0..255,
        as a saved image would be: counted, not hidden)."""
        lo, hi = torch.aminmax(y)  # one pass, no temporary (10× isfinite().all()); NaN propagates into both
        if not (math.isfinite(lo) and math.isfinite(hi)):
            if self.variant.checkpoint is None:
                raise self._fault(f"returned NaN/inf outputs from colorize on {self.where}: fix its code")
            raise CheckpointError(
                f"{self.variant.label} produced NaN/inf outputs with checkpoint {self.variant.checkpoint}: the "
                "checkpoint is broken (diverged training?); retrain it or pass another --checkpoint")
        if lo < -1.0 or hi > 1.0:
            self.out_of_range.add(int(((y < -1.0) | (y > 1.0)).sum()), float(lo), float(hi))
        self.out_of_range.total += y.numel()
