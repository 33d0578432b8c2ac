"""`colorbench run` (evaluate models, then render) and `colorbench report` (render a run folder again)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from colorbench.cli.flags import (
    FID_WEIGHTS_HELP,
    SIZE_DEFAULT_HELP,
    check_sweep,
    csv_ints,
    device_flag,
    finite_flag,
    warn,
)
from colorbench.defaults import EVAL
from colorbench.errors import UsageError
from colorbench.progress import STDERR


@click.command()
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
    from colorbench.evaluation.engine import EvalPlan
    from colorbench.evaluation.records import MODES
    from colorbench.evaluation.runner import RunConfig, run_evaluation
    from colorbench.metrics.registry import describe_metrics, per_image_metrics, resolve_metrics
    from colorbench.registry import resolve_model_names

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
    names = resolve_model_names(models, warn) if models.strip() else []
    if not names and not checkpoints:  # `--models ""` alone: nothing to evaluate, nothing may be written
        raise UsageError(f"--models {models!r}: no model to evaluate; name models (`colorbench models`) or give "
                         "--checkpoint NAME=PATH")
    if limit is not None and limit <= 0:
        raise UsageError(f"--limit must be a positive number of test images (got {limit})")
    selected = resolve_metrics(metric_names)  # an unknown name is a UsageError listing the known ones
    plan = EvalPlan(sweep=csv_ints(sweep), modes=mode_list, batch_size=batch_size, forward_rows=forward_rows,
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
        from colorbench.evaluation.variants import resolve_variants
        from colorbench.protocols.compare import check_compare
        from colorbench.registry import MODELS

        check_compare(compare, {v.label: MODELS.get(v.model).info().to_json() | {"model": v.model, "tag": v.tag}
                                for v in resolve_variants(names, list(checkpoints), dataset)})
    cfg = RunConfig(models=names, dataset=dataset, out=out or f"results/{dataset}", checkpoints=list(checkpoints),
                    size=size, limit=limit, data_root=data_root, device=device, resume=resume, fid=fid,
                    fid_weights=fid_weights, plan=plan, num_workers=num_workers, input=input_mode)
    run_dir = run_evaluation(cfg, progress=not quiet)
    from colorbench.training import ddp

    if ddp.init().rank != 0:
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


@click.command()
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
