"""`colorbench train MODEL`: one subcommand per registered model, whose config flags click generates from the
model's `default_config()` (types from the default values, choices from `config_choices()`)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from colorbench.cli.flags import SIZE_DEFAULT_HELP, device_flag
from colorbench.defaults import TrainDefaults
from colorbench.progress import STDERR

# The flags of `train` itself, whatever the model. Ranges are checked by colorbench.training.checks (one line,
# exit 2, for the API too), not by click. A config key spelled like one of them (every model's
# `width`) is set through it rather than getting a second flag.
TRAIN_OPTIONS: tuple[click.Option, ...] = (
    click.Option(["--dataset"], required=True, help="Dataset to train on (toon, snail or a prepared name)."),
    click.Option(["--out"], type=click.Path(file_okay=False), default=None,
                 help="Checkpoint directory [runs/MODEL-DATASET]."),
    click.Option(["--epochs"], type=int, default=TrainDefaults.epochs, show_default=True),
    click.Option(["--size"], type=int, default=None, help=f"Training image size (paper: 256) {SIZE_DEFAULT_HELP}."),
    click.Option(["--width"], type=float, default=None,
                 help="Channel multiplier of every net (paper: 1.0 = 64 base channels) [the model's width]."),
    click.Option(["--batch-size"], type=int, default=TrainDefaults.batch_size, show_default=True,
                 help="Images per step and process: under torchrun each step trains on batch size × processes."),
    click.Option(["--lr"], type=float, default=None, help="Learning rate [the model's paper default]."),
    click.Option(["--beta1"], type=float, default=None,
                 help="Adam β1 [paper default; GuidingPainter's code used 0.9]; β2 stays the model's own."),
    click.Option(["--device"], default=TrainDefaults.device, show_default=True, callback=device_flag,
                 help="auto | cpu | cuda | mps (AMP on CUDA)."),
    click.Option(["--limit"], type=int, default=None, help="Use only the first N training images."),
    click.Option(["--val-limit"], type=int, default=TrainDefaults.val_limit, show_default=True,
                 help="Validation images scored after every epoch (their PSNR picks best.safetensors)."),
    click.Option(["--data-root"], type=click.Path(file_okay=False), default=None, envvar="COLORBENCH_DATA"),
    click.Option(["--seed"], default=TrainDefaults.seed, show_default=True),
    click.Option(["--threads"], type=click.IntRange(min=1), default=None,
                 help="Torch intra-op threads [torch's default: the usable cores]. CPU-trained weights depend on it; "
                      "the count is recorded in the checkpoint."),
    click.Option(["--bf16"], is_flag=True,
                 help="CPU: train under bf16 autocast (~2× faster at width 1.0 on CPUs with AVX512-BF16/AMX, several times slower "
                      "without; recorded in the checkpoint)."),
    click.Option(["--resume"], is_flag=True,
                 help="Continue OUT's run from OUT/last.train.safetensors (weights, optimizer, schedule, RNG, epoch); "
                      "the dataset, model config, global batch and lr must be the run's."),
    click.Option(["--overwrite"], is_flag=True, help="Replace the run OUT already holds (its checkpoints, logs, curves)."),
    click.Option(["--quiet"], is_flag=True, help="No progress bar, no per-epoch lines."),
)
_TAKEN = {o.name for o in TRAIN_OPTIONS}
_TYPES = {bool: click.BOOL, int: click.INT, float: click.FLOAT, str: click.STRING}


def config_options(defaults: Mapping[str, Any], choices: Mapping[str, Sequence[str]] | None = None,
                   taken: set[str] | frozenset[str] = frozenset()) -> list[click.Option]:
    """One click option per config key: `--key/--no-key` for a bool, else `--key VALUE` typed by the default
    (a click.Choice where `choices` lists the values). Every default is None, so only the keys given on the
    command line become overrides and the model's own defaults stay the one source of the rest."""
    choices = choices or {}
    out = []
    for key, default in defaults.items():
        if key in taken:
            continue
        flag = key.replace("_", "-")
        if isinstance(default, bool):
            out.append(click.Option([f"--{flag}/--no-{flag}", key], default=None,
                                    help=f"Config {key} [default: {'on' if default else 'off'}]."))
            continue
        kind = click.Choice(list(choices[key])) if key in choices else _TYPES.get(type(default), click.STRING)
        out.append(click.Option([f"--{flag}", key], type=kind, default=None, help=f"Config {key} [default: {default}]."))
    return out


def _train(name: str, params: dict[str, Any]) -> None:
    """Train `name` with the subcommand's parsed flags: the common ones, then the config overrides."""
    from colorbench.data import dataset_key, native_size
    from colorbench.training.loop import TrainConfig, train_model

    dataset_key(params["dataset"])  # a path ('../x') would be read outside the data root and name runs/MODEL-../x
    common = {key: params.pop(key) for key in _TAKEN}
    overrides = {key: value for key, value in params.items() if value is not None}
    if common["width"] is not None:
        overrides["width"] = common["width"]
    size = common["size"] if common["size"] is not None else native_size(common["dataset"], common["data_root"])
    cfg = TrainConfig(model=name, dataset=common["dataset"], epochs=common["epochs"], size=size,
                      batch_size=common["batch_size"], lr=common["lr"], beta1=common["beta1"], seed=common["seed"],
                      device=common["device"], limit=common["limit"], val_limit=common["val_limit"],
                      data_root=common["data_root"],
                      model_config=overrides, threads=common["threads"], bf16=common["bf16"])
    out_dir = common["out"] or f"runs/{name}-{common['dataset']}"
    command = "colorbench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    quiet = common["quiet"]
    # A bar only where it can redraw (stderr a terminal); one plain line per epoch where stdout is a file or pipe.
    result = train_model(cfg, out_dir, resume=common["resume"], overwrite=common["overwrite"], command=command,
                         progress=not quiet and STDERR.is_terminal, epoch_lines=not quiet and not sys.stdout.isatty(),
                         log=lambda line: print(line, flush=True))
    from colorbench.training import ddp
    from colorbench.training.log import best_epoch

    if ddp.init(common["device"]).rank != 0:  # under torchrun rank 0 alone validates and reports
        return
    best = best_epoch(result.history)
    score = f"best epoch {best['epoch']}/{cfg.epochs}: val PSNR {best['val_psnr']:.2f} dB" if best else \
        "validation PSNR was never finite: no epoch is best (best.safetensors is the last epoch's weights)"
    STDERR.print(f"trained {name} in {result.seconds:.0f}s; {score}; best checkpoint {result.best_checkpoint}",
                 markup=False, soft_wrap=True)


def model_command(name: str, cls: Any) -> click.Command:
    """The `train NAME` subcommand of a registered model class: common flags + its generated config flags."""
    options = config_options(cls.default_config(), cls.config_choices(), _TAKEN)
    return click.Command(name, params=[*TRAIN_OPTIONS, *options], callback=lambda **params: _train(name, params),
                         help=f"Train {name}; its config keys are flags too (`colorbench models -v`).")


class TrainGroup(click.Group):
    """Resolves MODEL (a name or alias) through the model registry; an unknown one is a UsageError (exit 2)
    listing the known models. Models are imported only for the one being trained."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from colorbench.registry import MODELS

        return MODELS.names()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command:
        from colorbench.registry import MODELS

        name = MODELS.canonical(cmd_name)
        return model_command(name, MODELS.get(name))

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """`train --dataset toon ours …` means `train ours --dataset toon …`: with flags before MODEL, the first
        argument that names a registered model is moved to the front (the group itself has no options)."""
        if args and args[0].startswith("-") and not {"-h", "--help"} & set(args[:1]):
            from colorbench.registry import MODELS

            known = {a for n in MODELS.names() for a in (n, *MODELS.aliases_of(n))}
            for i, arg in enumerate(args):
                if not arg.startswith("-") and arg.lower() in known:
                    args = [arg, *args[:i], *args[i + 1 :]]
                    break
        return super().parse_args(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Names only: a one-line help per model would import every model (and torch) to print `--help`.
        with formatter.section("Models"):
            formatter.write_text(", ".join(self.list_commands(ctx)))


@click.group(cls=TrainGroup, subcommand_metavar="MODEL [OPTIONS]")
def train() -> None:
    """Train MODEL on a dataset. Any model config key is a flag too: e.g. `--fixed-nh`, `--stage reorder`,
    `--lambda-adv 0` for GuidingPainter (`colorbench train ours --help`, `colorbench models -v`)."""
