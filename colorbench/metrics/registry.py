"""The metric registry: `@register_metric` and the `colorbench.metrics` entry-point group, like models.

A metric is either per image — a function of the 8-bit output and ground truth, computed by the engine in
the pass that computes PSNR and written as records.csv columns — or dataset-level (FID: one number per set
of images, computed from cached features). This module never imports torch: `colorbench metrics`, the
report and `check` read metric descriptions without it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from colorbench.registry import Registry

DEFAULT_METRICS = ("psnr", "fid")  # the paper's pair: a run without --metrics scores exactly these
# Columns the engine writes for every run whatever the metrics (colorbench.evaluation.records.RECORD_COLUMNS): no metric
# column may take their names.
RESERVED_COLUMNS = ("variant", "model", "dataset", "image_id", "mode", "n", "hint_area", "hint_err", "hint_de", "empty")


@dataclass(frozen=True)
class Metric:
    """One registered metric.

    fn(pred, gt) → [B] or [B, len(columns)] float64, one value per image (per-image metrics only). `pred` and
    `gt` are [B,3,H,W]: uint8 0..255 (`input="uint8"`) or float32 in [-1,1] (`input="signed"`, the same 8-bit
    images mapped back, so every metric sees what PSNR sees: the saved 8-bit output).
    `higher_is_better` has one entry per column; None = no direction (CF: more colourful is not better).
    """

    name: str
    fn: Callable[..., Any] | None
    columns: tuple[str, ...]
    higher_is_better: tuple[bool | None, ...]
    needs_weights: bool = False
    dataset_level: bool = False
    input: Literal["uint8", "signed"] = "uint8"
    headers: tuple[str, ...] = ()  # table headers per column (default: the column name)
    description: str = ""
    # `colorbench check`'s default tolerance per column (the change a re-evaluation may show); () = none: a
    # baseline that tracks the column must then state its tolerance (colorbench.gate.keys).
    tolerance: tuple[float, ...] = ()
    # Optional split of fn for the engine: prepare(gt) → per-image tensors [B,...] computed once per image,
    # score(pred, *those) → fn's values; the engine calls it once per hint level without redoing the ground
    # truth's share (its Lab, its SSIM statistics). fn(pred, gt) must equal score(pred, *prepare(gt)).
    prepare: Callable[..., tuple[Any, ...]] | None = None
    score: Callable[..., Any] | None = None
    # needs_weights metrics: () → None when computable here, else the reason (no weights): the run records it
    # and Table 1 shows n/a with it instead of the column.
    availability: Callable[[], str | None] | None = None

    def __call__(self, pred: Any, gt: Any) -> Any:
        """fn(pred, gt): a decorated function stays callable under its own name."""
        if self.fn is None:
            raise TypeError(f"metric {self.name!r} is dataset-level: it has no per-image function")
        return self.fn(pred, gt)

    def describe(self) -> dict[str, Any]:
        """JSON-able description (run.json "metrics", part of the cache key): everything but the function and
        the gate's tolerance, which changes no measured number."""
        return {"name": self.name, "columns": list(self.columns), "higher_is_better": list(self.higher_is_better),
                "headers": list(self.headers or self.columns), "needs_weights": self.needs_weights,
                "dataset_level": self.dataset_level, "input": self.input, "description": self.description}


def _check_metric(name: str, obj: Any) -> None:
    if not isinstance(obj, Metric):
        raise TypeError(f"metric {name!r} ({obj!r}) is not a colorbench Metric: decorate its function with "
                        "colorbench.metrics.registry.metric(...) or register_metric(...)")
    if obj.name != name:
        raise TypeError(f"metric registered as {name!r} calls itself {obj.name!r}; use one name")


METRICS: Registry[Metric] = Registry("metric", "colorbench.metrics", _check_metric)


def metric(name: str, *, higher_is_better: bool | None | Sequence[bool | None], columns: Sequence[str] = (),
           needs_weights: bool = False, dataset_level: bool = False, input: Literal["uint8", "signed"] = "uint8",
           headers: Sequence[str] = (), description: str = "",
           tolerance: float | Sequence[float] = (),
           prepared: tuple[Callable[..., Any], Callable[..., Any]] | None = None,
           availability: Callable[[], str | None] | None = None,
           ) -> Callable[[Callable[..., Any] | None], Metric]:
    """Decorator: the function → a Metric (not registered; point a `colorbench.metrics` entry point at it)."""
    cols = tuple(columns) or (name,)
    hib = tuple(higher_is_better) if isinstance(higher_is_better, (list, tuple)) else (higher_is_better,) * len(cols)
    if len(hib) != len(cols) or (headers and len(headers) != len(cols)):
        raise ValueError(f"metric {name!r}: one higher_is_better (and header) per column {cols}")
    tol = tuple(tolerance) if isinstance(tolerance, (list, tuple)) else (float(tolerance),) * len(cols)
    if tol and (len(tol) != len(cols) or any(not t >= 0 for t in tol)):
        raise ValueError(f"metric {name!r}: one tolerance ≥ 0 per column {cols}, got {tolerance!r}")
    if input not in ("uint8", "signed"):
        raise ValueError(f"metric {name!r}: input must be 'uint8' or 'signed', got {input!r}")
    clash = [c for c in cols if c in RESERVED_COLUMNS or not c.replace("_", "").isalnum()]
    if clash:
        raise ValueError(f"metric {name!r}: column name(s) {clash} are taken or not identifiers")

    def make(fn: Callable[..., Any] | None) -> Metric:
        if fn is None and not dataset_level:
            raise ValueError(f"per-image metric {name!r} needs a function")
        return Metric(name.strip().lower(), fn, cols, hib, needs_weights, dataset_level, input, tuple(headers),
                      description or ((fn.__doc__ or "").strip().split("\n")[0] if fn else ""), tol,
                      *(prepared or (None, None)), availability)

    return make


def register_metric(name: str, **kwargs: Any) -> Callable[[Callable[..., Any] | None], Metric]:
    """`@register_metric("ssim", higher_is_better=True)`: make the Metric and register it under `name`."""

    def do(fn: Callable[..., Any] | None) -> Metric:
        m = metric(name, **kwargs)(fn)
        # A module named by an entry point registers itself on import: keep the entry point's origin, so that
        # this is not reported as one plugin replacing another.
        target = f"{getattr(fn, '__module__', '')}:{getattr(fn, '__name__', '')}"
        origin = METRICS.declared_origin(m.name, target) or f"register_metric() in {getattr(fn, '__module__', '?')}"
        METRICS.register(m.name, m, origin=origin)
        return m

    return do


def resolve_metrics(spec: str | Sequence[str] | None) -> list[str]:
    """'psnr,ssim' → canonical names in the given order (duplicates dropped); None → DEFAULT_METRICS.
    Unknown names raise UnknownNameError (a UsageError) listing the known ones."""
    if spec is None:
        return list(DEFAULT_METRICS)
    return METRICS.resolve_list(spec.split(",") if isinstance(spec, str) else list(spec))


def per_image_metrics(names: Sequence[str]) -> list[Metric]:
    """The per-image Metrics among `names` other than PSNR (the engine computes PSNR on its own path)."""
    metrics = [METRICS.get(n) for n in names]
    return [m for m in metrics if not m.dataset_level and m.name != "psnr"]


def describe_metrics(names: Sequence[str]) -> list[dict[str, Any]]:
    """run.json "metrics": the description of every selected metric, in order; a metric that cannot be
    computed here (its weights are missing) carries "unavailable": the reason, and the engine skips it."""
    out = []
    for n in names:
        m = METRICS.get(n)
        reason = m.availability() if m.availability is not None else None
        out.append(m.describe() | ({"unavailable": reason} if reason else {}))
    return out
