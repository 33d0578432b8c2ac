"""benchmarks/readme_results.py: the README's result excerpts are rewritten from a run folder, and `--check`
fails when the README no longer matches the run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from colorbench.reports.render import render_report

from .records_factory import ensure_builtin_protocols, make_run_dir

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import readme_results  # a script under benchmarks/, importable once its folder is on the path

STALE = """# A project

<!-- results:table1 -->
```
| Method | Cond. | PSNR↑ | FID↓ | NRI↓ |
| made-up row | ✗ | 99.99 | – | – |
```
<!-- /results:table1 -->

Prose between the excerpts stays as it is.

<!-- results:hint-response -->
| model | PSNR at n = 0 → 12 hints | gain | regions per image |
| made-up | 1.00 → 2.00 | +1.00 dB | 3.0 |
<!-- /results:hint-response -->
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ensure_builtin_protocols()
    d = make_run_dir(tmp_path_factory.mktemp("run"), n_images=12, n_samples=1, modes=("native",))
    render_report(d, {"n_boot": 50})
    return d


def _table1_rows(run_dir: Path) -> list[str]:
    return [line for line in (run_dir / "tables" / "table1.md").read_text().splitlines() if line.startswith("|")]


def test_rewrite_puts_the_runs_table1_between_the_markers(run_dir: Path, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(STALE)
    assert readme_results.main([str(run_dir), "--readme", str(readme)]) == 0
    text = readme.read_text()
    body = text.split("<!-- results:table1 -->\n", 1)[1].split("<!-- /results:table1 -->", 1)[0]
    assert body == "```\n" + "\n".join(_table1_rows(run_dir)) + "\n```\n"
    assert "99.99" not in text and "made-up" not in text
    assert "Prose between the excerpts stays as it is." in text
    assert "GuidingPainter" in body and "✓" in body


def test_hint_response_rows_come_from_the_records(run_dir: Path, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(STALE)
    readme_results.main([str(run_dir), "--readme", str(readme)])
    body = readme.read_text().split("<!-- results:hint-response -->\n", 1)[1].split("<!-- /results", 1)[0]
    rows = body.splitlines()[2:]
    # the fake run's trained conditional models, region model first; no automatic model (CIC has no n > 0)
    assert [r.split(" | ")[0] for r in rows] == ["| GuidingPainter", "| RTUG", "| AlacGAN"]
    native = readme_results.read_run(run_dir)[1]
    gp = native[(native["variant"] == "guidingpainter")]
    psnr0, psnr12 = (gp[gp["n"] == n]["psnr"].mean() for n in (0, 12))
    assert rows[0].split(" | ")[1] == f"{psnr0:.2f} → {psnr12:.2f}"
    assert rows[1].endswith("| — |")  # a point model has no regions


def test_check_exits_1_on_a_stale_readme_and_0_once_rewritten(run_dir: Path, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(STALE)
    assert readme_results.main([str(run_dir), "--readme", str(readme), "--check"]) == 1
    assert readme.read_text() == STALE  # --check changes nothing
    readme_results.main([str(run_dir), "--readme", str(readme)])
    assert readme_results.main([str(run_dir), "--readme", str(readme), "--check"]) == 0


def test_a_missing_marker_or_run_file_is_a_one_line_error(run_dir: Path, tmp_path: Path, capsys) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(STALE.split("<!-- results:hint-response -->")[0])
    assert readme_results.main([str(run_dir), "--readme", str(readme)]) == 2
    assert "results:hint-response" in capsys.readouterr().err
    readme.write_text(STALE)
    assert readme_results.main([str(tmp_path / "no-run"), "--readme", str(readme)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no-run" in err and len(err.splitlines()) == 1


def test_the_repository_readme_has_every_marker() -> None:
    text = (REPO / "README.md").read_text()
    names = [m.group("name") for m in readme_results.MARKER.finditer(text)]
    assert sorted(names) == sorted(readme_results.BLOCKS)
