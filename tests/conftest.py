"""Fixtures several test files share: the fake models (tests/fakes.py) registered with a checkpoint each, the
in-process CLI, and the study server behind Starlette's test client."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from .fakes import TinyPoint, TinyRegion, make_checkpoint, register_fakes


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`make test` runs `-n auto`), each worker gets its share of the cores for torch's
    intra-op threads: N workers × all cores each would oversubscribe the machine and run slower than serial."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(workers)))


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


@pytest.fixture(scope="session")
def study_backend():
    """The study's models (ours and RTUG's shipped toon checkpoints) on the first 3 toon test images."""
    from colorbench.study.backend import StudyModels

    return StudyModels(["ours", "rtug"], "toon", limit=3)


@pytest.fixture()
def study_env(study_backend, tmp_path: Path) -> Iterator[tuple]:
    """(client, store, participant id, database path): a fresh study database behind the app (one image per
    model, 2 rank tasks, an 8 KiB body limit) and one enrolled participant."""
    from starlette.testclient import TestClient

    from colorbench.study.app import create_app
    from colorbench.study.db import Store

    store = Store(str(tmp_path / "study.db"))
    client = TestClient(create_app(study_backend, store, images_per_model=1, max_body=8192, rank_tasks=2),
                        base_url="http://127.0.0.1:8000")
    pid = client.app.state.study.mint()
    yield client, store, pid, tmp_path / "study.db"
    store.close()
