"""Table 1 and the `--compare` table on the console: rich tables on a terminal; Markdown, one line per row
and never wrapped, into a pipe or a file (`colorbench run … | tee log`, `> log`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from colorbench.reports.table_specs import compare_table_spec, table1_spec
from colorbench.reports.tables import TableSpec, cell_text, to_markdown


def console_specs(results: Mapping[str, Any]) -> list[TableSpec]:
    """The tables a run prints: Table 1 and, with --compare, the paired comparisons ([] without Table 1)."""
    res = results.get("results", {})
    opts = results.get("provenance", {}).get("options", {})
    if "table1" not in res:
        return []
    specs = [table1_spec(res["table1"], opts), compare_table_spec(res["table1"], opts)]
    return [s for s in specs if s is not None]


def rich_table(spec: TableSpec, title: str | None = None) -> Table:
    """A TableSpec as a rich table: best cells bold, reference rows italic and dim, blocks separated."""
    table = Table(title=title or spec.title, caption=spec.notes[0] if spec.notes else None)
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
            text = escape(cell_text(cell, col)) if cell is not None else ""
            style = "bold" if cell is not None and cell.bold else ("italic dim" if row.reference else "")
            cells.append(f"[{style}]{text}[/{style}]" if style else text)
        table.add_row(*cells)
    return table


def skipped_table(results: Mapping[str, Any]) -> Table:
    """What is printed when no Table 1 was computed: the skipped protocols and why."""
    table = Table(title="colorbench: no Table 1 was computed")
    table.add_column("skipped protocols")
    for name, why in sorted(results.get("skipped", {}).items()):
        table.add_row(f"{name}: {why}")
    return table


def print_summary(results: Mapping[str, Any], stream: IO[str]) -> None:
    """Table 1 (titled with the dataset) and the comparisons on `stream`: rich tables on a terminal, else
    Markdown, whose rows stay whole however long."""
    specs = console_specs(results)
    dataset = results.get("results", {}).get("table1", {}).get("dataset")
    console = Console(file=stream)
    if console.is_terminal:
        if not specs:
            console.print(skipped_table(results))
        for k, spec in enumerate(specs):
            console.print(rich_table(spec, title=f"{spec.title} — {dataset}" if k == 0 else None))
        return
    if not specs:
        stream.write("no Table 1 was computed: " + "; ".join(
            f"{name}: {why}" for name, why in sorted(results.get("skipped", {}).items())) + "\n")
    for k, spec in enumerate(specs):
        stream.write(to_markdown(replace(spec, title=f"{spec.title} — {dataset}") if k == 0 else spec) + "\n")
    stream.flush()
