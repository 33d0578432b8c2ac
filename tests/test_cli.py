"""CLI behaviour users rely on: help, readable set-up errors with exit code 2, listings on stdout."""

from __future__ import annotations

import pytest


def test_help_lists_every_command(invoke):
    res = invoke("--help")
    assert res.exit_code == 0
    for cmd in ("run", "report", "check", "train", "prepare", "models", "datasets", "protocols", "snail", "zoo",
                "study"):
        assert cmd in res.output


def test_unknown_model_exits_2_and_lists_known_ones(invoke, tmp_path):
    res = invoke("run", "--models", "ourz", "--dataset", "toon", "--out", str(tmp_path / "o"))
    assert res.exit_code == 2
    assert "unknown model 'ourz'" in res.output and "rtug" in res.output


def test_limit_zero_is_a_usage_error(invoke, tmp_path):
    res = invoke("run", "--models", "rtug", "--dataset", "toon", "--limit", "0", "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and "--limit" in res.output


def test_report_without_records_says_what_to_run(invoke, tmp_path):
    res = invoke("report", str(tmp_path))
    assert res.exit_code == 2 and "colorbench run" in res.output


@pytest.mark.parametrize("command, entry", [("models", "guidingpainter"), ("datasets", "toon"),
                                            ("protocols", "table1")])
def test_listings_are_printed_on_stdout_for_pipes(invoke, command, entry):
    res = invoke(command)
    assert res.exit_code == 0
    assert entry in res.stdout and entry not in res.stderr
