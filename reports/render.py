"""The report stage: protocols over a run directory's records → tables/*.md|tex|csv, figures/*.png,
results.json and report.md; plus the rich summary the CLI prints. Never imports models or the engine.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from colorbench.protocols.compare import check_compare
from colorbench.protocols.options import resolve_options
from colorbench.protocols.run_protocols import compute_all, load_run
from colorbench.protocols.selection import display_name, is_conditional, table1_variants
from colorbench.reports.figures import fig5_segment_ablation, fig12_hint_sweep
from colorbench.reports.image_grids import guidance_strip, qualitative_grid
from colorbench.reports.policy_figure import fig_hint_policies
from colorbench.reports.results_json import build_results, write_results
from colorbench.reports.table_specs import table1_spec
from colorbench.reports.tables import TableSpec, cell_text, to_csv, to_latex, to_markdown
from rich.table import Table

from colorbench.atomic import atomic_write_text
from colorbench.records import load_npz
from colorbench.registry import PROTOCOLS


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


def write_mosaics(run_dir: Path, run: Mapping[str, Any], opts: Mapping[str, Any]) -> list[Path]:
    """The Pillow mosaics from samples/*.npz (no protocol result needed): a guidance strip per conditional
    variant, then the Fig. 3 grid; → their paths."""
    fig_dir = run_dir / "figures"
    dataset = str(run.get("dataset", {}).get("name", ""))
    variants = run.get("variants", {})
    paths = []
    grid: list[tuple[str, dict]] = []
    for v in table1_variants(variants):
        path = run_dir / "samples" / f"{v}.npz"
        if not path.exists():
            continue
        samples = load_npz(path)
        name = display_name(v, variants[v])
        grid.append((name, samples))
        if is_conditional(variants[v]) and samples["outputs"].shape[1] > 1:
            paths.append(
                guidance_strip(
                    samples,
                    fig_dir / f"guidance_{v}.png",
                    steps=int(opts["strip_steps"]),
                    title=f"{name} on {dataset}: guidance per interaction step",
                )
            )
    if grid:
        paths.append(
            qualitative_grid(
                grid,
                fig_dir / "fig3_qualitative.png",
                n=int(opts["qualitative_n"]),
                title=f"{dataset}: all models at equal hints",
            )
        )
    return paths


def report_markdown(
    run: Mapping[str, Any], specs: list[TableSpec], figures: list[Path], run_dir: Path
) -> str:
    """report.md: every table and figure of the run on one page, with its provenance line."""
    ds = run.get("dataset", {})
    heading = (
        f"# colorbench report — {ds.get('name')} ({ds.get('split', 'test')}, {ds.get('n_images')} images, "
        f"{ds.get('size')} px)"
    )
    stamp = (
        f"config {str(run.get('config_fingerprint'))[:12]} · colorbench "
        f"{run.get('versions', {}).get('colorbench')} · git {str(run.get('git') or 'n/a')[:12]} · "
        f"dataset {str(ds.get('fingerprint'))[:12]}"
    )
    lines = [heading, "", stamp, ""]
    for spec in specs:
        lines += [to_markdown(spec), ""]
    for fig in figures:
        lines += [f"![{fig.stem}]({fig.relative_to(run_dir).as_posix()})", ""]
    return "\n".join(lines).rstrip() + "\n"


def render_report(run_dir: str | Path, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Compute every protocol from the cached records and write tables, figures, results.json, report.md.

    Returns {"paths": {"tables": [...], "figures": [...], "results": path, "report": path},
    "results": the results.json document}. Zero forward passes: only records, features and samples are read.
    """
    run_dir = Path(run_dir)
    # Everything is checked before the first file is written: a bad records.csv or --compare leaves the old
    # tables and figures as they were instead of half of them replaced.
    records, run = load_run(run_dir)
    check_compare(resolve_options(options)["compare"], run["variants"])
    # The mosaics need only run.json and the samples, so they are composed in a worker thread from the
    # start, while the protocols, tables and plots run here: Pillow's PNG encoder and numpy's copies
    # release the GIL, so on two cores they cost little wall time. Each library stays in one thread.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="colorbench-mosaics") as pool:
        mosaics = pool.submit(write_mosaics, run_dir, run, resolve_options(options))
        computed = compute_all(run_dir, options=options, loaded=(records, run))
        opts = computed["options"]
        specs = table_specs(computed["results"], opts)
        tables = write_tables(specs, run_dir / "tables")
        figures = write_plots(run_dir, run, computed["results"]) + mosaics.result()
    results = build_results(computed, run)
    results_path = write_results(run_dir / "results.json", results)
    report_path = run_dir / "report.md"
    atomic_write_text(report_path, report_markdown(run, specs, figures, run_dir))
    return {
        "paths": {"tables": tables, "figures": figures, "results": results_path, "report": report_path},
        "results": results,
    }


def summary_table(results: Mapping[str, Any]) -> Table:
    """Table 1 of a results.json document as a rich table (best per column and block in bold)."""
    res = results.get("results", {})
    opts = results.get("provenance", {}).get("options", {})
    if "table1" not in res:
        table = Table(title="colorbench: no Table 1 was computed")
        table.add_column("skipped protocols")
        for name, why in sorted(results.get("skipped", {}).items()):
            table.add_row(f"{name}: {why}")
        return table
    spec = table1_spec(res["table1"], opts)
    table = Table(
        title=f"{spec.title} — {res['table1'].get('dataset')}", caption=spec.notes[0] if spec.notes else None
    )
    for col in spec.columns:
        table.add_column(col.header, justify={"l": "left", "r": "right", "c": "center"}[col.align])
    prev = None
    for row in spec.rows:
        if prev is not None and row.block != prev:
            table.add_section()
        prev = row.block
        cells = []
        for col in spec.columns:
            cell = row.cells.get(col.key)
            text = cell_text(cell, col) if cell is not None else ""
            style = "bold" if cell is not None and cell.bold else ("italic dim" if row.reference else "")
            cells.append(f"[{style}]{_rich_escape(text)}[/{style}]" if style else _rich_escape(text))
        table.add_row(*cells)
    return table


def _rich_escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
