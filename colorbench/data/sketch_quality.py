"""Sketch quality of a prepared set: each sketch's share of line pixels, and the sketches that are nearly empty
(outlines lost, e.g. pale lines on white) or nearly solid (dark fills turned black), which `prepare` lists.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LINE_BELOW = 128  # a sketch pixel darker than this is a line (sketches are black lines on white)
NEARLY_EMPTY = 0.02  # share of line pixels under which a sketch carries almost no outline
NEARLY_SOLID = 0.40  # share above which it is mostly black: dark fills, not lines
DOCS = "docs/own-data.md, section 'Sketch quality'"


def line_share(sketch: np.ndarray) -> float:
    """Share of line pixels of one sketch, uint8 [H,W] (0 = line, 255 = paper), rounded to 4 digits."""
    return round(float(np.mean(sketch < LINE_BELOW)), 4)


def quality_section(images: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The manifest's "sketch_quality": the rule and the ids of nearly empty and nearly solid sketches."""
    shares = {i: e["sketch_line_share"] for i, e in images.items() if "sketch_line_share" in e}
    return {
        "line_pixel": f"sketch value < {LINE_BELOW}",
        "nearly_empty_below": NEARLY_EMPTY,
        "nearly_solid_above": NEARLY_SOLID,
        "nearly_empty": sorted(i for i, s in shares.items() if s < NEARLY_EMPTY),
        "nearly_solid": sorted(i for i, s in shares.items() if s > NEARLY_SOLID),
        "median_line_share": round(float(np.median(list(shares.values()))), 4) if shares else None,
    }


def quality_warning(section: dict[str, Any], n_images: int, manifest: str) -> str | None:
    """One line when some sketches are nearly empty or nearly solid, else None."""
    empty, solid = len(section["nearly_empty"]), len(section["nearly_solid"])
    if not empty and not solid:
        return None
    return (f"{empty + solid} of {n_images} sketches look unusable: {empty} nearly empty (< {NEARLY_EMPTY:.0%} line "
            f"pixels), {solid} nearly solid (> {NEARLY_SOLID:.0%}); their ids are under \"sketch_quality\" in "
            f"{manifest}. What to do: {DOCS}")
