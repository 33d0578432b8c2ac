"""Reports follow the protocol registry: a plugin protocol's declared tables are rendered (Markdown, LaTeX,
CSV and report.md) without colorbench.reports naming it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from colorbench.registry import PROTOCOLS
from colorbench.reports import render
from colorbench.reports.render import render_report

from .records_factory import DEFAULT_VARIANTS, ensure_builtin_protocols, make_run_dir


@pytest.fixture()
def plugin_protocol():
    """tests/plugin_fixture/protocols.py:HintGain registered as a plugin would be, by "module:attr"."""
    ensure_builtin_protocols()
    PROTOCOLS.register("hint_gain", "tests.plugin_fixture.protocols:HintGain", origin="entry point of test plugin")
    yield
    PROTOCOLS.unregister("hint_gain")


def test_a_plugin_protocols_table_is_rendered(plugin_protocol, tmp_path: Path) -> None:
    run_dir = make_run_dir(tmp_path / "run", variants=DEFAULT_VARIANTS, n_images=8, fid=False)
    out = render_report(run_dir, {"n_boot": 20})
    names = {p.name for p in out["paths"]["tables"]}
    assert {"hint_gain.md", "hint_gain.tex", "hint_gain.csv"} <= names

    rows = list(csv.DictReader(io.StringIO((run_dir / "tables" / "hint_gain.csv").read_text())))
    gains = {r["variant"]: float(r["gain"]) for r in rows}
    assert set(gains) == {v.label for v in DEFAULT_VARIANTS}
    result = out["results"]["results"]["hint_gain"]["rows"]
    assert gains == pytest.approx({r["variant"]: r["gain"] for r in result})
    assert "\\toprule" in (run_dir / "tables" / "hint_gain.tex").read_text()

    report = out["paths"]["report"].read_text()
    # Built-in tables first (their table_order), the plugin's after them.
    assert report.index("### Table 1") < report.index("Plugin: PSNR gain from the most hints")
    assert "hint_gain" not in Path(render.__file__).read_text()


def test_without_the_plugin_its_table_is_not_written(tmp_path: Path) -> None:
    ensure_builtin_protocols()
    run_dir = make_run_dir(tmp_path / "run", variants=DEFAULT_VARIANTS, n_images=8, fid=False)
    out = render_report(run_dir, {"n_boot": 20})
    assert not any(p.name.startswith("hint_gain") for p in out["paths"]["tables"])
    assert "table1.md" in {p.name for p in out["paths"]["tables"]}
