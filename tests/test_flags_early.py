"""Bad flags are refused before anything is evaluated (exit 2, one line naming the flag): --sweep outside 0..Nc,
--compare of one, the same or an unknown variant, a non-finite --nri-threshold, a device colorbench cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest

import colorbench.evaluation.runner

from .fakes import TinyPoint, TinyRegion, make_checkpoint, register_fakes


@pytest.fixture()
def no_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*_a, **_k):
        raise AssertionError("the evaluation started although a flag was bad")

    monkeypatch.setattr(colorbench.evaluation.runner, "run_evaluation", never)


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    register_fakes()
    d = tmp_path_factory.mktemp("flags")
    return ["--checkpoint", f"tinypoint={make_checkpoint(TinyPoint, d / 'p.safetensors')}",
            "--checkpoint", f"tinyregion={make_checkpoint(TinyRegion, d / 'r.safetensors')}"]


@pytest.mark.parametrize("flags, message", [
    (["--sweep", "99"], "--sweep 99: hint counts must be in 0..30"),
    (["--sweep=-3"], "must be in 0..30 (Nc), got -3"),
    (["--compare", "bad"], "--compare 'bad': give exactly two variants"),
    (["--compare", "tinypoint,tinypoint"], "both name the same variant 'tinypoint'"),
    (["--compare", "tinypoint,rtug"], "no variant 'rtug' in this run"),
    (["--nri-threshold", "nan"], "--nri-threshold nan: give a finite number"),
    (["--nri-threshold", "inf"], "--nri-threshold inf: give a finite number"),
    (["--device", "tpu"], "--device 'tpu': use auto, cpu, cuda, cuda:N or mps"),
    (["--device", "xla"], "--device 'xla': use auto, cpu"),
    (["--sweep", ""], "--sweep '': give the hint counts of Fig. 12"),
], ids=["sweep-99", "sweep-neg", "compare-one", "compare-same", "compare-unknown", "nri-nan", "nri-inf", "tpu", "xla",
        "sweep-empty"])
def test_run_refuses_bad_flags_before_evaluating(invoke, tmp_path: Path, specs, no_evaluation, flags,
                                                 message):
    res = invoke("run", "--models", "", "--dataset", "blobs", "--size", "32", "--limit", "2", "--no-fid",
                  "--quiet", "--out", str(tmp_path / "o"), *specs, *flags)
    assert res.exit_code == 2 and message in res.output, res.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", [
    ["check", "--model", "rtug", "--dataset", "toon", "--no-fid"],
    ["train", "rtug", "--dataset", "toon", "--epochs", "1", "--limit", "2"],
], ids=["check", "train"])
def test_check_and_train_refuse_a_device_colorbench_cannot_use(invoke, tmp_path: Path, command: list[str],
                                                               monkeypatch):
    import colorbench.training.loop

    monkeypatch.setattr(colorbench.training.loop, "train_model", lambda *a, **k: pytest.fail("training started"))
    res = invoke(*command, "--out", str(tmp_path / "o"), "--device", "xla")
    assert res.exit_code == 2 and "--device 'xla'" in res.output, res.output


def test_a_good_device_spelling_passes():
    from colorbench.cli.flags import DEVICE_PATTERN

    assert all(DEVICE_PATTERN.fullmatch(d) for d in ("auto", "cpu", "cuda", "cuda:1", "mps"))
    assert not any(DEVICE_PATTERN.fullmatch(d) for d in ("tpu", "xla", "meta", "cuda:x", "cpu "))


@pytest.mark.parametrize("models", ["", " "])
def test_run_refuses_an_empty_model_list_before_writing_anything(invoke, tmp_path: Path, models: str) -> None:
    res = invoke("run", "--models", models, "--dataset", "blobs", "--size", "32", "--limit", "2", "--no-fid",
                 "--quiet", "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and "no model to evaluate" in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()  # no run.json without variants to break the next run there


def test_run_evaluation_refuses_no_variants_before_touching_out(tmp_path: Path) -> None:
    from colorbench.errors import UsageError
    from colorbench.evaluation.runner import RunConfig, run_evaluation

    register_fakes()
    with pytest.raises(UsageError, match="no model to evaluate"):
        run_evaluation(RunConfig(models=[], dataset="blobs", out=str(tmp_path / "o"), size=32, limit=2, fid=False))
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(__import__("torch").backends.mps.is_available(), reason="this machine has an MPS device")
@pytest.mark.parametrize("command", [
    ["run", "--models", "rtug", "--dataset", "toon", "--limit", "2"],
    ["check", "--model", "rtug", "--dataset", "toon", "--no-fid"],
    ["train", "rtug", "--dataset", "toon", "--epochs", "1", "--limit", "2"],
    ["snail", "--epochs", "1"],
    ["zoo", "build", "--models", "rtug", "--epochs", "1"],
], ids=["run", "check", "train", "snail", "zoo-build"])
def test_every_command_refuses_mps_on_a_machine_without_it(invoke, tmp_path: Path, command: list[str]) -> None:
    res = invoke(*command, "--out", str(tmp_path / "o"), "--device", "mps")
    assert res.exit_code == 2 and "--device mps was asked for but this machine has no MPS device" in res.output, \
        res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
