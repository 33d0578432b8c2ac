"""A plugin model that fails — it cannot be imported, returns a numpy array, a wrong shape, NaN, raises on the
third image, or proposes NaN regions — is one line naming it and what it returned (exit 2); the models
finished before it keep their results, its own finished images stay cached; out-of-range outputs are counted
and reported; `--models all` goes on without a broken installed plugin."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import torch

from colorbench.api import HintKind, Hints
from colorbench.model import ColorizerModel
from colorbench.registry import MODELS, resolve_model_names

from .fakes import register_fakes


def _flat(sketch: torch.Tensor, value: float = 0.2) -> torch.Tensor:
    return torch.full((sketch.shape[0], 3, *sketch.shape[-2:]), value) + 0 * sketch


class _Plugin(ColorizerModel):
    hint_kind, needs_checkpoint = HintKind.NONE, False


class ReturnsNumpy(_Plugin):
    name = "returns-numpy"

    def colorize(self, sketch: torch.Tensor, hints: Hints):
        return _flat(sketch).numpy()


class WrongShape(_Plugin):
    name = "wrong-shape"

    def colorize(self, sketch: torch.Tensor, hints: Hints):
        return _flat(sketch)[:, :1]


class ReturnsNaN(_Plugin):
    name = "returns-nan"

    def colorize(self, sketch: torch.Tensor, hints: Hints):
        return _flat(sketch) * float("nan")


class FailsOnThird(_Plugin):
    name = "fails-on-third"
    calls = 0

    def colorize(self, sketch: torch.Tensor, hints: Hints):
        type(self).calls += 1
        if type(self).calls == 3:
            raise RuntimeError("cannot colour this one")
        return _flat(sketch)


class Overshoots(_Plugin):
    name = "overshoots"

    def colorize(self, sketch: torch.Tensor, hints: Hints):
        y = _flat(sketch)
        y[:, 0, :2, :2] = 1.5  # 4 pixels of the red channel per image beyond white
        return y


class NaNRegions(ColorizerModel):
    name, hint_kind, needs_checkpoint = "nan-regions", HintKind.REGION, False

    def propose_regions(self, sketch: torch.Tensor):
        return torch.full((sketch.shape[0], 4, *sketch.shape[-2:]), float("nan"))

    def colorize(self, sketch: torch.Tensor, hints: Hints):
        return _flat(sketch)


PLUGINS = (ReturnsNumpy, WrongShape, ReturnsNaN, FailsOnThird, Overshoots, NaNRegions)


@pytest.fixture(scope="module", autouse=True)
def registered() -> Iterator[None]:
    register_fakes()
    for cls in PLUGINS:
        MODELS.register(cls.name, cls)
    yield
    for cls in PLUGINS:
        MODELS.unregister(cls.name)


def _run(invoke: Callable, out: Path, models: str, *more: str):
    return invoke("run", "--models", models, "--dataset", "blobs", "--size", "32", "--limit", "4", "--batch-size",
                  "1", "--modes", "native", "--no-fid", "--quiet", "--out", str(out), *more)


@pytest.mark.parametrize("model, says", [
    ("returns-numpy", "returned a numpy.ndarray from colorize on image test-0000, expected a torch.Tensor"),
    ("wrong-shape", "returned shape (32, 1, 32, 32) from colorize on image test-0000, expected (32, 3, 32, 32)"),
    ("returns-nan", "returned NaN/inf outputs from colorize on image test-0000"),
    ("nan-regions", "returned regions holding NaN from propose_regions on image test-0000"),
], ids=["numpy", "shape", "nan", "nan-regions"])
def test_a_plugin_returning_what_cannot_be_scored_is_one_line(invoke, tmp_path: Path, model: str, says: str) -> None:
    res = _run(invoke, tmp_path / "o", model)
    assert res.exit_code == 2, res.output
    assert res.output.count("\n") == 1 and f"model {model!r}" in res.output and says in res.output, res.output


def test_an_exception_on_the_third_image_keeps_what_was_finished(invoke, tmp_path: Path) -> None:
    FailsOnThird.calls = 0
    out = tmp_path / "o"
    res = _run(invoke, out, "floor,fails-on-third")
    assert res.exit_code == 2, res.output
    assert res.output.count("\n") == 1, res.output
    assert "model 'fails-on-third'" in res.output and "raised RuntimeError in colorize on image test-0002: " \
        "cannot colour this one" in res.output
    records = pd.read_csv(out / "records.csv")
    assert set(records["variant"]) == {"floor"} and records["image_id"].nunique() == 4  # the finished model
    assert list(json.loads((out / "run.json").read_text())["variants"]) == ["floor"]
    cached = list((out / "cache").glob("fails-on-third-*/chunk-*.npz"))
    assert len(cached) == 2  # its two finished images stay in the cache

    FailsOnThird.calls = -100  # "fixed": the next run computes only the two images it had not finished
    again = _run(invoke, out, "floor,fails-on-third")
    assert again.exit_code == 0, again.output
    assert "fails-on-third: 2 of 4 images reused from the cache" in again.output
    assert set(pd.read_csv(out / "records.csv")["variant"]) == {"floor", "fails-on-third"}


def test_out_of_range_outputs_are_counted_and_reported(invoke, tmp_path: Path) -> None:
    out = tmp_path / "o"
    res = _run(invoke, out, "overshoots")
    assert res.exit_code == 0, res.output
    run = json.loads((out / "run.json").read_text())
    assert run["variants"]["overshoots"]["out_of_range"] == {"values": 16, "of": 4 * 3 * 32 * 32, "min": -1.0,
                                                            "max": 1.5}
    warning = next(w for w in run["warnings"] if w.startswith("overshoots:"))
    assert "16 of 12288 output values" in warning and "max 1.5" in warning
    results = json.loads((out / "results.json").read_text())["provenance"]
    assert warning in results["warnings"] and results["variants"]["overshoots"]["out_of_range"]["values"] == 16
    again = _run(invoke, out, "overshoots")  # from the cache: the same report
    assert again.exit_code == 0 and "4 of 4 images reused" in again.output
    assert json.loads((out / "run.json").read_text())["variants"]["overshoots"]["out_of_range"]["values"] == 16


def test_a_diverged_guidingpainter_f_is_refused_not_run_with_one_region() -> None:
    from colorbench.checkpoints import CheckpointError

    model = MODELS.get("guidingpainter").from_config({"width": 0.0625}).eval()
    with torch.no_grad():
        next(p for p in model.parameters() if p.dim() == 4).fill_(float("nan"))
    with pytest.raises(CheckpointError, match="region logits are NaN"):
        model.propose_regions(torch.zeros(1, 1, 32, 32))


@pytest.fixture
def broken_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An installed distribution whose entry point's module fails to import."""
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Name: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[colorbench.models]\nbrokenmodel = brokenplugin:Model\n")
    (tmp_path / "brokenplugin.py").write_text("import no_such_module_for_colorbench_tests\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    MODELS.discover(force=True)
    yield
    MODELS.unregister("brokenmodel")
    sys.modules.pop("brokenplugin", None)


def test_a_plugin_that_fails_to_import_is_one_line(invoke, tmp_path: Path, broken_plugin: None) -> None:
    res = _run(invoke, tmp_path / "o", "brokenmodel")
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert "could not load model 'brokenmodel' (entry point of broken-plugin): ModuleNotFoundError" in res.output
    assert not (tmp_path / "o").exists()


def test_models_all_warns_about_a_broken_plugin_and_goes_on(broken_plugin: None) -> None:
    said: list[str] = []
    names = resolve_model_names("all", said.append)
    assert "brokenmodel" not in names and {"guidingpainter", "rtug", "floor", "overshoots"} <= set(names)
    assert len(said) == 1 and "brokenmodel" in said[0] and "goes on without it" in said[0]

