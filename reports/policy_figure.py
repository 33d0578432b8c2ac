"""The hint_policy figure: mean PSNR against the number of hints n, one line per policy, one panel per model
(matplotlib Agg, no pyplot state)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from colorbench.reports.figures import save

# One style per policy in every panel: the oracle on top in black, the model's own policy bold red.
POLICY_STYLES: dict[str, dict[str, Any]] = {
    "oracle": {"color": "#000000", "ls": "--", "lw": 1.4},
    "own": {"color": "#d62728", "ls": "-", "lw": 2.2},
    "guided": {"color": "#d62728", "ls": "-", "lw": 2.2},
    "learned": {"color": "#9467bd", "ls": "-", "lw": 1.4},
    "area": {"color": "#ff7f0e", "ls": ":", "lw": 1.8},
    "random": {"color": "#7f7f7f", "ls": "-", "lw": 1.4},
    "user": {"color": "#1f77b4", "ls": "-", "lw": 1.4},
}


def fig_hint_policies(result: Mapping[str, Any], path: str | Path, max_n: int | None = None) -> Path:
    """PSNR(n), n = 0..max_n (default Nc), of every policy of every model in result["variants"]; a policy
    identical to another (e.g. area when the model's priority is by area) is drawn as that one's marker."""
    variants = result.get("variants") or {}
    if not variants:
        raise ValueError("hint_policy result has no variants to plot")
    cols = min(len(variants), 4)
    rows = -(-len(variants) // cols)
    fig = Figure(figsize=(3.6 * cols, 3.2 * rows + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False, sharey=False)).ravel()
    top = int(result.get("nc", 30)) if max_n is None else max_n
    for ax, entry in zip(axes, variants.values()):
        n = np.arange(top + 1)
        for name, pol in entry["policies"].items():
            style = dict(POLICY_STYLES.get(name, {"color": "#17becf", "ls": "-", "lw": 1.4}))
            label = name + (f" (×{pol['orders']})" if pol.get("orders", 1) > 1 else "")
            if pol.get("same_as") and name not in ("own", "guided", "user"):
                style |= {"ls": "none", "marker": "o", "ms": 3.5, "mfc": "none"}
                label += f" = {pol['same_as']}"
            ax.plot(n, pol["psnr_by_n"][: top + 1], label=label, **style)
        ax.set_title(entry["name"], fontsize=10)
        ax.set_xlabel("number of hints n")
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    for ax in axes[len(variants):]:
        ax.set_visible(False)
    fig.suptitle(f"{result.get('dataset')}: PSNR against hints under each hint policy", fontsize=11)
    return save(fig, path)
