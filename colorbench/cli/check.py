"""`colorbench check`: gate a checkpoint against its committed reference (exit 1 on a regression), or write a
new reference with --update-reference. --baseline / --update-baseline are their old names, kept hidden."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from colorbench.cli.flags import FID_WEIGHTS_HELP, device_flag
from colorbench.defaults import CHECK_IMAGES
from colorbench.errors import UsageError
from colorbench.progress import STDERR


@click.command()
@click.option("--model", required=True, help="Model name or alias (e.g. ours).")
@click.option("--checkpoint", "checkpoints", type=click.Path(dir_okay=False), multiple=True,
              help="Checkpoint to gate [default: the shipped one for a synthetic dataset]. With --update-reference it "
                   "may be repeated (e.g. one per seed): the reference is their mean, each metric's tolerance the "
                   "distance to the worst of them plus the default.")
@click.option("--dataset", required=True)
@click.option("--reference", type=click.Path(dir_okay=False), default=None,
              help="Reference JSON, the numbers to gate against [default: the committed "
                   "colorbench/zoo/references/MODEL-DATASET.json]. --update-reference needs it: the file to write.")
@click.option("--baseline", "old_reference", type=click.Path(dir_okay=False), default=None, hidden=True,
              help="Deprecated name of --reference.")
@click.option("--tolerance", "tolerances", multiple=True, metavar="METRIC=VALUE",
              help="Override a tolerance, e.g. psnr_expected=0.5 (PSNR: max drop in dB; NRI/FID: max rise).")
@click.option("--limit", type=int, default=None,
              help=f"Test images [default: the reference's count, else {CHECK_IMAGES}].")
@click.option("--size", type=int, default=None,
              help="Image size [default: the reference's, else a prepared dataset's own, else 64].")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, envvar="COLORBENCH_DATA")
@click.option("--device", default="auto", show_default=True, callback=device_flag)
@click.option("--fid/--no-fid", default=True, show_default=True)
@click.option("--fid-weights", type=click.Path(dir_okay=False), default=None, help=FID_WEIGHTS_HELP)
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Keep the evaluation here [temp dir].")
@click.option("--update-reference", is_flag=True, help="Write the measured metrics as the new reference and exit 0.")
@click.option("--update-baseline", "old_update", is_flag=True, hidden=True, help="Deprecated name of --update-reference.")
@click.option("--metrics", "metric_names", default=None,
              help="Per-image metrics to measure beside PSNR (e.g. ssim,deltae): a new reference tracks their "
                   "COLUMN_auto / COLUMN_expected. When gating, those the reference names are always measured.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON on stdout.")
def check(model: str, checkpoints: tuple[str, ...], dataset: str, reference: str | None, old_reference: str | None,
          tolerances: tuple[str, ...], limit: int | None, size: int | None, data_root: str | None, device: str,
          fid: bool, fid_weights: str | None, out: str | None, update_reference: bool, old_update: bool,
          metric_names: str | None, as_json: bool) -> None:
    """Gate a checkpoint: exit 0 if every tracked metric is within tolerance of the reference, 1 if not."""
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
        default_reference,
        gate_protocol,
        parse_tolerances,
        pooled_reference,
        read_reference,
        tolerances_for,
        tracked_metrics,
        write_reference,
    )
    from colorbench.gate.keys import needed_metrics
    from colorbench.metrics.registry import describe_metrics, per_image_metrics, resolve_metrics
    from colorbench.registry import MODELS

    reference, update_reference = _renamed_flags(reference, old_reference, update_reference, old_update)
    name = MODELS.canonical(model)
    if update_reference and not reference:
        # The default is a file of the installed package: rewriting it by accident would move the shipped gate.
        raise UsageError(f"--update-reference needs --reference PATH, the file to write; it never writes the "
                         f"installed package's {default_reference(name, dataset)} unless you name that path")
    ref_path = Path(reference) if reference else default_reference(name, dataset)
    ref = None if update_reference else read_reference(ref_path)
    plan_protocol = EvalPlan()  # the hint law and seed every check evaluates under
    if ref:  # a reference of another model, dataset or protocol is refused before anything is evaluated
        check_same_subject(ref, ref_path, name, dataset, gate_protocol(plan_protocol))
    overrides = parse_tolerances(tolerances)
    if ref:
        tolerances_for(ref, overrides)  # a metric without a tolerance is refused before the evaluation
    # The reference's metrics decide what is measured (as `run --metrics`); --metrics adds to them.
    asked = [n for n in (metric_names or "").split(",") if n.strip()]
    selected = resolve_metrics(["psnr", *asked, *needed_metrics(list(ref["metrics"]) if ref else [])])
    if len(checkpoints) > 1 and not update_reference:
        raise click.BadParameter("several --checkpoint make a reference (--update-reference); gate one at a time",
                                 param_hint="--checkpoint")
    paths = [Path(c) for c in checkpoints] or [zoo_checkpoint(name, dataset)]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing and not checkpoints:
        raise UsageError(f"no shipped {name} checkpoint for {dataset!r} ({missing[0]}): pass --checkpoint PATH")
    if missing:
        raise UsageError(f"--checkpoint: no such file: {', '.join(missing)}")
    labels = [name] if len(paths) == 1 else [f"{name}@{k}" for k in range(1, len(paths) + 1)]
    limit = limit or (ref["n_images"] if ref else CHECK_IMAGES)
    size = size or (ref["size"] if ref else None)  # None: the dataset's own (RunConfig)
    if ref:  # another --limit/--size is refused before the evaluation, whose numbers could not be compared
        check_same_images(ref, ref_path, {"dataset": {"n_images": limit, "size": size,
                                                        "fingerprint": ref["dataset_fingerprint"]}})
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
        if ref:
            check_same_images(ref, ref_path, read_json(run_dir / "run.json"))
        measured = {label: tracked_metrics(run_dir, label) for label in labels}
        current = measured[labels[0]]
        if update_reference:
            spread: dict[str, float] = {}
            if len(labels) > 1:
                current, spread = pooled_reference(list(measured.values()))
            tol = spread | overrides  # an explicit --tolerance wins over the spread
            write_reference(ref_path, name, dataset, current, run_dir, tol, per_checkpoint=measured)
            STDERR.print(f"wrote reference {ref_path} ({len(labels)} checkpoint(s)): "
                         + ", ".join(f"{k}={v:.3f}" + (f" (tolerance {tol[k]:.3f})" if k in tol else "") for k, v in current.items()),
                         markup=False)
            return
    verdicts = compare(current, ref, overrides)
    if not verdicts:
        raise UsageError(f"nothing to compare: {ref_path} tracks only {', '.join(ref['metrics'])}, which this "
                         f"check did not measure (FID needs Inception weights: --fid-weights)")
    table = Table("metric", "reference", "current", "delta", "tolerance", "verdict", title=f"check {name} on {dataset}")
    for v in verdicts:
        cur = "missing" if v.current is None else f"{v.current:.3f}"
        delta = "" if v.delta is None else f"{v.delta:+.3f}"
        table.add_row(v.metric, f"{v.reference:.3f}", cur, delta, f"{'-' if v.higher_is_better else '+'}{v.tolerance:g}",
                      "[red]REGRESSED[/red]" if v.regressed else "[green]ok[/green]")
    STDERR.print(table)
    if as_json:
        click.echo(json.dumps([v.to_json() for v in verdicts], indent=2))
    if any(v.regressed for v in verdicts):
        STDERR.print(f"{sum(v.regressed for v in verdicts)} metric(s) regressed against {ref_path}",
                     style="bold red", markup=False)
        sys.exit(1)
    STDERR.print(f"all {len(verdicts)} tracked metrics within tolerance of {ref_path}", style="green", markup=False)


def _renamed_flags(reference: str | None, old_reference: str | None, update: bool,
                   old_update: bool) -> tuple[str | None, bool]:
    """(--reference, --update-reference) with their deprecated names --baseline / --update-baseline folded in
    (kept for one release; "baselines" are the comparison models, the gate's numbers are references)."""
    if old_reference is not None:
        if reference is not None and reference != old_reference:
            raise UsageError("--baseline is the old name of --reference: give one of them")
        STDERR.print("--baseline is deprecated: use --reference", style="yellow", markup=False)
        reference = old_reference
    if old_update:
        STDERR.print("--update-baseline is deprecated: use --update-reference", style="yellow", markup=False)
    return reference, update or old_update
