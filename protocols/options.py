"""The one defaults mapping of the protocol/report options (`colorbench report` flags map onto it 1:1).

`resolve_options` fills defaults and rejects unknown keys, so API and CLI can never disagree.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

DEFAULTS: dict[str, Any] = {
    "nri_threshold": None,  # dB; None = the dataset's threshold from run.json (E7.4)
    "compare": None,  # "ours,rtug" or a list of such pairs: paired bootstrap of per-image differences
    "paper_rows": False,  # True = the run's dataset, or a dataset name: the paper's numbers as reference rows
    "seed": 0,  # bootstrap resampling and the Monte-Carlo check draw from this seed
    "n_boot": 1000,  # bootstrap resamples per interval
    "ci_level": 0.95,
    "sweep": None,  # hint counts of Fig. 12; None = run.json protocol.sweep
    "eg_fid": False,  # also report E_G[FID] = Σ G(n)·FID(n) (needs features at every n; off by default)
    "qualitative_n": 6,  # hints per model in the Fig. 3 grid
    "strip_steps": 8,  # guidance steps shown in the Fig. 1/14 strips
    "figure_images": None,  # image ids the strips and Fig. 3 show; None = spread over quantiles (figure_choice)
}


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
