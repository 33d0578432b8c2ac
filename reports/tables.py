"""Tables as data (TableSpec: columns, rows of cells, blocks, notes) and their Markdown, LaTeX (booktabs)
and CSV renderings. Best value per column and block in bold; intervals always written "20.88 [20.57, 21.19]".

Deterministic: the same spec renders to the same bytes (no dates, fixed float formatting, "\n" endings).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Better = Literal["max", "min"]


@dataclass
class Column:
    """key: cell lookup; header: shown text (may hold ↑ ↓ ✓ ✗); better: which way is best (None = no bold);
    numeric: False for label columns (one CSV field instead of value, interval, count and best flag)."""

    key: str
    header: str
    better: Better | None = None
    decimals: int = 2
    align: Literal["l", "r", "c"] = "r"
    numeric: bool = True
    show_n: bool = False  # append "(N=…)": FID cells always show their image count


@dataclass
class Cell:
    """A number with optional interval [low, high] and count n, or plain text (labels, "n/a", "–")."""

    value: float | None = None
    low: float | None = None
    high: float | None = None
    n: int | None = None
    text: str | None = None
    marks: str = ""  # footnote markers appended to the rendered cell, e.g. "†"
    bold: bool = False

    @staticmethod
    def label(text: str) -> Cell:
        return Cell(text=text)


@dataclass
class Row:
    cells: dict[str, Cell]
    block: str = ""  # rows of one block are compared for bold; blocks are separated by a rule
    reference: bool = False  # published numbers, shown in italics, never bold


@dataclass
class TableSpec:
    name: str  # file stem: tables/<name>.md|tex|csv
    title: str
    columns: list[Column]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------- bold
def mark_best(spec: TableSpec) -> TableSpec:
    """Bold the best measured value of every `better` column within each block (ties at the shown precision
    all bold; a block with a single value gets none). Reference rows neither compete nor get bold."""
    for col in spec.columns:
        if col.better is None:
            continue
        blocks: dict[str, list[Cell]] = {}
        for row in spec.rows:
            cell = row.cells.get(col.key)
            if cell is not None and not row.reference and cell.value is not None:
                blocks.setdefault(row.block, []).append(cell)
        for cells in blocks.values():
            if len(cells) < 2:  # a lone value is not "best" of anything
                continue
            shown = [round(c.value, col.decimals) for c in cells]  # type: ignore[arg-type]
            best = max(shown) if col.better == "max" else min(shown)
            for c, s in zip(cells, shown):
                c.bold = s == best
    return spec


# --------------------------------------------------------------------------------------------- text
def format_number(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def cell_text(cell: Cell, col: Column, plain: bool = False) -> str:
    """ "20.88 [20.57, 21.19]", "24.46 (N=512)", or the cell's text; no bold markup."""
    if cell.value is None:
        return (cell.text if cell.text is not None else "–") + ("" if plain else cell.marks)
    out = format_number(cell.value, col.decimals)
    if cell.low is not None and cell.high is not None:
        out += f" [{format_number(cell.low, col.decimals)}, {format_number(cell.high, col.decimals)}]"
    if col.show_n and cell.n is not None:
        out += f" (N={cell.n})"
    return out + ("" if plain else cell.marks)


def _styled_cells(
    row: Row, columns: list[Column], escape: Callable[[str], str], bold: str, italic: str
) -> list[str]:
    """A row's cell texts, escaped, then put in the `bold` (best) or `italic` (reference) "{}" template."""
    parts = []
    for col in columns:
        cell = row.cells.get(col.key, Cell())
        text = escape(cell_text(cell, col))
        if cell.bold:
            text = bold.format(text)
        elif row.reference and cell.value is not None:  # text such as "–" is no published number
            text = italic.format(text)
        parts.append(text)
    return parts


def to_markdown(spec: TableSpec) -> str:
    """GitHub-flavoured Markdown table with the title as a heading and notes below."""
    lines = [f"### {spec.title}", ""]
    lines.append("| " + " | ".join(_md_escape(c.header) for c in spec.columns) + " |")
    lines.append(
        "|" + "|".join({"l": ":---", "r": "---:", "c": ":---:"}[c.align] for c in spec.columns) + "|"
    )
    for row in spec.rows:
        lines.append("| " + " | ".join(_styled_cells(row, spec.columns, _md_escape, "**{}**", "*{}*")) + " |")
    if spec.notes:
        lines.append("")
        lines += [f"{_md_escape(note)}  " for note in spec.notes]
    return "\n".join(lines).rstrip() + "\n"


def _md_escape(text: str) -> str:
    # "|" would split a cell; "*" (as in P*(Δ ≤ 0)) would start emphasis.
    return text.replace("|", "\\|").replace("*", "\\*")


_TEX_SPECIAL = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}
_TEX_SYMBOLS = {
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "✓": r"$\checkmark$",
    "✗": r"$\times$",
    "–": "--",
    "<": r"$<$",
    ">": r"$>$",
    "|": r"$|$",
    "†": r"$^\dagger$",
    "‡": r"$^\ddagger$",
    "Σ": r"$\Sigma$",
    "τ": r"$\tau$",
    "≥": r"$\geq$",
    "·": r"$\cdot$",
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
    "…": r"\ldots{}",
    "→": r"$\rightarrow$",
    "×": r"$\times$",
    "≈": r"$\approx$",
    "—": "---",
}


def tex_escape(text: str) -> str:
    """Escape LaTeX specials and map the few Unicode symbols tables use to math-mode commands."""
    out = []
    for ch in text:
        if ch in _TEX_SPECIAL:
            out.append(_TEX_SPECIAL[ch])
        elif ch in _TEX_SYMBOLS:
            out.append(_TEX_SYMBOLS[ch])
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append("?")  # pdflatex without extra packages cannot typeset it; never emit raw Unicode
    return "".join(out)


def to_latex(spec: TableSpec) -> str:
    """A booktabs `tabular` (needs \\usepackage{booktabs,amssymb}), notes as small paragraphs after it."""
    lines = [
        f"% {tex_escape(spec.title)}",
        "% requires \\usepackage{booktabs} and \\usepackage{amssymb}",
        "\\begin{tabular}{" + "".join(c.align for c in spec.columns) + "}",
        "\\toprule",
        " & ".join(tex_escape(c.header) for c in spec.columns) + " \\\\",
        "\\midrule",
    ]
    prev_block: str | None = None
    for row in spec.rows:
        if prev_block is not None and row.block != prev_block:
            lines.append("\\midrule")
        prev_block = row.block
        parts = _styled_cells(row, spec.columns, tex_escape, "\\textbf{{{}}}", "\\textit{{{}}}")
        lines.append(" & ".join(parts) + " \\\\")
    lines.append("\\bottomrule")
    lines.append("\\end{tabular}")
    if spec.notes:
        lines.append("\\par\\smallskip{\\footnotesize")
        lines += [tex_escape(note) + "\\par" for note in spec.notes]
        lines.append("}")
    return "\n".join(lines) + "\n"


def to_csv(spec: TableSpec) -> str:
    """Long-form CSV: one line per row, each numeric column as value, ci_low, ci_high, n (full precision)."""
    header = ["block", "reference"]
    for col in spec.columns:
        header += (
            [col.key, f"{col.key}_ci_low", f"{col.key}_ci_high", f"{col.key}_n", f"{col.key}_best"]
            if col.numeric
            else [col.key]
        )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in spec.rows:
        out: list[Any] = [row.block, int(row.reference)]
        for col in spec.columns:
            cell = row.cells.get(col.key, Cell())
            if not col.numeric:
                out.append(cell.text if cell.text is not None else "")
                continue
            out += [
                _num(cell.value) if cell.value is not None else (cell.text or ""),
                _num(cell.low),
                _num(cell.high),
                "" if cell.n is None else cell.n,
                int(cell.bold),
            ]
        writer.writerow(out)
    return buf.getvalue()


def _num(x: float | None) -> str:
    return "" if x is None else repr(float(x))
