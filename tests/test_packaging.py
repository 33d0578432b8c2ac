"""`pip install .` puts one namespace into site-packages: every importable module is under colorbench."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPPED = ("baselines", "guidingpainter", "protocols", "reports")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    # Build from a copy so the work tree gets no build/ or egg-info litter.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    for top in ("colorbench", *MAPPED):
        shutil.copytree(ROOT / top, src / top, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    str(src), "-w", str(out)], check=True, capture_output=True)
    return zipfile.ZipFile(next(out.glob("colorbench-*.whl")))


def test_only_colorbench_is_installed(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert tops == {"colorbench", next(t for t in tops if t.endswith(".dist-info"))}


def test_every_source_module_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for top in ("colorbench", *MAPPED):
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            installed = rel if top == "colorbench" else f"colorbench/{rel}"
            assert installed in names, f"{rel} is not installed (add its package to pyproject.toml)"
    assert any(n.startswith("colorbench/zoo/") and n.endswith(".safetensors") for n in names)
    references = sorted((ROOT / "colorbench" / "zoo" / "references").glob("*.json"))  # `check`'s default references
    assert references and all(f"colorbench/zoo/references/{r.name}" in names for r in references)
    for page in (ROOT / "colorbench" / "study" / "static").iterdir():  # the study server's page files
        assert f"colorbench/study/static/{page.name}" in names, f"{page} is not installed (package-data)"


def test_entry_points_name_the_installed_modules(wheel: zipfile.ZipFile) -> None:
    entry_points = wheel.read(next(n for n in wheel.namelist() if n.endswith("entry_points.txt"))).decode()
    targets = [line.split("=", 1)[1].strip() for line in entry_points.splitlines() if "=" in line]
    assert targets and all(t.startswith("colorbench.") for t in targets), targets
