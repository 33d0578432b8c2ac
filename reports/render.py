"""The report stage: protocols over a run directory's records → tables/*.md|tex|csv, figures/*.png,
results.json and report.md; plus the rich summary the CLI prints. Never imports models or the engine.
"""

from __future__ import annotations

import importlib
import zipfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.table import Table

from colorbench.atomic import atomic_write_text
from colorbench.evaluation.records import load_samples, sample_rows
from colorbench.protocols.compare import check_compare
from colorbench.protocols.options import resolve_options
from colorbench.protocols.run_protocols import compute_all, load_run
from colorbench.protocols.selection import display_name, is_conditional, table1_variants
from colorbench.registry import PROTOCOLS
from colorbench.reports.figure_choice import (
    check_figure_images,
    gain_level,
    gains,
    grid_images,
    psnr_at_n,
    strip_images,
)
from colorbench.reports.figures import fig5_segment_ablation, fig12_hint_sweep
from colorbench.reports.html_pictures import merge_pictures, pictures
from colorbench.reports.html_report import per_image_numbers, render_html, sampled_ids, write_html
from colorbench.reports.image_grids import guidance_strip, qualitative_grid
from colorbench.reports.policy_figure import fig_hint_policies
from colorbench.reports.results_json import build_results, write_results
from colorbench.reports.table_specs import table1_spec
from colorbench.reports.tables import TableSpec, to_csv, to_latex, to_markdown

STRIP_IMAGES = 3  # images per guidance strip
GRID_IMAGES = 4  # rows of Fig. 3


def table_specs(results: Mapping[str, Any], opts: Mapping[str, Any]) -> list[TableSpec]:
    """Every table the protocol results support, in report order: each registered protocol's declared
    `tables` builders (colorbench.protocols.base.Protocol) applied to its result."""
    protocols = {name: PROTOCOLS.get(name) for name in results}
    specs: list[TableSpec] = []
    for name in sorted(results, key=lambda n: (getattr(protocols[n], "table_order", 100), n)):
        for builder in getattr(protocols[name], "tables", ()):
            made = _builder(builder)(results[name], opts)
            specs += [s for s in (made if isinstance(made, list) else [made]) if s is not None]
    return specs


def _builder(ref: Callable[..., Any] | str) -> Callable[..., Any]:
    """A protocol's table builder: the callable itself, or the function a "module:function" names."""
    if callable(ref):
        return ref
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def write_tables(specs: list[TableSpec], out_dir: Path) -> list[Path]:
    """Every spec as .md, .tex and .csv; returns the paths in spec order."""
    texts = {
        out_dir / f"{spec.name}.{ext}": render(spec)
        for spec in specs
        for ext, render in (("md", to_markdown), ("tex", to_latex), ("csv", to_csv))
    }
    # Each atomic write waits on an fsync; issued together they overlap (~4× faster on a slow disk).
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(texts)))) as pool:
        list(pool.map(lambda item: atomic_write_text(*item), texts.items()))
    return list(texts)


def write_plots(run_dir: Path, run: Mapping[str, Any], results: Mapping[str, Any]) -> list[Path]:
    """The matplotlib figures, Fig. 12, the hint-policy curves and Fig. 5 (when the results hold them); → their
    paths."""
    fig_dir = run_dir / "figures"
    dataset = str(run.get("dataset", {}).get("name", ""))
    paths = []
    if "hint_sweep" in results and results["hint_sweep"]["variants"]:
        paths.append(fig12_hint_sweep([(dataset, results["hint_sweep"])], fig_dir / "fig12_hint_sweep.png"))
    if (results.get("hint_policy") or {}).get("variants"):
        paths.append(fig_hint_policies(results["hint_policy"], fig_dir / "hint_policies.png"))
    seg = results.get("segment_ablation") or {}
    if seg.get("variants"):
        infos = run.get("variants", {})
        named = {
            v: dict(c) | {"name": display_name(v, infos.get(v, {})), "model": infos.get(v, {}).get("model")}
            for v, c in seg["variants"].items()
        }
        paths.append(
            fig5_segment_ablation({"variants": named}, fig_dir / "fig5_segment_ablation.png", dataset)
        )
    return paths


def load_run_samples(run_dir: Path, run: Mapping[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """samples/<variant>.npz of Table 1's variants that have one, in table order, hints compact
    (records.load_samples: the images drawn are expanded with records.sample_rows)."""
    return {v: load_samples(run_dir / "samples" / f"{v}.npz", expand=False) for v in sample_index(run_dir, run)}


def sample_index(run_dir: Path, run: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What the samples files of Table 1's variants hold, without decompressing their pictures: variant →
    {"image_ids": [...], "levels": outputs per image (n = 0..levels−1), "arrays": their names}. The
    pictures themselves are loaded in the report's worker thread, off the critical path."""
    out = {}
    for v in table1_variants(run.get("variants", {})):
        path = run_dir / "samples" / f"{v}.npz"
        if not path.exists():
            continue
        with zipfile.ZipFile(path) as zf, zf.open("outputs.npy") as fh:
            names = {n.removesuffix(".npy") for n in zf.namelist()}
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape = read(fh)[0]
        with np.load(path, allow_pickle=False) as z:
            ids = [str(i) for i in z["image_ids"]]
        out[v] = {"image_ids": ids, "levels": int(shape[1]), "arrays": names}
    return out


def choose_figure_images(records: pd.DataFrame, run: Mapping[str, Any], index: Mapping[str, Mapping[str, Any]],
                         opts: Mapping[str, Any]) -> dict[str, Any]:
    """The images each mosaic shows (reports.figure_choice), from `sample_index`: {"strips": {variant: ids},
    "grid": ids, "strip_notes" / "grid_notes": {variant: {id: line}} / {id: line} printed under the ids}."""
    chosen = _id_list(opts.get("figure_images"))
    variants = run.get("variants", {})
    strips = {v: strip_images(records, v, s["image_ids"], STRIP_IMAGES, chosen)
              for v, s in index.items() if is_conditional(variants[v])}
    common = list(next(iter(index.values()))["image_ids"]) if index else []
    for s in index.values():
        common = [i for i in common if i in set(s["image_ids"])]
    n = int(opts["qualitative_n"])
    shown = []
    for v, s in index.items():
        mode = "equalized" if s["levels"] > 1 and "equalized_outputs" in s["arrays"] else "native"
        shown.append((v, min(n, s["levels"] - 1), mode))
    grid = grid_images(records, shown, common, GRID_IMAGES, chosen)
    # Each image's number the rule spread them over, printed under its id so a reader sees the spread.
    strip_notes = {}
    for v, ids in strips.items():
        g = gains(records, v)
        strip_notes[v] = {i: f"gain 0→{gain_level(records, v)}: {g[i]:+.2f} dB" for i in ids if i in g}
    per = [psnr_at_n(records, v, n, mode) for v, n, mode in shown]
    grid_notes = {i: f"mean PSNR {np.mean([p[i] for p in per]):.2f} dB" for i in grid
                  if per and all(i in p for p in per)}
    return {"strips": strips, "grid": grid, "strip_notes": strip_notes, "grid_notes": grid_notes}


def _id_list(value: Any) -> list[str]:
    """`figure_images` as given (a comma-separated string or a list) → ids."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(i).strip() for i in items if str(i).strip()]


def write_mosaics(run_dir: Path, run: Mapping[str, Any], opts: Mapping[str, Any],
                  samples: Mapping[str, Mapping[str, Any]], choice: Mapping[str, Any]) -> list[Path]:
    """The Pillow mosaics from samples/*.npz (no protocol result needed): a guidance strip per conditional
    variant, then the Fig. 3 grid, of the images `choice` names (choose_figure_images); → their paths.
    `samples` as load_run_samples gives them."""
    fig_dir = run_dir / "figures"
    dataset = str(run.get("dataset", {}).get("name", ""))
    variants = run.get("variants", {})
    paths = []
    grid: list[tuple[str, Mapping[str, Any]]] = []
    for v, s in samples.items():
        name = display_name(v, variants[v])
        grid.append((name, sample_rows(s, choice["grid"])))
        if is_conditional(variants[v]) and s["outputs"].shape[1] > 1:
            paths.append(
                guidance_strip(
                    sample_rows(s, choice["strips"][v]),
                    fig_dir / f"guidance_{v}.png",
                    steps=int(opts["strip_steps"]),
                    title=f"{name} on {dataset}: guidance per interaction step",
                    image_ids=choice["strips"].get(v),
                    notes=choice["strip_notes"].get(v),
                )
            )
    if grid:
        paths.append(
            qualitative_grid(
                grid,
                fig_dir / "fig3_qualitative.png",
                n=int(opts["qualitative_n"]),
                title=f"{dataset}: all models at equal hints",
                image_ids=choice["grid"],
                notes=choice["grid_notes"],
            )
        )
    return paths


def report_heading(run: Mapping[str, Any]) -> tuple[str, str]:
    """The report's title line and its provenance stamp (config, versions, git, dataset fingerprint)."""
    ds = run.get("dataset", {})
    heading = (
        f"colorbench report — {ds.get('name')} ({ds.get('split', 'test')}, {ds.get('n_images')} images, "
        f"{ds.get('size')} px)"
    )
    stamp = (
        f"config {str(run.get('config_fingerprint'))[:12]} · colorbench "
        f"{run.get('versions', {}).get('colorbench')} · git {str(run.get('git') or 'n/a')[:12]} · "
        f"dataset {str(ds.get('fingerprint'))[:12]}"
    )
    return heading, stamp


def report_markdown(
    run: Mapping[str, Any], specs: list[TableSpec], figures: list[Path], run_dir: Path
) -> str:
    """report.md: every table and figure of the run on one page, with its provenance line."""
    heading, stamp = report_heading(run)
    lines = [f"# {heading}", "", stamp, ""]
    for spec in specs:
        lines += [to_markdown(spec), ""]
    for fig in figures:
        lines += [f"![{fig.stem}]({fig.relative_to(run_dir).as_posix()})", ""]
    return "\n".join(lines).rstrip() + "\n"


def render_report(run_dir: str | Path, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Compute every protocol from the cached records and write tables, figures, results.json, report.md
    and report.html.

    Returns {"paths": {"tables": [...], "figures": [...], "results": path, "report": path, "html": path},
    "results": the results.json document}. Zero forward passes: only records, features and samples are read.
    """
    run_dir = Path(run_dir)
    # Everything is checked before the first file is written: a bad records.csv, --compare or
    # --figure-images leaves the old tables and figures as they were instead of half of them replaced.
    records, run = load_run(run_dir)
    resolved = resolve_options(options)
    check_compare(resolved["compare"], run["variants"])
    index = sample_index(run_dir, run)
    check_figure_images(_id_list(resolved["figure_images"]), {v: s["image_ids"] for v, s in index.items()})
    choice = choose_figure_images(records, run, index, resolved)
    samples = load_run_samples(run_dir, run)  # compact: ~0.03 s for 32 images at 128 px
    # The pictures (mosaics, report.html's) need only run.json and the samples, so they are drawn and
    # encoded in worker threads from the start (the mosaics in one, report.html's pictures in two
    # more), while the protocols, tables and plots run here: Pillow's encoders and numpy's copies release
    # the GIL, so on two cores they cost little wall time.
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="colorbench-pictures") as pool:
        mosaics_job = pool.submit(write_mosaics, run_dir, run, resolved, samples, choice)
        order = sampled_ids(samples)
        picture_jobs = [pool.submit(pictures, samples, order[k::2]) for k in range(2)]
        computed = compute_all(run_dir, options=options, loaded=(records, run))
        opts = computed["options"]
        specs = table_specs(computed["results"], opts)
        tables = write_tables(specs, run_dir / "tables")
        plots = write_plots(run_dir, run, computed["results"])
        threshold = float(opts.get("nri_threshold") or run.get("dataset", {}).get("nri_threshold") or 0.0)
        numbers = per_image_numbers(records, run, threshold)
        figures = plots + mosaics_job.result()
        encoded = merge_pictures([job.result() for job in picture_jobs], order)
    results = build_results(computed, run)
    results_path = write_results(run_dir / "results.json", results)
    report_path = run_dir / "report.md"
    heading, stamp = report_heading(run)
    atomic_write_text(report_path, report_markdown(run, specs, figures, run_dir))
    html_path = write_html(run_dir / "report.html", render_html(
        run, specs, figures, numbers, order, encoded, threshold, heading, stamp))
    return {
        "paths": {"tables": tables, "figures": figures, "results": results_path, "report": report_path,
                  "html": html_path},
        "results": results,
    }


def summary_table(results: Mapping[str, Any]) -> Table:
    """Table 1 of a results.json document as a rich table (best per column and block in bold)."""
    from colorbench.reports.console import rich_table, skipped_table

    res = results.get("results", {})
    opts = results.get("provenance", {}).get("options", {})
    if "table1" not in res:
        return skipped_table(results)
    spec = table1_spec(res["table1"], opts)
    return rich_table(spec, title=f"{spec.title} — {res['table1'].get('dataset')}")
