"""Fixtures several test files share: the fake models (tests/fakes.py) registered with a checkpoint each, and
the in-process CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from .fakes import TinyPoint, TinyRegion, make_checkpoint, register_fakes


@pytest.fixture(scope="session")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{"tinypoint": path, "tinyregion": path}: checkpoints of the registered fake point and region models
    (different seeds, so the nets differ). Read-only: a test that needs another checkpoint makes its own."""
    register_fakes()
    d = tmp_path_factory.mktemp("ckpt")
    return {"tinypoint": make_checkpoint(TinyPoint, d / "p.safetensors"),
            "tinyregion": make_checkpoint(TinyRegion, d / "r.safetensors", seed=1)}


@pytest.fixture(scope="session")
def invoke() -> Callable[..., Result]:
    """invoke("run", "--dataset", …) → click's Result of `colorbench ARGS` in-process; an unexpected exception
    fails the test with its traceback instead of becoming an exit code."""
    from colorbench.cli import main

    return lambda *args: CliRunner().invoke(main, list(args), catch_exceptions=False)
