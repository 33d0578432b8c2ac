"""The names `colorbench check` tracks: the paper's fixed five and `<column>_auto` / `<column>_expected` of any
registered per-image metric (its mean at n = 0 and E_G of it, the numbers of Table 1's ✗ / ✓ rows).

psnr_auto, psnr_expected, nri, fid_auto, fid_expected take their direction from colorbench.metrics.directions
and their default tolerance from TOLERANCES; a registered metric's column takes both from the metric registry
(`metric(..., higher_is_better=..., tolerance=...)`). A name that is neither is unknown: the gate refuses it (exit 2) rather than skip it, since
a typo that is never compared would pass every checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

from colorbench.errors import UsageError
from colorbench.metrics.directions import HIGHER_IS_BETTER, KINDS
from colorbench.metrics.registry import METRICS, Metric

# The fixed five → default tolerance: the change a re-evaluation of the same checkpoint may show.
TOLERANCES: dict[str, float] = {
    "psnr_auto": 0.25,  # dB, n = 0
    "psnr_expected": 0.25,  # dB, E_G[PSNR]
    "nri": 0.5,  # interactions
    "fid_auto": 2.0,
    "fid_expected": 2.0,
}
TRACKED = tuple(TOLERANCES)


@dataclass(frozen=True)
class GateKey:
    """One tracked name. `metric`/`column` are None for the fixed five; `higher_is_better` None = no direction
    (CF: a change either way beyond the tolerance is flagged); `tolerance` None = the registry gives none."""

    name: str
    higher_is_better: bool | None
    tolerance: float | None
    metric: str | None = None
    column: str | None = None
    kind: str = "auto"


def _metric_with_column(column: str) -> Metric | None:
    """The registered per-image metric (PSNR aside) that writes records column `column`, or None."""
    candidates = [column] + [n for n in METRICS.names() if n != column]  # usually the column is the name
    for name in candidates:
        if name not in METRICS or name == "psnr":
            continue
        try:
            m = METRICS.get(name)
        except Exception:  # noqa: BLE001, S112 — a broken plugin is not the metric asked for; others still resolve
            continue
        if not m.dataset_level and column in m.columns:
            return m
    return None


def gate_key(name: str) -> GateKey | None:
    """The GateKey of a tracked name, None if no fixed metric nor registered column is called that."""
    if name in TOLERANCES:
        return GateKey(name, HIGHER_IS_BETTER[name], TOLERANCES[name])
    column, _, kind = name.rpartition("_")
    if kind not in KINDS or not column:
        return None
    m = _metric_with_column(column)
    if m is None:
        return None
    j = m.columns.index(column)
    tol = m.tolerance[j] if m.tolerance else None
    return GateKey(name, m.higher_is_better[j], tol, m.name, column, kind)


def known_key(name: str, what: str) -> GateKey:
    """gate_key(name), or a UsageError naming `what` (the file field or flag) and what can be tracked."""
    key = gate_key(name)
    if key is None:
        raise UsageError(f"{what}: unknown metric {name!r}; {TRACKABLE}")
    return key


TRACKABLE = (f"tracked: {', '.join(TRACKED)}, or COLUMN_auto / COLUMN_expected of a registered per-image metric "
             "(`colorbench metrics`, e.g. ssim_expected, deltae_auto)")


def needed_metrics(names: list[str]) -> list[str]:
    """The registered metrics whose columns the tracked `names` read, in order (check passes them to run)."""
    out: list[str] = []
    for name in names:
        key = gate_key(name)
        if key is not None and key.metric and key.metric not in out:
            out.append(key.metric)
    return out
