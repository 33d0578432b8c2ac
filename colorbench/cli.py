"""The `colorbench` command line: run, report, check, train, prepare, snail, models, datasets, protocols.

Progress and tables go to stderr (rich); `--json` prints machine-readable results on stdout, as do the
listings of `models`, `datasets` and `protocols`.
Exit codes: 0 ok, 1 regression found (`check` only), 2 usage, set-up or bad-input error
(colorbench.errors.UsageError: one line naming the file or flag and saying what to do; `--debug` shows its
traceback), 130 interrupted (Ctrl-C). Anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import json
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from colorbench.defaults import ZooBudget
from colorbench.errors import UsageError, environment_error
from colorbench.flags import check_sweep, device_flag, finite_flag
from colorbench.progress import STDERR

SIZE_DEFAULT_HELP = "[default: a prepared dataset's own size, from its manifest; else 64]"
# colorbench.fid.WEIGHTS_FILENAME and ENV_VAR, spelled out so that `--help` need not import torch (a test
# checks that they agree).
FID_WEIGHTS_HELP = ("Inception weights: torch-fidelity's release file weights-inception-2015-12-05-6726825d.pth "
                    "[env COLORBENCH_FID_WEIGHTS, then $TORCH_HOME/hub/checkpoints/ under that name].")


def _fail(exc: BaseException) -> None:
    from rich.text import Text

    # One unwrapped line, no markup: paths stay copy-pasteable and '[...]' in a message is not eaten as style.
    STDERR.print(Text.assemble(("error:", "bold red"), " ", str(exc)), soft_wrap=True)
    sys.exit(2)


class _Group(click.Group):
    """Turns usage and set-up errors (UsageError) into one readable line and exit code 2; anything else is a
    bug and keeps its traceback, as does every error under `--debug`."""

    def invoke(self, ctx: click.Context) -> Any:
        previous = _exit_on_sigterm()
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # 130 = 128 + SIGINT, the shell's code for Ctrl-C; click's default (1) would read as "regression".
            STDERR.print("interrupted", markup=False)
            sys.exit(130)
        except UsageError as exc:
            if ctx.params.get("debug"):
                raise
            _fail(exc)
        except OSError as exc:
            usage = environment_error(exc)
            if usage is None or ctx.params.get("debug"):
                raise
            _fail(usage)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm() -> Any:
    """SIGTERM becomes SystemExit(143), so context managers and `finally` blocks run (check's temporary folder,
    the chunk writer) instead of the process vanishing; → the previous handler (None off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def _csv_ints(value: str) -> list[int]:
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show the traceback of usage and set-up errors too (one line without it).")
@click.version_option(package_name="colorbench")
def main(debug: bool) -> None:
    """colorbench — one fair, reproducible protocol for interactive sketch colorization.

    \b
    Typical use:
      colorbench run --models all --dataset toon          # embedded default, shipped checkpoints
      colorbench run --models ours,rtug --dataset yumi --checkpoint ours=a.safetensors --checkpoint rtug=b.safetensors
      colorbench train ours --dataset toon --epochs 20
      colorbench report results/toon                      # re-render, no model runs
      colorbench check --model ours --checkpoint new.safetensors --dataset toon

    \b
    Exit codes: 0 ok · 1 regression (check only) · 2 usage error or bad input (one line
    naming the file or flag) · 130 interrupted (Ctrl-C). A traceback means a bug in colorbench.
    """


# --------------------------------------------------------------------------------------------- run
@main.command()
@click.option("--models", default="all", show_default=True, help="Comma-separated model names or aliases, or 'all'.")
@click.option("--dataset", required=True, help="toon, snail, or a prepared dataset name (see `colorbench datasets`).")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Run directory [default: results/DATASET].")
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="NAME[@TAG]=PATH",
              help="Checkpoint for a model; repeat it. Tags make extra rows (ours@rec=PATH). Without it the shipped "
                   "checkpoint of a synthetic dataset is used.")
@click.option("--size", type=int, default=None, help=f"Image size the data is served at {SIZE_DEFAULT_HELP}.")
@click.option("--limit", type=int, default=None, help="Evaluate only the first N test images.")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, envvar="COLORBENCH_DATA",
              help="Where prepared datasets live [env COLORBENCH_DATA, default ./data].")
@click.option("--device", default="auto", show_default=True, callback=device_flag, help="auto | cpu | cuda | mps.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1),
              help="Test images processed together (memory; never changes results).")
@click.option("--forward-rows", default=32, show_default=True, type=click.IntRange(min=1),
              help="Rows per model call. Every call has exactly this many (the last one padded): float32 "
                   "convolutions round differently by batch size, so this — not --batch-size — is part of "
                   "the run's fingerprint. Lower it if a forward runs out of memory.")
@click.option("--num-workers", default=0, show_default=True, type=click.IntRange(min=0),
              help="Processes decoding test images in parallel (never changes results).")
@click.option("--modes", default="native,equalized,ablation,perturbed", show_default=True,
              help="Record modes to compute (protocols need: native; Fig. 5 ablation; E.2 perturbed; Fig. 3 equalized).")
@click.option("--sweep", default="2,4,6,8,10,12", show_default=True, help="Hint counts of Fig. 12.")
@click.option("--fid/--no-fid", default=True, show_default=True, help="Compute FID when Inception weights are found.")
@click.option("--fid-weights", type=click.Path(dir_okay=False), default=None, help=FID_WEIGHTS_HELP)
@click.option("--metrics", "metric_names", default="psnr,fid", show_default=True,
              help="Comma-separated metrics (`colorbench metrics`), e.g. psnr,ssim,deltae,cf. PSNR is always "
                   "computed (NRI and the curves use it); FID only when listed.")
@click.option("--nri-threshold", type=float, default=None, callback=finite_flag, help="Override the dataset's NRI PSNR threshold (dB).")
@click.option("--compare", default=None, help="Paired bootstrap between two variants, e.g. ours,rtug.")
@click.option("--paper-rows", is_flag=True, help="Add the paper's published numbers as reference rows.")
@click.option("--gumbel-noise", is_flag=True, help="Keep Gumbel noise in GuidingPainter's regions (official test script).")
@click.option("--samples", "n_samples", default=4, show_default=True, help="Test images kept for the figures.")
@click.option("--amp", is_flag=True, help="CUDA only: forwards under autocast (faster; fp16 rounding moves records "
                                          "slightly, so it is part of the run's fingerprint).")
@click.option("--resume/--no-resume", default=True, show_default=True, help="Reuse finished images from the cache.")
@click.option("--json", "as_json", is_flag=True, help="Print results.json on stdout.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def run(models: str, dataset: str, out: str | None, checkpoints: tuple[str, ...], size: int | None, limit: int | None,
        data_root: str | None, device: str, batch_size: int, forward_rows: int, num_workers: int, modes: str,
        sweep: str, fid: bool, fid_weights: str | None, metric_names: str,
        nri_threshold: float | None, compare: str | None, paper_rows: bool, gumbel_noise: bool, n_samples: int,
        amp: bool, resume: bool, as_json: bool, quiet: bool) -> None:
    """Evaluate models on a dataset and write records, tables, figures and results.json."""
    from colorbench.engine import EvalPlan
    from colorbench.metric_registry import describe_metrics, per_image_metrics, resolve_metrics
    from colorbench.records import MODES
    from colorbench.registry import resolve_model_names
    from colorbench.runner import RunConfig, run_evaluation

    mode_list = [m.strip() for m in modes.split(",") if m.strip()]
    bad = [m for m in mode_list if m not in MODES]
    if bad or "native" not in mode_list:
        raise click.BadParameter(f"modes must include 'native' and be among {', '.join(MODES)}; got {modes!r}")
    names = resolve_model_names(models) if models else []
    if limit is not None and limit <= 0:
        raise UsageError(f"--limit must be a positive number of test images (got {limit})")
    selected = resolve_metrics(metric_names)  # an unknown name is a UsageError listing the known ones
    plan = EvalPlan(sweep=_csv_ints(sweep), modes=mode_list, batch_size=batch_size, forward_rows=forward_rows,
                    n_samples=n_samples, gumbel_noise=gumbel_noise, amp=amp,
                    metrics=describe_metrics([m.name for m in per_image_metrics(selected)]))
    fid = fid and "fid" in selected
    for m in plan.metrics:  # e.g. LPIPS without the user's weights: its column is n/a, the reason in run.json
        if m.get("unavailable"):
            STDERR.print(f"{m['name']}: n/a — {m['unavailable']}", style="yellow", markup=False)
    check_sweep(plan.sweep, plan.nc)
    if amp:
        import torch

        if not (device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())):
            raise UsageError(f"--amp needs a CUDA device (got --device {device}): on a CPU evaluation runs in float32")
    if compare:  # its variants are known before anything runs: a typo must not cost the whole evaluation
        from colorbench.registry import MODELS
        from colorbench.variants import resolve_variants
        from colorbench.protocols.compare import check_compare

        check_compare(compare, {v.label: MODELS.get(v.model).info().to_json() | {"model": v.model, "tag": v.tag}
                                for v in resolve_variants(names, list(checkpoints), dataset)})
    cfg = RunConfig(models=names, dataset=dataset, out=out or f"results/{dataset}", checkpoints=list(checkpoints),
                    size=size, limit=limit, data_root=data_root, device=device, resume=resume, fid=fid,
                    fid_weights=fid_weights, plan=plan, num_workers=num_workers)
    run_dir = run_evaluation(cfg, progress=not quiet)
    from colorbench import distributed

    if distributed.init().rank != 0:
        return
    _report(run_dir, {"nri_threshold": nri_threshold, "compare": compare, "paper_rows": paper_rows}, as_json)


def _report(run_dir: Path, options: dict[str, Any], as_json: bool) -> None:
    from colorbench.atomic import run_lock

    with run_lock(run_dir):  # another run into the same OUT may be merging or rendering right now
        _render(run_dir, options, as_json)


def _render(run_dir: Path, options: dict[str, Any], as_json: bool) -> None:
    from colorbench.reports.render import render_report, summary_table

    result = render_report(run_dir, options)
    STDERR.print(summary_table(result["results"]))
    STDERR.print(f"wrote {run_dir}/tables, {run_dir}/figures and {run_dir}/results.json", markup=False)
    if as_json:
        click.echo(json.dumps(result["results"], indent=2, default=str))


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--nri-threshold", type=float, default=None, callback=finite_flag, help="Override the dataset's NRI threshold (dB).")
@click.option("--compare", default=None, help="Paired bootstrap between two variants, e.g. ours,rtug.")
@click.option("--paper-rows", is_flag=True, help="Add the paper's published numbers as reference rows.")
@click.option("--json", "as_json", is_flag=True, help="Print results.json on stdout.")
def report(run_dir: str, nri_threshold: float | None, compare: str | None, paper_rows: bool, as_json: bool) -> None:
    """Re-render tables and figures of RUN_DIR from its cached records (no model runs)."""
    if not (Path(run_dir) / "records.csv").exists():
        raise UsageError(f"{run_dir} has no records.csv: run `colorbench run --out {run_dir} …` first")
    _report(Path(run_dir), {"nri_threshold": nri_threshold, "compare": compare, "paper_rows": paper_rows}, as_json)


# --------------------------------------------------------------------------------------------- train
@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("model")
@click.option("--dataset", required=True, help="Dataset to train on (toon, snail or a prepared name).")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Checkpoint directory [runs/MODEL-DATASET].")
@click.option("--epochs", default=10, show_default=True)
@click.option("--size", type=int, default=None, help=f"Training image size (paper: 256) {SIZE_DEFAULT_HELP}.")
@click.option("--width", type=float, default=None, help="Channel multiplier of every net (paper: 1.0 = 64 base channels).")
@click.option("--batch-size", default=16, show_default=True, help="Images per step (per process under torchrun).")
@click.option("--lr", type=float, default=None, help="Learning rate [the model's paper default].")
@click.option("--beta1", type=float, default=None, help="Adam β1 [paper default; GuidingPainter's code used 0.9]; β2 stays the model's own.")
@click.option("--device", default="auto", show_default=True, callback=device_flag, help="auto | cpu | cuda | mps (AMP on CUDA).")
@click.option("--limit", type=int, default=None, help="Use only the first N training images.")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, envvar="COLORBENCH_DATA")
@click.option("--seed", default=0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Torch intra-op threads [torch's default: the usable cores]. CPU-trained weights depend on it; "
                   "the count is recorded in the checkpoint.")
@click.option("--resume", is_flag=True, help="Continue from OUT/last.safetensors (optimizer, schedule, RNG, epoch).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def train(ctx: click.Context, model: str, dataset: str, out: str | None, epochs: int, size: int | None,
          width: float | None,
          batch_size: int, lr: float | None, beta1: float | None, device: str, limit: int | None,
          data_root: str | None, seed: int, threads: int | None, resume: bool, quiet: bool) -> None:
    """Train MODEL on a dataset. Any model config key is a flag too: e.g. `--fixed-nh`, `--stage reorder`,
    `--lambda-adv 0` for GuidingPainter (see `colorbench models -v`)."""
    from colorbench.data import native_size
    from colorbench.registry import MODELS
    from colorbench.training import TrainConfig, train_model

    name = MODELS.canonical(model)
    if size is None:
        size = native_size(dataset, data_root)
    overrides = _parse_extra(ctx.args, MODELS.get(name).default_config(), name)
    if width is not None:
        overrides["width"] = width
    cfg = TrainConfig(model=name, dataset=dataset, epochs=epochs, size=size, batch_size=batch_size, lr=lr, beta1=beta1,
                      seed=seed, device=device, limit=limit, data_root=data_root, model_config=overrides,
                      threads=threads)
    out_dir = out or f"runs/{name}-{dataset}"
    command = "colorbench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = train_model(cfg, out_dir, resume=resume, command=command, progress=not quiet)
    from colorbench import distributed

    if distributed.init(device).rank != 0:  # under torchrun rank 0 alone validates and reports
        return
    last = result.history[-1] if result.history else {}
    STDERR.print(f"trained {name} in {result.seconds:.0f}s; val PSNR {last.get('val_psnr', float('nan')):.2f} dB; "
                 f"best checkpoint {result.best_checkpoint}", markup=False)


def _parse_extra(args: list[str], defaults: dict[str, Any], model: str) -> dict[str, Any]:
    """['--fixed-nh', '--stage', 'reorder'] → {'fixed_nh': True, 'stage': 'reorder'} typed by the defaults."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise click.UsageError(f"unexpected argument {arg!r}")
        key = arg[2:].replace("-", "_")
        value: Any
        if "=" in key:
            key, value = key.split("=", 1)
        elif isinstance(defaults.get(key), bool):
            value = True
        elif key.startswith("no_") and isinstance(defaults.get(key[3:]), bool):
            key, value = key[3:], False
        else:
            if i + 1 >= len(args):
                raise click.UsageError(f"option {arg} needs a value")
            value = args[i + 1]
            i += 1
        if key not in defaults:
            known = ", ".join("--" + k.replace("_", "-") for k in sorted(defaults))
            raise click.UsageError(f"{model} has no option {arg}; its config options are: {known}")
        default = defaults[key]
        try:
            if isinstance(default, bool):
                value = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                value = int(value)
            elif isinstance(default, float):
                value = float(value)
        except ValueError as exc:
            raise click.UsageError(f"{arg} expects a {type(default).__name__}, got {value!r}") from exc
        out[key] = value
        i += 1
    return out


# --------------------------------------------------------------------------------------------- data
@main.command()
@click.argument("name")
@click.option("--src", required=True, type=click.Path(exists=True, file_okay=False), help="Folder of colour images.")
@click.option("--size", default=256, show_default=True, help="Square size every image is resized to.")
@click.option("--sketches", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder of given line art with the same file names (instead of XDoG).")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, envvar="COLORBENCH_DATA",
              help="Where prepared datasets are written [env COLORBENCH_DATA, default ./data].")
@click.option("--nri-threshold", type=float, default=None, callback=finite_flag, help="NRI threshold stored for an unknown dataset name.")
@click.option("--overwrite", is_flag=True, help="Replace an existing prepared dataset of that name.")
def prepare(name: str, src: str, size: int, sketches: str | None, data_root: str | None,
            nri_threshold: float | None, overwrite: bool) -> None:
    """Resize, extract XDoG sketches and split 81:9:10 into DATA_ROOT/NAME/{train,val,test}/{color,sketch}."""
    from colorbench.data.prepare import prepare_dataset

    kwargs: dict[str, Any] = {"size": size, "sketches": sketches, "overwrite": overwrite}
    if nri_threshold is not None:
        kwargs["nri_threshold"] = nri_threshold
    report = prepare_dataset(name, src, data_root or "data", **kwargs)
    STDERR.print(str(report), markup=False)


@main.command()
@click.option("--out", type=click.Path(file_okay=False), default="results/snail", show_default=True)
@click.option("--epochs", default=16, show_default=True)
@click.option("--size", default=64, show_default=True)
@click.option("--width", type=float, default=0.125, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Learning rate (the paper's 2e-4 needs far more steps).")
@click.option("--train-limit", type=int, default=1024, show_default=True, help="Training images per epoch.")
@click.option("--k", default=8, show_default=True, help="Regions shown in the Fig. 4 picture.")
@click.option("--lambda-smth", type=float, default=0.0, show_default=True,
              help="Smoothness loss weight for both variants (paper: 1; at 64 px it merges every piece after the "
                   "first into one or two late regions, see README).")
@click.option("--lambda-tv", type=float, default=5.0, show_default=True,
              help="Total-variance loss weight, Eq. (11), for both variants (paper: 5).")
@click.option("--device", default="cpu", show_default=True, callback=device_flag)
@click.option("--seed", default=0, show_default=True)
@click.option("--seeds", default=None, help="Several seeds, e.g. 0,1,2: one run each in OUT/seed-N and the spread "
                                             "over seeds in OUT/seeds.json (one run of this toy is one draw).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Torch intra-op threads [torch's default]; the trained regions depend on it (README table: 2).")
def snail(out: str, epochs: int, size: int, width: float, lr: float, train_limit: int, k: int, lambda_smth: float,
          lambda_tv: float, device: str, seed: int, seeds: str | None, threads: int | None) -> None:
    """Dark Snail experiment of paper Fig 4: does GuidingPainter ask for large regions first?

    Trains GuidingPainter and a fixed-Nh control on `snail` and reports region order vs object size."""
    from colorbench.experiments.snail import run_snail_experiment, run_snail_seeds

    common = {"epochs": epochs, "size": size, "width": width, "k": k, "device": device, "lr": lr,
              "train_limit": train_limit, "lambda_smth": lambda_smth, "lambda_tv": lambda_tv,
              "progress": True, "threads": threads}
    if seeds:
        result = run_snail_seeds(out, _csv_ints(seeds), **common)
        STDERR.print_json(data=result["variants"])
        return
    result = run_snail_experiment(out, seed=seed, **common)
    STDERR.print_json(data=result.get("summary", result))


# --------------------------------------------------------------------------------------------- gate
@main.command()
@click.option("--model", required=True, help="Model name or alias (e.g. ours).")
@click.option("--checkpoint", "checkpoints", type=click.Path(dir_okay=False), multiple=True,
              help="Checkpoint to gate [default: the shipped one for a synthetic dataset]. With --update-baseline it "
                   "may be repeated (e.g. one per seed): the baseline is their mean, each metric's tolerance the "
                   "distance to the worst of them plus the default.")
@click.option("--dataset", required=True)
@click.option("--baseline", type=click.Path(dir_okay=False), default=None,
              help="Baseline JSON [default: the committed colorbench/zoo/baselines/MODEL-DATASET.json]. "
                   "--update-baseline needs it: the file to write.")
@click.option("--tolerance", "tolerances", multiple=True, metavar="METRIC=VALUE",
              help="Override a tolerance, e.g. psnr_expected=0.5 (PSNR: max drop in dB; NRI/FID: max rise).")
@click.option("--limit", type=int, default=None, help="Test images [default: the baseline's count, else 64].")
@click.option("--size", type=int, default=None,
              help="Image size [default: the baseline's, else a prepared dataset's own, else 64].")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, envvar="COLORBENCH_DATA")
@click.option("--device", default="auto", show_default=True, callback=device_flag)
@click.option("--fid/--no-fid", default=True, show_default=True)
@click.option("--fid-weights", type=click.Path(dir_okay=False), default=None, help=FID_WEIGHTS_HELP)
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Keep the evaluation here [temp dir].")
@click.option("--update-baseline", is_flag=True, help="Write the measured metrics as the new baseline and exit 0.")
@click.option("--metrics", "metric_names", default=None,
              help="Per-image metrics to measure beside PSNR (e.g. ssim,deltae): a new baseline tracks their "
                   "COLUMN_auto / COLUMN_expected. When gating, those the baseline names are always measured.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON on stdout.")
def check(model: str, checkpoints: tuple[str, ...], dataset: str, baseline: str | None, tolerances: tuple[str, ...],
          limit: int | None, size: int | None, data_root: str | None, device: str, fid: bool,
          fid_weights: str | None, out: str | None, update_baseline: bool, metric_names: str | None,
          as_json: bool) -> None:
    """Gate a checkpoint: exit 0 if every tracked metric is within tolerance of the baseline, 1 if not."""
    import tempfile

    from rich.table import Table

    from colorbench.engine import EvalPlan
    from colorbench.gate import (
        check_same_images,
        compare,
        default_baseline,
        parse_tolerances,
        pooled_baseline,
        read_baseline,
        tolerances_for,
        tracked_metrics,
        write_baseline,
    )
    from colorbench.gate_keys import needed_metrics
    from colorbench.metric_registry import describe_metrics, per_image_metrics, resolve_metrics
    from colorbench.records import read_json
    from colorbench.registry import MODELS
    from colorbench.runner import RunConfig, run_evaluation
    from colorbench.variants import zoo_checkpoint

    name = MODELS.canonical(model)
    if update_baseline and not baseline:
        # The default is a file of the installed package: rewriting it by accident would move the shipped gate.
        raise UsageError(f"--update-baseline needs --baseline PATH, the file to write; it never writes the "
                         f"installed package's {default_baseline(name, dataset)} unless you name that path")
    base_path = Path(baseline) if baseline else default_baseline(name, dataset)
    base = None if update_baseline else read_baseline(base_path)
    overrides = parse_tolerances(tolerances)
    if base:
        tolerances_for(base, overrides)  # a metric without a tolerance is refused before the evaluation
    # The baseline's metrics decide what is measured (as `run --metrics`); --metrics adds to them.
    asked = [n for n in (metric_names or "").split(",") if n.strip()]
    selected = resolve_metrics(["psnr", *asked, *needed_metrics(list(base["metrics"]) if base else [])])
    if len(checkpoints) > 1 and not update_baseline:
        raise click.BadParameter("several --checkpoint make a baseline (--update-baseline); gate one at a time",
                                 param_hint="--checkpoint")
    paths = [Path(c) for c in checkpoints] or [zoo_checkpoint(name, dataset)]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing and not checkpoints:
        raise UsageError(f"no shipped {name} checkpoint for {dataset!r} ({missing[0]}): pass --checkpoint PATH")
    if missing:
        raise UsageError(f"--checkpoint: no such file: {', '.join(missing)}")
    labels = [name] if len(paths) == 1 else [f"{name}@{k}" for k in range(1, len(paths) + 1)]
    limit = limit or (base["n_images"] if base else 64)
    size = size or (base["size"] if base else None)  # None: the dataset's own (RunConfig)
    if base:  # another --limit/--size is refused before the evaluation, whose numbers could not be compared
        check_same_images(base, base_path, {"dataset": {"n_images": limit, "size": size,
                                                        "fingerprint": base["dataset_fingerprint"]}})
    with tempfile.TemporaryDirectory(prefix="colorbench-check-") as tmp:
        run_dir = Path(out or tmp)
        cfg = RunConfig(models=[], dataset=dataset, out=str(run_dir), size=size,
                        checkpoints=[f"{label}={p}" for label, p in zip(labels, paths)],
                        limit=limit, data_root=data_root, device=device, fid=fid, fid_weights=fid_weights,
                        plan=EvalPlan(modes=["native"], n_samples=0,
                                      metrics=describe_metrics([m.name for m in per_image_metrics(selected)])))
        run_evaluation(cfg, progress=False)
        if base:
            check_same_images(base, base_path, read_json(run_dir / "run.json"))
        measured = {label: tracked_metrics(run_dir, label) for label in labels}
        current = measured[labels[0]]
        if update_baseline:
            spread: dict[str, float] = {}
            if len(labels) > 1:
                current, spread = pooled_baseline(list(measured.values()))
            tol = spread | overrides  # an explicit --tolerance wins over the spread
            write_baseline(base_path, name, dataset, current, run_dir, tol, per_checkpoint=measured)
            STDERR.print(f"wrote baseline {base_path} ({len(labels)} checkpoint(s)): "
                         + ", ".join(f"{k}={v:.3f}" + (f" (tolerance {tol[k]:.3f})" if k in tol else "") for k, v in current.items()),
                         markup=False)
            return
    verdicts = compare(current, base, overrides)
    if not verdicts:
        raise UsageError(f"nothing to compare: {base_path} tracks only {', '.join(base['metrics'])}, which this "
                         f"check did not measure (FID needs Inception weights: --fid-weights)")
    table = Table("metric", "baseline", "current", "delta", "tolerance", "verdict", title=f"check {name} on {dataset}")
    for v in verdicts:
        cur = "missing" if v.current is None else f"{v.current:.3f}"
        delta = "" if v.delta is None else f"{v.delta:+.3f}"
        table.add_row(v.metric, f"{v.baseline:.3f}", cur, delta, f"{'-' if v.higher_is_better else '+'}{v.tolerance:g}",
                      "[red]REGRESSED[/red]" if v.regressed else "[green]ok[/green]")
    STDERR.print(table)
    if as_json:
        click.echo(json.dumps([v.__dict__ | {"regressed": v.regressed} for v in verdicts], indent=2))
    if any(v.regressed for v in verdicts):
        STDERR.print(f"{sum(v.regressed for v in verdicts)} metric(s) regressed against {base_path}",
                     style="bold red", markup=False)
        sys.exit(1)
    STDERR.print(f"all {len(verdicts)} tracked metrics within tolerance of {base_path}", style="green", markup=False)


@main.group()
def zoo() -> None:
    """The shipped checkpoints of the embedded default."""


@zoo.command("build")
@click.option("--models", default="all", show_default=True)
@click.option("--dataset", default="toon", show_default=True)
@click.option("--epochs", default=ZooBudget.epochs, show_default=True)
@click.option("--limit", default=ZooBudget.limit, show_default=True, help="Training images per epoch.")
@click.option("--lr", default=ZooBudget.lr, show_default=True, help="One learning rate for every model.")
@click.option("--size", default=ZooBudget.size, show_default=True)
@click.option("--width", default=ZooBudget.width, show_default=True)
@click.option("--batch-size", default=ZooBudget.batch_size, show_default=True)
@click.option("--threads", default=ZooBudget.threads, show_default=True, type=click.IntRange(min=1),
              help="Torch intra-op threads per model (the shipped checkpoints': 1).")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(min=1),
              help="Models trained at once, each in its own process with --threads threads: about 1/jobs of "
                   "the time given jobs × threads cores.")
@click.option("--work-dir", type=click.Path(file_okay=False), default="runs/zoo", show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Export here instead of into the package's zoo (e.g. to compare a rebuild with the shipped files).")
@click.option("--device", default="cpu", show_default=True)
def zoo_build(models: str, dataset: str, epochs: int, limit: int, lr: float, size: int, width: float,
              batch_size: int, threads: int, jobs: int, work_dir: str, out: str | None, device: str) -> None:
    """Train every model with one equal budget and export the shipped checkpoints (resumable)."""
    from colorbench.registry import resolve_model_names
    from colorbench.variants import ZOO_DIR
    from colorbench.zoo import ZooBuildError, build_zoo

    budget = ZooBudget(dataset=dataset, size=size, width=width, epochs=epochs, limit=limit, batch_size=batch_size,
                       lr=lr, threads=threads)
    STDERR.print(f"budget: {budget.describe()}")
    try:
        build_zoo(resolve_model_names(models), budget, Path(work_dir), device=device, log=STDERR.print, jobs=jobs,
                  out_dir=Path(out) if out else ZOO_DIR)
    except ZooBuildError as exc:
        raise click.ClickException(str(exc)) from exc


# --------------------------------------------------------------------------------------------- registry
def _print_listing(table: Any) -> None:
    """A listing is the command's output, not progress: stdout, so `colorbench models | grep rtug` works."""
    from rich.console import Console

    # Into a pipe, rows stay whole: rich would otherwise squeeze them into 80 columns and cut cells with "…".
    Console(width=None if sys.stdout.isatty() else 4096).print(table)


@main.command()
@click.option("-v", "--verbose", is_flag=True, help="Show origin, aliases and config options.")
def models(verbose: bool) -> None:
    """List registered models."""
    from rich.table import Table

    from colorbench.registry import MODELS

    table = Table("name", "aliases", "hints", "labels", *(["origin", "config"] if verbose else []))
    for name in MODELS.names():
        try:
            cls = MODELS.get(name)
        except Exception as exc:  # noqa: BLE001 — a broken plugin still shows up, with its problem
            table.add_row(name, "", "?", f"[red]{exc}[/red]")
            continue
        extra = [MODELS.origin(name), ", ".join(f"{k}={v}" for k, v in cls.default_config().items())] if verbose else []
        table.add_row(name, ", ".join(MODELS.aliases_of(name)), cls.hint_kind.value, ", ".join(cls.labels), *extra)
    _print_listing(table)


@main.command()
def metrics() -> None:
    """List registered metrics: their record columns, direction, and whether they need weights."""
    from rich.markup import escape
    from rich.table import Table

    from colorbench.metric_registry import DEFAULT_METRICS, METRICS

    table = Table("name", "columns", "better", "kind", "weights", "default", "origin", "description")
    arrows = {True: "higher", False: "lower", None: "none"}
    for name in METRICS.names():
        try:
            m = METRICS.get(name)
        except Exception as exc:  # noqa: BLE001 — a broken plugin still shows up, with its problem
            table.add_row(name, "", "?", "", "", "", METRICS.origin(name), f"[red]{exc}[/red]")
            continue
        table.add_row(name, ", ".join(m.columns), ", ".join(arrows[h] for h in m.higher_is_better),
                      "dataset" if m.dataset_level else "per image", "needs weights" if m.needs_weights else "",
                      "yes" if name in DEFAULT_METRICS else "", METRICS.origin(name), escape(m.description))
    _print_listing(table)


@main.command()
def datasets() -> None:
    """List synthetic datasets and known dataset names (with their NRI thresholds)."""
    from rich.table import Table

    from colorbench.registry import DATASETS

    table = Table("name", "kind", "NRI threshold (dB)")
    for name in DATASETS.names():
        cls = DATASETS.get(name)
        table.add_row(name, "synthetic" if not getattr(cls, "folder", False) else "folder", f"{cls.nri_threshold:g}")
    try:
        from colorbench.data import known_thresholds

        for name, thr in sorted(known_thresholds().items()):
            if name not in DATASETS.names():
                table.add_row(name, "prepare with `colorbench prepare`", f"{thr:g}")
    except ImportError:
        pass
    _print_listing(table)


@main.command()
def protocols() -> None:
    """List registered protocols and the record modes they need."""
    from rich.table import Table

    from colorbench.registry import PROTOCOLS

    table = Table("name", "modes", "title")
    for name in PROTOCOLS.names():
        cls = PROTOCOLS.get(name)
        table.add_row(name, ",".join(cls.modes), cls.title)
    _print_listing(table)


if __name__ == "__main__":
    main()
