"""Checkpoint metadata is checked before any model is built: valid JSON of the wrong shape names the file and
the field, and a config that does not fit the tensors in the file's header is refused without allocating it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from colorbench.checkpoints import META_KEY
from colorbench.cli import main
from colorbench.registry import MODELS

from .fakes import TinyPoint, register_fakes


class GuardedPoint(TinyPoint):
    """TinyPoint that fails the test if it is ever built for real at a width its checkpoint cannot hold."""

    name = "guardedpoint"

    def __init__(self, config=None):
        wide = float((config or {}).get("width", 0.0625)) > 1
        if wide and torch.empty(0).device.type != "meta":
            raise AssertionError("a model of the metadata's absurd width was allocated before the shape check")
        super().__init__(config)


@pytest.fixture(scope="module")
def point_tensors() -> dict[str, torch.Tensor]:
    register_fakes()
    if "guardedpoint" not in MODELS.names():
        MODELS.register("guardedpoint", GuardedPoint)
    torch.manual_seed(0)
    return {k: v.contiguous() for k, v in TinyPoint().state_dict().items()}


def _write(path: Path, tensors: dict[str, torch.Tensor], meta: object) -> Path:
    save_file(tensors, str(path), metadata={META_KEY: json.dumps(meta)})
    return path


def _run(tmp_path: Path, spec: str):
    args = ["run", "--models", "", "--dataset", "blobs", "--size", "32", "--limit", "2", "--modes", "native",
            "--no-fid", "--quiet", "--out", str(tmp_path / "out"), "--checkpoint", spec]
    return CliRunner().invoke(main, args, catch_exceptions=False)


@pytest.mark.parametrize("meta, field", [
    ([1, 2], "metadata must be a JSON object"),
    ({"model": "guardedpoint", "config": "width=0.0625"}, "'config'"),
    ({"model": "guardedpoint", "config": {"width": "wide"}}, "'config.width'"),
    ({"model": "guardedpoint", "config": {"width": None}}, "'config.width'"),
    ({"model": "guardedpoint", "config": {}, "size": "64"}, "'size'"),
    ({"model": ["guardedpoint"], "config": {}}, "'model'"),
], ids=["list", "config-str", "width-str", "width-null", "size-str", "model-list"])
def test_wrong_shaped_metadata_names_file_and_field(tmp_path: Path, point_tensors, meta, field: str):
    path = _write(tmp_path / "c[1].safetensors", point_tensors, meta)
    res = _run(tmp_path, f"guardedpoint={path}")
    assert res.exit_code == 2, res.output
    assert str(path) in res.output.replace("\n", "") and field in res.output, res.output


@pytest.mark.parametrize("width", [1e6, 8.0])
def test_an_absurd_width_is_refused_from_the_header_before_building(tmp_path: Path, point_tensors, width: float):
    path = _write(tmp_path / "wide.safetensors", point_tensors, {"model": "guardedpoint", "config": {"width": width}})
    res = _run(tmp_path, f"guardedpoint={path}")
    assert res.exit_code == 2, res.output
    assert ("shape mismatch" in res.output or "too large to exist" in res.output) and str(path) in res.output.replace("\n", ""), res.output


def test_a_fitting_checkpoint_still_loads(tmp_path: Path, point_tensors):
    path = _write(tmp_path / "ok.safetensors", point_tensors, {"model": "guardedpoint", "config": {"width": 0.0625}})
    res = _run(tmp_path, f"guardedpoint={path}")
    assert res.exit_code == 0, res.output
