"""The protocol/report options (`colorbench report` flags map onto them 1:1), their defaults being
colorbench.defaults.REPORT_OPTIONS.

`resolve_options` fills defaults and rejects unknown keys, so API and CLI can never disagree.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from colorbench.defaults import REPORT_OPTIONS

DEFAULTS = REPORT_OPTIONS  # colorbench.defaults: every default of colorbench in one module


def resolve_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """DEFAULTS overlaid with the non-None entries of `options`; unknown keys raise ValueError."""
    out = dict(DEFAULTS)
    for key, value in (options or {}).items():
        if key not in DEFAULTS:
            close = difflib.get_close_matches(key, list(DEFAULTS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"unknown report option {key!r}.{hint} Known options: {', '.join(sorted(DEFAULTS))}."
            )
        if value is not None:
            out[key] = value
    if int(out["n_boot"]) < 10:
        raise ValueError(f"n_boot must be at least 10 bootstrap resamples, got {out['n_boot']}")
    if not 0.0 < float(out["ci_level"]) < 1.0:
        raise ValueError(f"ci_level must be in (0, 1), got {out['ci_level']}")
    return out
