"""The layer contract: data flows dataset → hints → model → records → protocols → reports, with the CLI and
experiment drivers on top. Every import of every module (top level or inside a function) is checked."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("guidingpainter", "baselines")
# The application layer: commands and drivers that may use every layer below them.
APP = ("colorbench.cli", "colorbench.__main__", "colorbench.gate", "colorbench.flags", "colorbench.experiments")
# What each layer must never import (prefixes of module names).
FORBIDDEN = {
    "core": (*MODELS, "protocols", "reports", *APP),  # colorbench.* below the application layer
    "models": ("protocols", "reports", *APP),
    "protocols": (*MODELS, "reports", *APP, "colorbench.engine", "colorbench.runner", "colorbench.training"),
    "reports": (*MODELS, *APP, "colorbench.engine", "colorbench.runner", "colorbench.training"),
}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str | None:
    top = module.split(".")[0]
    if top in MODELS:
        return "models"
    if top in ("protocols", "reports"):
        return top
    if top == "colorbench" and not module.startswith(APP):
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
    files = [p for top in ("colorbench", *MODELS, "protocols", "reports") for p in (ROOT / top).rglob("*.py")]
    assert len(files) > 50
    problems = [v for p in files for v in _violations(p)]
    assert not problems, "\n".join(problems)


def test_the_checker_sees_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "baselines" / "leaky.py"
    fake.parent.mkdir()
    fake.write_text("def f():\n    from reports.render import render_report\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _violations(fake) == ["baselines/leaky.py:2 (models) imports reports.render"]
