"""The layer contract: data flows dataset → hints → model → records → protocols → reports, with the CLI and
experiment drivers on top. Every import of every module (top level or inside a function) is checked."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The repository's top-level folders install as colorbench.<folder> (pyproject's package-dir mapping).
MAPPED = ("guidingpainter", "baselines", "protocols", "reports")
MODELS = ("colorbench.guidingpainter", "colorbench.baselines")
# The application layer: commands and drivers that may use every layer below them.
APP = ("colorbench.cli", "colorbench.__main__", "colorbench.gate.check", "colorbench.experiments", "colorbench.study")
# What each layer must never import (prefixes of module names).
FORBIDDEN = {
    # colorbench.* below the application layer; the old top-level names must not come back either.
    "core": (*MODELS, "colorbench.protocols", "colorbench.reports", *APP, *MAPPED),
    "models": ("colorbench.protocols", "colorbench.reports", *APP, *MAPPED),
    "protocols": (*MODELS, "colorbench.reports", *APP, "colorbench.evaluation.engine", "colorbench.evaluation.runner",
                  "colorbench.training", *MAPPED),
    "reports": (*MODELS, *APP, "colorbench.evaluation.engine", "colorbench.evaluation.runner", "colorbench.training",
                *MAPPED),
}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join(("colorbench", *parts) if parts[0] in MAPPED else parts)


def _layer(module: str) -> str | None:
    if module.startswith(MODELS):
        return "models"
    for layer in ("protocols", "reports"):
        if module.startswith(f"colorbench.{layer}"):
            return layer
    if module.split(".")[0] == "colorbench" and not module.startswith(APP):
        return "core"
    return None


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append((node.lineno, node.module))
    return out


def _violations(path: Path) -> list[str]:
    module = _module(path)
    layer = _layer(module)
    if layer is None:
        return []
    bad = FORBIDDEN[layer]
    return [f"{path.relative_to(ROOT)}:{line} ({layer}) imports {name}"
            for line, name in _imports(path) if any(name == b or name.startswith(b + ".") for b in bad)]


def test_no_module_imports_upward() -> None:
    files = [p for top in ("colorbench", *MAPPED) for p in (ROOT / top).rglob("*.py")]
    assert len(files) > 50
    problems = [v for p in files for v in _violations(p)]
    assert not problems, "\n".join(problems)


def test_the_checker_sees_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "baselines" / "leaky.py"
    fake.parent.mkdir()
    fake.write_text("def f():\n    from colorbench.reports.render import render_report\n    import protocols\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _violations(fake) == ["baselines/leaky.py:2 (models) imports colorbench.reports.render",
                                 "baselines/leaky.py:3 (models) imports protocols"]
