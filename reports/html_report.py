"""report.html: one self-contained page per run folder — every table, every figure, and an image browser
(a sortable per-image table; a click opens the image's sketch, ground truth and each model's outputs and
hints at n = 0..12). Rendered with Jinja2 from what the report already has: the protocol tables, the
figure files just written, records.csv and samples/*.npz. No network: styles, script, data and pictures
are inline, and the page's Content-Security-Policy forbids any request.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from colorbench.atomic import atomic_write_text
from colorbench.defaults import EVAL
from colorbench.hint_counts import BoundedGeometric
from colorbench.protocols.expected import expected_psnr_per_image
from colorbench.protocols.levels import RecordsError, psnr_at, variants_present
from colorbench.protocols.nri import nri_of_variant
from colorbench.protocols.selection import display_name, is_conditional, table1_variants
from colorbench.reports.figure_choice import gain_level, gains
from colorbench.reports.html_pictures import PICTURE_BUDGET
from colorbench.reports.tables import TableSpec, cell_text

TEMPLATES = Path(__file__).parent / "templates"
METRICS = ("psnr0", "eg", "nri", "gain")  # per image and variant, in this order in the page's data


def per_image_numbers(records: pd.DataFrame, run: Mapping[str, Any],
                      threshold: float) -> tuple[list[dict[str, Any]], dict[str, dict[str, list[float | None]]]]:
    """→ (Table 1's variants as [{"label", "name", "conditional", "gain_n"}], image id → {label: [PSNR at
    n = 0, Σ_n G(n)·PSNR(n), NRI, PSNR(gain_n) − PSNR(0)]}), None where a number is not defined (automatic
    models have only the first) or not recorded."""
    infos = run.get("variants", {})
    proto = run.get("protocol", {})
    law = BoundedGeometric(int(proto.get("nc", EVAL.nc)), float(proto.get("p", EVAL.p)))
    present = variants_present(records)
    meta: list[dict[str, Any]] = []
    table: dict[str, dict[str, list[float | None]]] = {}

    def put(label: str, k: int, ids: Sequence[str], values: Sequence[float] | np.ndarray) -> None:
        for image_id, value in zip(ids, values):
            row = table.setdefault(str(image_id), {}).setdefault(label, [None] * len(METRICS))
            row[k] = round(float(value), 3)

    for v in (v for v in table1_variants(infos) if v in present):
        conditional = is_conditional(infos[v])
        meta.append({"label": v, "name": display_name(v, infos[v]), "conditional": conditional,
                     "region": infos[v].get("hint_kind") == "region",
                     "gain_n": gain_level(records, v) if conditional else None})
        try:
            put(v, 0, *psnr_at(records, v, 0))
        except RecordsError:
            continue
        if not conditional:
            continue
        try:  # both need records at every n = 0..Nc
            put(v, 1, *expected_psnr_per_image(records, v, law))
            put(v, 2, *nri_of_variant(records, v, threshold, law.nc))
        except RecordsError:
            pass
        g = gains(records, v)
        put(v, 3, list(g), list(g.values()))
    return meta, table


def _table(spec: TableSpec) -> dict[str, Any]:
    """A TableSpec as the template's rows of {"text", "bold", "italic", "align"} cells."""
    rows, prev = [], None
    for row in spec.rows:
        cells = []
        for col in spec.columns:
            cell = row.cells.get(col.key)
            cells.append({"text": cell_text(cell, col) if cell is not None else "", "align": col.align,
                          "bold": bool(cell is not None and cell.bold),
                          "italic": bool(row.reference and cell is not None and cell.value is not None)})
        rows.append({"cells": cells, "rule": prev is not None and row.block != prev})
        prev = row.block
    return {"name": spec.name, "title": spec.title, "headers": [(c.header, c.align) for c in spec.columns],
            "rows": rows, "notes": spec.notes}


def _figure(path: Path) -> dict[str, str]:
    """A figure file as an inline data URI (its bytes as written: nothing is encoded twice)."""
    mime = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}.get(path.suffix.lower(), "image/png")
    return {"name": path.stem, "uri": f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")}


def sampled_ids(samples: Mapping[str, Mapping[str, np.ndarray]]) -> list[str]:
    """Every image some samples file holds, sorted: the order pictures are given in."""
    return sorted({str(i) for s in samples.values() for i in s["image_ids"]})


@functools.cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template("report.html.j2")


def render_html(run: Mapping[str, Any], specs: Sequence[TableSpec], figures: Sequence[Path],
                per_image: tuple[list[dict[str, Any]], dict[str, dict[str, list[float | None]]]],
                sampled: Sequence[str], encoded: tuple[dict[str, dict[str, Any]], int], threshold: float,
                heading: str, stamp: str, budget: int = PICTURE_BUDGET) -> str:
    """The page's HTML from per_image_numbers(…, threshold), the sampled image ids and their pictures
    (`encoded` = reports.html_pictures.pictures(samples, sampled, budget), made beforehand in worker threads)."""
    meta, numbers = per_image
    pics, used = encoded
    ids = sorted(numbers) or sampled
    images = [{"id": i, "pictured": i in pics, "v": numbers.get(i, {})} for i in ids]
    levels = max((v["levels"] for p in pics.values() for v in p["variants"].values()), default=1)
    data = {"variants": meta, "images": images, "pictures": pics, "levels": levels,
            "nri_threshold": threshold, "nc": int(run.get("protocol", {}).get("nc", EVAL.nc)),
            "dataset": str(run.get("dataset", {}).get("name", ""))}
    return _template().render(
        heading=heading, stamp=stamp, tables=[_table(s) for s in specs], figures=[_figure(f) for f in figures],
        variants=meta, data=data, n_images=len(ids), n_sampled=len(sampled), n_pictured=len(pics),
        budget_mb=budget / 1e6, used_mb=used / 1e6, css=(TEMPLATES / "report.css").read_text(encoding="utf-8"),
        js=(TEMPLATES / "report.js").read_text(encoding="utf-8"))


def write_html(path: Path, html: str) -> Path:
    atomic_write_text(path, html)
    return path
