"""colorbench.defaults is the one source of defaults: the hint law, the simulators, the engine's plan, the CLI
and the report options all take theirs from it, so changing one default there changes it everywhere."""

from __future__ import annotations

import inspect

from click.testing import CliRunner

from colorbench import defaults
from colorbench.cli import main
from colorbench.evaluation.engine import EvalPlan
from colorbench.hint_counts import BoundedGeometric
from colorbench.hints import point_sequence, sample_point_hints_train, simulate, stroke_sequence
from colorbench.protocols.options import resolve_options


def test_hint_law_simulators_and_plan_default_to_the_defaults_module():
    law = BoundedGeometric()
    assert (law.nc, law.p) == (defaults.EVAL.nc, defaults.EVAL.p)
    plan = EvalPlan()
    assert (plan.nc, plan.p, tuple(plan.sweep)) == (defaults.EVAL.nc, defaults.EVAL.p, defaults.EVAL.sweep)
    for simulator in (point_sequence, stroke_sequence, simulate):
        assert inspect.signature(simulator).parameters["k"].default == defaults.EVAL.nc
    assert inspect.signature(sample_point_hints_train).parameters["p"].default == defaults.EVAL.p


def test_report_options_and_check_limit_come_from_the_defaults_module():
    assert resolve_options({}) == defaults.REPORT_OPTIONS
    assert f"else {defaults.CHECK_IMAGES}]" in CliRunner().invoke(main, ["check", "--help"]).output
