"""Usage errors are one line and exit code 2; every other exception is a bug and keeps its traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from colorbench.checkpoints import CheckpointError
from colorbench.cli import main
from colorbench.data import DatasetError, open_dataset
from colorbench.errors import UsageError
from colorbench.evaluation.variants import parse_checkpoint_spec
from colorbench.gate.check import read_reference
from colorbench.registry import MODELS
from colorbench.training.loop import resolve_device


def test_a_value_error_from_a_bug_shows_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> list[str]:
        raise ValueError("a bug, not the user's doing")

    monkeypatch.setattr(MODELS, "names", broken)
    res = CliRunner().invoke(main, ["models"])
    assert res.exit_code == 1 and isinstance(res.exception, ValueError), res.output
    assert "error:" not in res.output  # not dressed up as a usage error


def test_usage_error_is_one_line_and_debug_shows_its_traceback(tmp_path: Path) -> None:
    args = ["run", "--models", "ourz", "--dataset", "toon", "--out", str(tmp_path / "o")]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and res.output.count("\n") == 1 and "unknown model 'ourz'" in res.output
    res = CliRunner().invoke(main, ["--debug", *args])
    assert res.exit_code == 1 and isinstance(res.exception, UsageError)
    assert "unknown model 'ourz'" in str(res.exception)


@pytest.mark.parametrize("call", [
    lambda tmp: resolve_device("gpu"),
    lambda tmp: parse_checkpoint_spec("ours"),
    lambda tmp: parse_checkpoint_spec(f"ours={tmp / 'missing.safetensors'}"),
    lambda tmp: open_dataset("no-such-set", root=tmp),
    lambda tmp: MODELS.canonical("no-such-model"),
    lambda tmp: read_reference(tmp / "missing.json"),
    lambda tmp: MODELS.get("guidingpainter").from_config({"stage": "typo"}),
    lambda tmp: MODELS.get("guidingpainter").from_config({"no_such_key": 1}),
], ids=["device", "spec", "checkpoint-file", "dataset", "model", "reference", "config-value", "config-key"])
def test_user_mistakes_raise_usage_errors(call, tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        call(tmp_path)


def test_error_classes_keep_their_old_bases() -> None:
    # Callers that caught these by their former classes keep working.
    assert issubclass(DatasetError, RuntimeError) and issubclass(CheckpointError, RuntimeError)
    assert issubclass(UsageError, ValueError)
