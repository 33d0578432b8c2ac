"""`colorbench train MODEL`'s config flags are generated from the model's default_config(): typed by the
defaults, choices where the model lists them, unknown or mistyped ones refused with exit 2 before training."""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner

from colorbench.cli import main
from colorbench.cli.train import TRAIN_OPTIONS, config_options
from colorbench.registry import MODELS

BASE = ["--dataset", "toon", "--size", "32", "--epochs", "1", "--limit", "2", "--device", "cpu", "--quiet"]


@pytest.fixture()
def captured(monkeypatch: pytest.MonkeyPatch, tmp_path) -> list[Any]:
    """Replaces training with recording its TrainConfig: the tests check what would be trained."""
    import colorbench.training.loop

    seen: list[Any] = []

    def fake(cfg: Any, out_dir: str, **kwargs: Any) -> Any:
        seen.append(cfg)
        raise SystemExit(0)

    monkeypatch.setattr(colorbench.training.loop, "train_model", fake)
    monkeypatch.chdir(tmp_path)
    return seen


def _train(*args: str):
    return CliRunner().invoke(main, ["train", *args], catch_exceptions=False)


def test_valid_overrides_reach_the_models_config(captured: list[Any]) -> None:
    res = _train("ours", *BASE, "--fixed-nh", "--stage", "reorder", "--lambda-adv", "0", "--nc=12",
                 "--no-augment", "--width", "0.125")
    assert res.exit_code == 0, res.output
    overrides = captured[0].model_config
    assert overrides == {"fixed_nh": True, "stage": "reorder", "lambda_adv": 0.0, "nc": 12, "augment": False,
                         "width": 0.125}
    assert type(overrides["lambda_adv"]) is float and type(overrides["nc"]) is int
    config = MODELS.get("guidingpainter").from_config(overrides).config
    assert config["stage"] == "reorder" and config["nc"] == 12 and config["fixed_nh"] is True
    assert config["smoothness"] == "eight_l1"  # a key not given keeps the model's own default


def test_no_config_flag_means_no_override_and_the_apis_defaults(captured: list[Any]) -> None:
    from colorbench.training.loop import TrainConfig

    assert _train("rtug", "--dataset", "toon", "--size", "32").exit_code == 0
    cli = captured[0]
    assert cli.model == "rtug" and cli.model_config == {}
    api = TrainConfig(model="rtug", dataset="toon", size=32)
    assert (cli.epochs, cli.batch_size, cli.seed, cli.device) == (api.epochs, api.batch_size, api.seed, api.device)


@pytest.mark.parametrize("flags, named", [
    (["--fixd-nh"], "--fixd-nh"),  # unknown key
    (["--lambda-smth"], "--lambda-smth"),  # rtug has no such key (GuidingPainter does)
], ids=["typo", "other-models-key"])
def test_an_unknown_config_flag_exits_2_naming_it(captured: list[Any], flags: list[str], named: str) -> None:
    res = _train("rtug", *BASE, *flags)
    assert res.exit_code == 2 and named in res.output, res.output
    assert not captured


@pytest.mark.parametrize("flags, named", [
    (["--nc", "two"], "--nc"),
    (["--lambda-adv", "high"], "--lambda-adv"),
    (["--stage", "reordr"], "--stage"),  # a choice the model lists
], ids=["int", "float", "choice"])
def test_a_wrongly_typed_config_flag_exits_2(captured: list[Any], flags: list[str], named: str) -> None:
    res = _train("ours", *BASE, *flags)
    assert res.exit_code == 2 and named in res.output, res.output
    assert not captured


def test_an_unknown_model_exits_2_listing_the_known_ones(captured: list[Any]) -> None:
    res = _train("ourz", *BASE)
    assert res.exit_code == 2 and "unknown model 'ourz'" in res.output and "rtug" in res.output


@pytest.mark.parametrize("name", MODELS.names())
def test_every_config_key_of_every_model_is_a_typed_flag(name: str) -> None:
    cls = MODELS.get(name)
    defaults = cls.default_config()
    taken = {o.name for o in TRAIN_OPTIONS}
    options = {o.name: o for o in config_options(defaults, cls.config_choices(), taken)}
    assert set(options) == set(defaults) - taken
    for key, option in options.items():
        default = defaults[key]
        if isinstance(default, bool):
            assert option.is_flag and option.secondary_opts == [f"--no-{key.replace('_', '-')}"]
        elif key in cls.config_choices():
            assert isinstance(option.type, click.Choice) and default in option.type.choices
        else:
            assert option.type.name == {int: "integer", float: "float", str: "text"}[type(default)]
    res = _train(name, "--help")
    assert res.exit_code == 0 and all(o.opts[0] in res.output for o in options.values()), res.output


@pytest.mark.parametrize("name", ["ours", "rtug", "alacgan"])
def test_bf16_trains_the_step_under_cpu_autocast_and_is_recorded(name: str, tmp_path, monkeypatch) -> None:
    """`train --bf16` on a CPU: the networks' convolutions run in bfloat16 during the train step (GuidingPainter's
    own autocast and the baselines' shared one), and the checkpoint's training config records it."""
    import torch

    from colorbench.checkpoints import read_metadata

    dtypes: set[torch.dtype] = set()
    real_conv = torch.nn.Conv2d._conv_forward

    def spy(self, x, weight, bias):  # type: ignore[no-untyped-def]
        out = real_conv(self, x, weight, bias)
        if torch.is_grad_enabled():  # training forwards only (validation runs under inference mode)
            dtypes.add(out.dtype)
        return out

    monkeypatch.setattr(torch.nn.Conv2d, "_conv_forward", spy)
    res = _train(name, *BASE, "--width", "0.125", "--batch-size", "2", "--bf16", "--out", str(tmp_path / "run"))
    assert res.exit_code == 0, res.output
    assert dtypes == {torch.bfloat16}
    assert read_metadata(tmp_path / "run" / "last.safetensors")["train"]["bf16"] is True


def test_flags_before_the_model_name_are_the_models_flags(captured: list[Any]) -> None:
    """`colorbench train --dataset toon … ours` trains ours, as `colorbench train ours --dataset toon …` does."""
    res = _train(*BASE, "--fixed-nh", "ours")
    assert res.exit_code == 0, res.output
    (cfg,) = captured
    assert cfg.model == "guidingpainter" and cfg.dataset == "toon" and cfg.model_config["fixed_nh"] is True
