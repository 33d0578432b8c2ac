"""Rewrites the README's result excerpts from a run folder, so the numbers it quotes are those of a run.

    .venv/bin/python benchmarks/readme_results.py results/toon            # after `make run`: rewrite README.md
    .venv/bin/python benchmarks/readme_results.py results/toon --check    # exit 1 if README.md differs from the run

Each excerpt sits between `<!-- results:NAME -->` and `<!-- /results:NAME -->` in the README:
- `table1`: Table 1 exactly as the run printed it (`RUN/tables/table1.md`, the table without its title and notes);
- `hint-response`: per learned conditional model, PSNR at n = 0 and n = 12, the gain, and the non-empty regions per
  image of region models, from the run's native records (the figures of `benchmarks/hint_response.py`).
Exit codes: 0 written / up to date, 1 `--check` found a difference, 2 a missing run file or marker.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

from hint_response import curve, read_run, region_count

from colorbench.atomic import atomic_write_text

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = re.compile(r"(<!-- results:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /results:(?P=name) -->)", re.DOTALL)
MAX_N = 12  # the hint count the README's gain is read at
KIND_ORDER = {"region": 0, "point": 1, "stroke": 2}  # GuidingPainter-style models first, as in the paper's tables


class ExcerptError(Exception):
    """A run file or README marker is missing: one line for the user, exit code 2."""


def table1_block(run_dir: Path) -> str:
    """The Markdown table of RUN/tables/table1.md (header, rule and rows), fenced as the console shows it."""
    path = run_dir / "tables" / "table1.md"
    if not path.is_file():
        raise ExcerptError(f"{path} not found: render the run first (`colorbench report {run_dir}`)")
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        raise ExcerptError(f"{path} holds no Markdown table")
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "```\n" + "\n".join(lines[start:end]) + "\n```\n"


def hint_response_block(run_dir: Path) -> str:
    """Markdown table: PSNR at n = 0 → MAX_N, gain and regions per image of every learned conditional variant."""
    if not (run_dir / "run.json").is_file() or not (run_dir / "records.csv").is_file():
        raise ExcerptError(f"{run_dir} is not a finished run folder (no run.json or records.csv)")
    run, native = read_run(run_dir)
    learned = {k: v for k, v in run["variants"].items() if v.get("conditional") and v.get("checkpoint")}
    if not learned:
        raise ExcerptError(f"{run_dir} has no trained conditional model")
    rows = ["| model | PSNR at n = 0 → 12 hints | gain | regions per image |", "|---|---|---|---|"]
    for name, info in sorted(learned.items(), key=lambda kv: (KIND_ORDER.get(kv[1]["hint_kind"], 9), kv[0])):
        records = native[native["variant"] == name]
        psnr = curve(records, MAX_N)
        regions = f"{region_count(records):.1f}" if info["hint_kind"] == "region" else "—"
        label = info.get("display_name") or name
        rows.append(f"| {label} | {psnr[0]:.2f} → {psnr[MAX_N]:.2f} | {psnr[MAX_N] - psnr[0]:+.2f} dB | {regions} |")
    return "\n".join(rows) + "\n"


BLOCKS: dict[str, Callable[[Path], str]] = {"table1": table1_block, "hint-response": hint_response_block}


def rewrite(text: str, run_dir: Path) -> str:
    """`text` with every results marker's body replaced by the excerpt of `run_dir`."""
    names = [m.group("name") for m in MARKER.finditer(text)]
    unknown = sorted(set(names) - set(BLOCKS))
    if unknown:
        raise ExcerptError(f"unknown results marker(s) {', '.join(unknown)}; known: {', '.join(BLOCKS)}")
    missing = [name for name in BLOCKS if name not in names]
    if missing:
        raise ExcerptError(f"no <!-- results:{missing[0]} --> … <!-- /results:{missing[0]} --> marker pair")
    bodies = {name: build(run_dir) for name, build in BLOCKS.items()}
    return MARKER.sub(lambda m: m.group(1) + bodies[m.group("name")] + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path, help="a finished run folder, e.g. results/toon after `make run`")
    ap.add_argument("--readme", type=Path, default=README, help="the file to rewrite [the repository's README.md]")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if the README differs from the run")
    args = ap.parse_args(argv)
    try:
        if not args.readme.is_file():
            raise ExcerptError(f"--readme {args.readme} not found")
        old = args.readme.read_text(encoding="utf-8")
        new = rewrite(old, args.run_dir)
    except ExcerptError as exc:
        print(f"readme_results: {exc}", file=sys.stderr)
        return 2
    if new == old:
        print(f"readme_results: {args.readme} matches {args.run_dir}")
        return 0
    if args.check:
        stale = [m.group("name") for m, n in zip(MARKER.finditer(old), MARKER.finditer(new)) if m.group(0) != n.group(0)]
        print(f"readme_results: {args.readme} differs from {args.run_dir} in {', '.join(stale)}; "
              f"run `python benchmarks/readme_results.py {args.run_dir}`", file=sys.stderr)
        return 1
    atomic_write_text(args.readme, new)
    print(f"readme_results: rewrote {args.readme} from {args.run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
