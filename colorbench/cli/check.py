"""`colorbench check`: gate a checkpoint against its committed baseline (exit 1 on a regression), or write a
new baseline with --update-baseline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from colorbench.cli.flags import FID_WEIGHTS_HELP, device_flag
from colorbench.errors import UsageError
from colorbench.progress import STDERR


@click.command()
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

    from colorbench.atomic import scratch_dir, sweep_stale, writer_tag
    from colorbench.evaluation.engine import EvalPlan
    from colorbench.evaluation.records import read_json
    from colorbench.evaluation.runner import RunConfig, run_evaluation
    from colorbench.evaluation.variants import zoo_checkpoint
    from colorbench.gate.check import (
        check_same_images,
        check_same_subject,
        compare,
        default_baseline,
        gate_protocol,
        parse_tolerances,
        pooled_baseline,
        read_baseline,
        tolerances_for,
        tracked_metrics,
        write_baseline,
    )
    from colorbench.gate.keys import needed_metrics
    from colorbench.metrics.registry import describe_metrics, per_image_metrics, resolve_metrics
    from colorbench.registry import MODELS

    name = MODELS.canonical(model)
    if update_baseline and not baseline:
        # The default is a file of the installed package: rewriting it by accident would move the shipped gate.
        raise UsageError(f"--update-baseline needs --baseline PATH, the file to write; it never writes the "
                         f"installed package's {default_baseline(name, dataset)} unless you name that path")
    base_path = Path(baseline) if baseline else default_baseline(name, dataset)
    base = None if update_baseline else read_baseline(base_path)
    plan_protocol = EvalPlan()  # the hint law and seed every check evaluates under
    if base:  # a baseline of another model, dataset or protocol is refused before anything is evaluated
        check_same_subject(base, base_path, name, dataset, gate_protocol(plan_protocol))
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
    # Tagged with this process, so that the next check removes the temporary folder of one killed with -9.
    sweep_stale(tempfile.gettempdir(), "colorbench-check.*.partial")
    with scratch_dir(f"colorbench-check.{writer_tag()}.", suffix=".partial") as tmp:
        run_dir = Path(out or tmp)
        cfg = RunConfig(models=[], dataset=dataset, out=str(run_dir), size=size,
                        checkpoints=[f"{label}={p}" for label, p in zip(labels, paths)],
                        limit=limit, data_root=data_root, device=device, fid=fid, fid_weights=fid_weights,
                        plan=EvalPlan(nc=plan_protocol.nc, p=plan_protocol.p, modes=["native"], n_samples=0,
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
