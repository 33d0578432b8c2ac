"""Fig. 4 picture of the Dark Snail experiment: sketch, ground truth and regions 1..k for each model.

Draws from the samples.npz of `colorbench.experiments.snail` (never runs a model). Region i is shown
as the ground truth inside S_i on light grey elsewhere, so one sees which object it covers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROW_LABELS = {"guidingpainter": "(a) GuidingPainter", "fixed_nh": "(b) fixed Nh = Nc"}
BACKDROP = np.array([225, 225, 225], dtype=np.uint8)


def region_panel(color: np.ndarray, index_map: np.ndarray, i: int) -> np.ndarray:
    """[H,W,3] uint8: the colour image where index_map == i, light grey elsewhere."""
    inside = (index_map == i)[..., None]
    return np.where(inside, color, BACKDROP).astype(np.uint8)


def snail_figure(samples: Mapping[str, np.ndarray] | str | Path, out_path: str | Path,
                 variants: Sequence[str] | None = None, k: int = 8, image_index: int = 0) -> Path:
    """Write the Fig. 4 grid (one row per variant: sketch, GT, regions 1..k) as PNG; returns the path.

    samples: dict or .npz path with "sketch" [N,H,W] uint8, "color" [N,H,W,3] uint8 and
    "regions/<variant>" [N,H,W] int (pixel value i = region S_i, 1-based). The last panel shows the whole
    partition, each region in its own colour, with the numbers of the regions beyond k that hold pixels.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not isinstance(samples, Mapping):
        from colorbench.evaluation.records import load_npz

        samples = load_npz(samples)
    available = [key.split("/", 1)[1] for key in samples if key.startswith("regions/")]
    variants = list(variants) if variants is not None else sorted(available)
    missing = [v for v in variants if v not in available]
    if missing:
        raise KeyError(f"samples hold regions of {available}, not of {missing}: rerun the snail experiment")
    n_images = samples["sketch"].shape[0]
    if not 0 <= image_index < n_images:
        raise IndexError(f"image_index {image_index} is outside the {n_images} sample images")
    sketch = samples["sketch"][image_index]
    color = samples["color"][image_index]
    cols = 3 + k
    fig, axes = plt.subplots(len(variants), cols, figsize=(1.3 * cols, 1.6 * len(variants)), squeeze=False)
    for row, variant in enumerate(variants):
        index_map = samples[f"regions/{variant}"][image_index]
        panels: list[tuple[np.ndarray, str, dict[str, Any]]] = [
            (sketch, "sketch", {"cmap": "gray", "vmin": 0, "vmax": 255}),
            (color, "ground truth", {}),
        ]
        for i in range(1, k + 1):
            empty = not (index_map == i).any()
            panels.append((region_panel(color, index_map, i), f"S{i}" + (" (empty)" if empty else ""), {}))
        beyond = sorted(int(i) for i in np.unique(index_map) if i > k)
        panels.append((index_map, "all; beyond k: " + (",".join(map(str, beyond[:4])) or "none")
                       + ("…" if len(beyond) > 4 else ""),
                       {"cmap": "tab20", "vmin": 1, "vmax": max(20, int(index_map.max()))}))
        for col, (image, title, kw) in enumerate(panels):
            ax = axes[row, col]
            ax.imshow(image, interpolation="nearest", **kw)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title, fontsize=7)
        axes[row, 0].set_ylabel(ROW_LABELS.get(variant, variant), fontsize=7)
    fig.suptitle("Dark Snail: guided regions in priority order", fontsize=9)
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
