"""The `colorbench` command line: run, report, check, train, prepare, snail, study, models, datasets, protocols.

Progress goes to stderr (rich). `run` and `report` print Table 1 and `--compare` on stdout (rich on a
terminal, Markdown into a pipe or file), or on stderr with `--json`, which prints machine-readable results
on stdout, as do the listings of `models`, `datasets` and `protocols`.
Exit codes: 0 ok, 1 regression found (`check` only), 2 usage, set-up or bad-input error
(colorbench.errors.UsageError: one line naming the file or flag and saying what to do; `--debug` shows its
traceback), 3 `check` crashed (a bug: never read as a verdict), 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM). Anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from colorbench.cli_check import check
from colorbench.cli_listings import datasets, metrics, models, protocols
from colorbench.cli_train import train
from colorbench.defaults import EVAL, ZooBudget
from colorbench.errors import UsageError, environment_error
from colorbench.flags import FID_WEIGHTS_HELP, SIZE_DEFAULT_HELP, check_sweep, device_flag, finite_flag
from colorbench.progress import STDERR
from colorbench.study.commands import study


def _fail(exc: BaseException) -> None:
    from rich.text import Text

    # One unwrapped line, no markup: paths stay copy-pasteable and '[...]' in a message is not eaten as style.
    STDERR.print(Text.assemble(("error:", "bold red"), " ", str(exc)), soft_wrap=True)
    sys.exit(2)


class _Group(click.Group):
    """Turns usage and set-up errors (UsageError) into one readable line and exit code 2; anything else is a
    bug and keeps its traceback, as does every error under `--debug`."""

    def invoke(self, ctx: click.Context) -> Any:
        previous = _handle_signals()
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # 130 = 128 + SIGINT, the shell's code for Ctrl-C; click's default (1) would read as "regression".
            STDERR.print("interrupted", markup=False)
            sys.exit(130)
        except UsageError as exc:
            if ctx.params.get("debug"):
                _never_a_verdict(ctx, 2)
                raise
            _fail(exc)
        except OSError as exc:
            usage = environment_error(exc)
            if usage is None or ctx.params.get("debug"):
                _never_a_verdict(ctx, 2 if usage is not None else CRASHED)
                raise
            _fail(usage)
        except MemoryError:
            if ctx.params.get("debug"):
                _never_a_verdict(ctx, 2)
                raise
            _fail(_out_of_memory(ctx))
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own usage errors and exits: click reports them (exit 2 / their own code)
        except Exception as exc:
            # The signal's exception raised inside a C extension's callback can come out as another error
            # (matplotlib's renderer turns it into "ValueError: Invalid bounding box"): still the interrupt.
            if _RECEIVED and not ctx.params.get("debug"):
                STDERR.print("interrupted", markup=False)
                sys.exit(128 + _RECEIVED[0])
            if _torch_out_of_memory(exc) and not ctx.params.get("debug"):
                _fail(_out_of_memory(ctx))
            _never_a_verdict(ctx, CRASHED)
            raise
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


CRASHED = 3  # `check` hit a bug: its traceback, and a code no CI reads as a verdict (Python's own would be 1)


def _never_a_verdict(ctx: click.Context, code: int) -> None:
    """Under `check`, where exit code 1 means "regression", end an escaping exception (a bug, or a usage error
    under --debug) with its traceback and `code` instead of Python's exit code 1. Other commands: no-op."""
    if ctx.invoked_subcommand != "check":
        return
    import traceback

    traceback.print_exc()
    if code == CRASHED:
        STDERR.print(f"check crashed (exit {CRASHED}): a bug in colorbench or a plugin, not a verdict on the "
                     "checkpoint", style="bold red", markup=False)
    sys.exit(code)


_RECEIVED: list[int] = []  # the SIGINT/SIGTERM this process got, in order
# What to lower when a command runs out of memory (MemoryError): the flags that bound its peak.
_EVAL_MEMORY = ("lower --forward-rows (rows per model call) and --batch-size, or --num-workers or --size; finished "
                "images stay in the cache and are not computed again")
_LOWER = {"run": _EVAL_MEMORY, "check": _EVAL_MEMORY, "train": "lower --batch-size or --size",
          "prepare": "lower --size, or shrink the largest source images"}


def _out_of_memory(ctx: click.Context) -> UsageError:
    command = ctx.invoked_subcommand or ""
    return UsageError(f"out of memory in `colorbench {command}`: {_LOWER.get(command, 'free memory or lower --size')}")


def _torch_out_of_memory(exc: BaseException) -> bool:
    """torch's allocators fail with RuntimeErrors, not MemoryError: CUDA's OutOfMemoryError, and the CPU
    allocator's "DefaultCPUAllocator: can't allocate memory"."""
    if any(cls.__name__ == "OutOfMemoryError" for cls in type(exc).__mro__):
        return True
    return isinstance(exc, RuntimeError) and "DefaultCPUAllocator: can't allocate memory" in str(exc)


def _on_signal(signum: int, _frame: Any) -> None:
    _RECEIVED.append(signum)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    sys.exit(128 + signum)


def _handle_signals() -> dict[int, Any]:
    """SIGTERM becomes SystemExit(143), so context managers and `finally` blocks run (check's temporary folder,
    the chunk writer) instead of the process vanishing; SIGINT stays KeyboardInterrupt (unless ignored, as in a
    background job). Both are remembered (`_RECEIVED`). → the previous handlers (none off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _on_signal)}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _on_signal)
    return previous


def _warn(message: str) -> None:
    """One yellow warning line on stderr (no markup: a plugin's message may hold brackets)."""
    STDERR.print(f"warning: {message}", style="yellow", markup=False, soft_wrap=True)


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
    naming the file or flag) · 3 check crashed (never a verdict) · 130 interrupted (Ctrl-C) ·
    143 terminated (SIGTERM). A traceback means a bug in colorbench.
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
@click.option("--batch-size", default=EVAL.batch_size, show_default=True, type=click.IntRange(min=1),
              help="Test images processed together (memory; never changes results).")
@click.option("--forward-rows", default=EVAL.forward_rows, show_default=True, type=click.IntRange(min=1),
              help="Rows per model call. Every call has exactly this many (the last one padded): float32 "
                   "convolutions round differently by batch size, so this — not --batch-size — is part of "
                   "the run's fingerprint. Lower it if a forward runs out of memory.")
@click.option("--num-workers", default=0, show_default=True, type=click.IntRange(min=0),
              help="Processes decoding test images in parallel (never changes results).")
@click.option("--modes", default=",".join(EVAL.run_modes), show_default=True,
              help="Record modes to compute (protocols need: native; Fig. 5 ablation; E.2 perturbed; Fig. 3 equalized; "
                   "hint_policy policies, see `colorbench protocols`).")
@click.option("--protocols", "protocol_names", default=None, metavar="NAMES",
              help="Add the record modes these protocols need to --modes, e.g. hint_policy "
                   "(`colorbench protocols` lists them with their modes).")
@click.option("--policy-perms", default=4, show_default=True, type=click.IntRange(min=1),
              help="policies mode: seeded random orders of a region model's regions, averaged per image.")
@click.option("--policy-oracle", type=click.Choice(["mass", "exact"]), default="mass", show_default=True,
              help="policies mode, region models: next the region with the largest error mass of the current output "
                   "(one forward per hint), or the one whose hint scores best (one forward per candidate region).")
@click.option("--sweep", default=",".join(map(str, EVAL.sweep)), show_default=True, help="Hint counts of Fig. 12.")
@click.option("--fid/--no-fid", default=True, show_default=True, help="Compute FID when Inception weights are found.")
@click.option("--fid-weights", type=click.Path(dir_okay=False), default=None, help=FID_WEIGHTS_HELP)
@click.option("--metrics", "metric_names", default="psnr,fid", show_default=True,
              help="Comma-separated metrics (`colorbench metrics`), e.g. psnr,ssim,deltae,cf. PSNR is always "
                   "computed (NRI and the curves use it); FID only when listed.")
@click.option("--nri-threshold", type=float, default=None, callback=finite_flag, help="Override the dataset's NRI PSNR threshold (dB).")
@click.option("--compare", default=None, help="Paired bootstrap between two variants, e.g. ours,rtug.")
@click.option("--paper-rows", is_flag=True, help="Add the paper's published numbers as reference rows.")
@click.option("--gumbel-noise", is_flag=True, help="Keep Gumbel noise in GuidingPainter's regions (official test script).")
@click.option("--samples", "n_samples", default=EVAL.n_samples, show_default=True, type=click.IntRange(min=0),
              help="Test images, drawn at random (seeded), whose pictures (outputs and hints at n = 0..12) are kept "
                   "for the figures and report.html's image browser.")
@click.option("--figure-images", default=None, metavar="ID,ID,…",
              help="Test images the guidance strips and Fig. 3 show (their pictures are kept too) [default: "
                   "spread over the quantiles of the pictured images' gain from hints, docs/report.md].")
@click.option("--amp", is_flag=True, help="CUDA only: forwards under autocast (faster; fp16 rounding moves records "
                                          "slightly, so it is part of the run's fingerprint).")
@click.option("--resume/--no-resume", default=True, show_default=True, help="Reuse finished images from the cache.")
@click.option("--json", "as_json", is_flag=True, help="Print results.json on stdout.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--input", "input_mode", type=click.Choice(["sketch", "grayscale"]), default=None,
              help="Network input: the sketch, or the L channel (grayscale, paper supplement B / Table 4; "
                   "docs/grayscale.md) [default: the dataset's own, e.g. grayscale for toon-gray].")
def run(models: str, dataset: str, out: str | None, checkpoints: tuple[str, ...], size: int | None, limit: int | None,
        data_root: str | None, device: str, batch_size: int, forward_rows: int, num_workers: int, modes: str,
        sweep: str, fid: bool, fid_weights: str | None, metric_names: str,
        nri_threshold: float | None, compare: str | None, paper_rows: bool, gumbel_noise: bool, n_samples: int,
        figure_images: str | None, amp: bool, resume: bool, as_json: bool, quiet: bool,
        input_mode: str | None = None, policy_perms: int = 4, policy_oracle: str = "mass",
        protocol_names: str | None = None) -> None:
    """Evaluate models on a dataset and write records, tables, figures and results.json."""
    from colorbench.data import dataset_key
    from colorbench.engine import EvalPlan
    from colorbench.metric_registry import describe_metrics, per_image_metrics, resolve_metrics
    from colorbench.records import MODES
    from colorbench.registry import resolve_model_names
    from colorbench.runner import RunConfig, run_evaluation

    dataset_key(dataset)  # '../x' would be read outside the data root and written to results/../x
    mode_list = [m.strip() for m in modes.split(",") if m.strip()]
    if protocol_names:
        from colorbench.protocols.run_protocols import required_modes
        from colorbench.registry import PROTOCOLS

        # An unknown name is a UsageError (UnknownNameError) listing the registered protocols.
        wanted = required_modes([PROTOCOLS.canonical(p.strip()) for p in protocol_names.split(",") if p.strip()])
        mode_list += sorted(wanted - set(mode_list))
    bad = [m for m in mode_list if m not in MODES]
    if bad or "native" not in mode_list:
        raise click.BadParameter(f"modes must include 'native' and be among {', '.join(MODES)}; got {modes!r}")
    names = resolve_model_names(models, _warn) if models.strip() else []
    if not names and not checkpoints:  # `--models ""` alone: nothing to evaluate, nothing may be written
        raise UsageError(f"--models {models!r}: no model to evaluate; name models (`colorbench models`) or give "
                         "--checkpoint NAME=PATH")
    if limit is not None and limit <= 0:
        raise UsageError(f"--limit must be a positive number of test images (got {limit})")
    selected = resolve_metrics(metric_names)  # an unknown name is a UsageError listing the known ones
    plan = EvalPlan(sweep=_csv_ints(sweep), modes=mode_list, batch_size=batch_size, forward_rows=forward_rows,
                    n_samples=n_samples, figure_images=_csv_ids(figure_images), gumbel_noise=gumbel_noise, amp=amp,
                    policy_perms=policy_perms, policy_oracle=policy_oracle,
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
        from colorbench.protocols.compare import check_compare
        from colorbench.registry import MODELS
        from colorbench.variants import resolve_variants

        check_compare(compare, {v.label: MODELS.get(v.model).info().to_json() | {"model": v.model, "tag": v.tag}
                                for v in resolve_variants(names, list(checkpoints), dataset)})
    cfg = RunConfig(models=names, dataset=dataset, out=out or f"results/{dataset}", checkpoints=list(checkpoints),
                    size=size, limit=limit, data_root=data_root, device=device, resume=resume, fid=fid,
                    fid_weights=fid_weights, plan=plan, num_workers=num_workers, input=input_mode)
    run_dir = run_evaluation(cfg, progress=not quiet)
    from colorbench import distributed

    if distributed.init().rank != 0:
        return
    _report(run_dir, {"nri_threshold": nri_threshold, "compare": compare, "paper_rows": paper_rows,
                      "figure_images": _csv_ids(figure_images) or None}, as_json)


def _csv_ids(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _report(run_dir: Path, options: dict[str, Any], as_json: bool) -> None:
    from colorbench.atomic import run_lock

    with run_lock(run_dir):  # another run into the same OUT may be merging or rendering right now
        _render(run_dir, options, as_json)


def _render(run_dir: Path, options: dict[str, Any], as_json: bool) -> None:
    from colorbench.reports.console import print_summary
    from colorbench.reports.render import render_report

    result = render_report(run_dir, options)
    # Table 1 and --compare are the command's output: on stdout, where a pipe or `> log` gets them as
    # Markdown, one line per row; with --json stdout holds the JSON, and they go to stderr.
    print_summary(result["results"], sys.stderr if as_json else sys.stdout)
    STDERR.print(f"wrote {run_dir}/tables, {run_dir}/figures, {run_dir}/results.json and {run_dir}/report.html "
                 "(every table and figure, and an image browser)", markup=False, soft_wrap=True)
    if as_json:
        click.echo(json.dumps(result["results"], indent=2, default=str))


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--nri-threshold", type=float, default=None, callback=finite_flag, help="Override the dataset's NRI threshold (dB).")
@click.option("--compare", default=None, help="Paired bootstrap between two variants, e.g. ours,rtug.")
@click.option("--paper-rows", is_flag=True, help="Add the paper's published numbers as reference rows.")
@click.option("--figure-images", default=None, metavar="ID,ID,…",
              help="Test images the guidance strips and Fig. 3 show; they need pictures in samples/ (run's "
                   "--samples draw or its --figure-images).")
@click.option("--json", "as_json", is_flag=True, help="Print results.json on stdout.")
def report(run_dir: str, nri_threshold: float | None, compare: str | None, paper_rows: bool,
           figure_images: str | None, as_json: bool) -> None:
    """Re-render tables, figures and report.html of RUN_DIR from its records and samples (no model runs)."""
    if not (Path(run_dir) / "records.csv").exists():
        raise UsageError(f"{run_dir} has no records.csv: run `colorbench run --out {run_dir} …` first")
    _report(Path(run_dir), {"nri_threshold": nri_threshold, "compare": compare, "paper_rows": paper_rows,
                            "figure_images": _csv_ids(figure_images) or None}, as_json)


# --------------------------------------------------------------------------------------------- data
@main.command()
@click.argument("name")
@click.option("--src", required=True, type=click.Path(exists=True, file_okay=False), help="Folder of colour images.")
@click.option("--size", default=256, show_default=True, help="Square size every image is resized to (32 to 4096).")
@click.option("--sketches", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder of given line art with the same file names (instead of XDoG).")
@click.option("--xdog-sigma", type=float, default=None, callback=finite_flag,
              help="XDoG line scale σ for every image [default: 0.3, 0.4 or 0.5 by image id]; larger = thicker lines.")
@click.option("--xdog-tau", type=float, default=None, callback=finite_flag,
              help="XDoG τ [default 0.95]: higher keeps fainter outlines (nearly empty sketches), lower blackens "
                   "fewer dark fills (nearly solid ones).")
@click.option("--xdog-epsilon", type=float, default=None, callback=finite_flag,
              help="XDoG threshold ε [default 0]: negative makes fewer pixels black, positive more.")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, envvar="COLORBENCH_DATA",
              help="Where prepared datasets are written [env COLORBENCH_DATA, default ./data].")
@click.option("--nri-threshold", type=float, default=None, callback=finite_flag, help="NRI threshold stored for an unknown dataset name.")
@click.option("--overwrite", is_flag=True, help="Replace an existing prepared dataset of that name.")
@click.option("--input", "input_mode", type=click.Choice(["sketch", "grayscale"]), default="sketch",
              show_default=True, help="grayscale: no sketches are extracted and the dataset is evaluated on its "
                                      "L channel by default (docs/grayscale.md).")
def prepare(name: str, src: str, size: int, sketches: str | None, data_root: str | None,
            nri_threshold: float | None, overwrite: bool, input_mode: str = "sketch", xdog_sigma: float | None = None,
            xdog_tau: float | None = None, xdog_epsilon: float | None = None) -> None:
    """Resize, extract XDoG sketches and split 81:9:10 into DATA_ROOT/NAME/{train,val,test}/{color,sketch}.

    Identical images go to one split; sketches that come out nearly empty or nearly solid are listed in the
    manifest (docs/own-data.md, Sketch quality)."""
    from colorbench.data.prepare import prepare_dataset

    if input_mode == "grayscale" and sketches:
        raise UsageError("--sketches gives line art, which a --input grayscale dataset does not keep: drop one")
    kwargs: dict[str, Any] = {"size": size, "sketches": sketches, "overwrite": overwrite}
    xdog_params = {k: v for k, v in (("sigma", xdog_sigma), ("tau", xdog_tau), ("epsilon", xdog_epsilon))
                   if v is not None}
    if xdog_params:
        kwargs["xdog_params"] = xdog_params
    if input_mode == "grayscale":
        kwargs["input_mode"] = "grayscale"
    if nri_threshold is not None:
        kwargs["nri_threshold"] = nri_threshold
    report = prepare_dataset(name, src, data_root or "data", **kwargs)
    STDERR.print(str(report), markup=False, soft_wrap=True)


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
@click.option("--seed", default=ZooBudget.seed, show_default=True,
              help="Training seed (the shipped checkpoints': 0). Other seeds, exported with --out, are what a "
                   "pooled gate baseline measures the seed spread from (docs/gate.md).")
@click.option("--device", default="cpu", show_default=True, callback=device_flag)
def zoo_build(models: str, dataset: str, epochs: int, limit: int, lr: float, size: int, width: float,
              batch_size: int, threads: int, jobs: int, work_dir: str, out: str | None, seed: int,
              device: str) -> None:
    """Train every model with one equal budget and export the shipped checkpoints (resumable)."""
    from colorbench.registry import resolve_model_names
    from colorbench.variants import ZOO_DIR
    from colorbench.zoo import ZooBuildError, build_zoo

    budget = ZooBudget(dataset=dataset, size=size, width=width, epochs=epochs, limit=limit, batch_size=batch_size,
                       lr=lr, seed=seed, threads=threads)
    STDERR.print(f"budget: {budget.describe()}")
    try:
        build_zoo(resolve_model_names(models, _warn), budget, Path(work_dir), device=device, log=STDERR.print, jobs=jobs,
                  out_dir=Path(out) if out else ZOO_DIR)
    except ZooBuildError as exc:
        raise click.ClickException(str(exc)) from exc


# The commands kept in their own modules (colorbench.cli_*).
for command in (train, check, models, metrics, datasets, protocols):
    main.add_command(command)


main.add_command(study)  # `colorbench study serve|report` (colorbench/study/commands.py)


if __name__ == "__main__":
    main()

