"""`colorbench check`: evaluate one checkpoint and compare its tracked metrics with a stored reference.

Direction-aware, per-metric tolerances (pyiqa's calibration-file idea): PSNR may not drop by more than
its tolerance, NRI and FID may not rise by more than theirs; any registered per-image metric is tracked as
COLUMN_auto / COLUMN_expected with the registry's direction (colorbench.gate.keys). References are small JSON
files holding the metrics, the tolerances and the provenance of the run that produced them ("baselines" are the
comparison models of the paper, in baselines/; the gate's stored numbers are "references").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorbench.errors import UsageError
from colorbench.evaluation.records import metric_columns, read_json, read_records, write_json
from colorbench.gate.keys import TOLERANCES, TRACKABLE, TRACKED, gate_key, known_key
from colorbench.metrics.directions import HIGHER_IS_BETTER

REFERENCE_FORMAT = "colorbench-reference/1"
# Read as well: files written before references were named apart from the comparison models.
READABLE_FORMATS = (REFERENCE_FORMAT, "colorbench-baseline/1")
REFERENCE_DIR = Path(__file__).resolve().parents[1] / "zoo" / "references"


def default_reference(model: str, dataset: str) -> Path:
    """The committed reference of a shipped model: colorbench/zoo/references/MODEL-DATASET.json."""
    return REFERENCE_DIR / f"{model}-{dataset}.json"


def tracked_metrics(run_dir: Path, variant: str) -> dict[str, float]:
    """The gate's metrics of one variant, computed by the same protocol code as Table 1: the fixed five and
    COLUMN_auto / COLUMN_expected of every extra metric column the run wrote (`run --metrics`)."""
    from colorbench.protocols.base import ProtocolContext
    from colorbench.protocols.expected import automatic_psnr_per_image, expected_psnr, mixture_keys
    from colorbench.protocols.fid_sets import fid_cell
    from colorbench.protocols.nri import nri

    run = read_json(run_dir / "run.json")
    records = read_records(run_dir / "records.csv")
    ctx = ProtocolContext(run_dir, run)
    info = run["variants"][variant]
    ids, auto = automatic_psnr_per_image(records, variant)
    out: dict[str, float] = {"psnr_auto": float(auto.mean())}
    fid_auto = fid_cell(ctx, variant, [f"{i}|native|0" for i in ids], ids)
    if fid_auto["value"] is not None:
        out["fid_auto"] = float(fid_auto["value"])
    if info["conditional"]:
        out["psnr_expected"] = expected_psnr(records, variant, ctx.law)
        out["nri"] = nri(records, variant, ctx.nri_threshold, ctx.law.nc)
        fid_exp = fid_cell(ctx, variant, mixture_keys(ids, run["fid"]["nh_assignment"]), ids)
        if fid_exp["value"] is not None:
            out["fid_expected"] = float(fid_exp["value"])
    for column in metric_columns(records):  # as protocols.cells.metric_cells: mean at n = 0, exact E_G
        out[f"{column}_auto"] = float(automatic_psnr_per_image(records, variant, column=column)[1].mean())
        if info["conditional"]:
            out[f"{column}_expected"] = expected_psnr(records, variant, ctx.law, column=column)
    return out


@dataclass
class Verdict:
    metric: str
    reference: float
    current: float | None
    tolerance: float
    higher_is_better: bool | None  # None: no direction (CF), a change either way counts

    def to_json(self) -> dict[str, Any]:
        """The `check --json` entry; "baseline" repeats "reference" under its old name, for one release."""
        return self.__dict__ | {"baseline": self.reference, "regressed": self.regressed}

    @property
    def delta(self) -> float | None:
        return None if self.current is None else self.current - self.reference

    @property
    def regressed(self) -> bool:
        if self.current is None or not math.isfinite(self.current):
            return True  # a metric that vanished or became NaN is a regression, not a pass
        if self.higher_is_better is None:
            worse = abs(self.current - self.reference)
        else:
            worse = self.reference - self.current if self.higher_is_better else self.current - self.reference
        return worse > self.tolerance + 1e-12


def tolerances_for(reference: dict[str, Any], overrides: dict[str, float] | None = None) -> dict[str, float]:
    """{metric: tolerance} of every metric the reference tracks: --tolerance, else the reference's, else the
    default. A metric without any (a registered metric that declares none) is a UsageError, raised by `check`
    before it evaluates anything."""
    stated = reference.get("tolerances", {}) | (overrides or {})
    out = {}
    for metric in reference["metrics"]:
        tolerance = stated.get(metric, known_key(metric, "reference field 'metrics'").tolerance)
        if tolerance is None:
            raise UsageError(f"metric {metric!r} has no default tolerance (its metric declares none): give it in "
                             f"the reference's 'tolerances' or with --tolerance {metric}=VALUE")
        out[metric] = float(tolerance)
    return out


def compare(current: dict[str, float], reference: dict[str, Any], overrides: dict[str, float] | None = None) -> list[Verdict]:
    """One verdict per metric the reference tracks (names checked by read_reference). FID missing now but present
    in the reference (no weights on this machine) is skipped; every other missing metric is a regression."""
    tolerances = tolerances_for(reference, overrides)
    verdicts = []
    for metric, value in reference["metrics"].items():
        if metric.startswith("fid") and metric in TRACKED and metric not in current:
            continue
        verdicts.append(Verdict(metric, float(value), current.get(metric), tolerances[metric],
                                known_key(metric, "reference field 'metrics'").higher_is_better))
    return verdicts


def pooled_reference(per_checkpoint: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """(metrics, tolerances) of a reference made from several checkpoints of one recipe (e.g. seeds).

    Each metric is their mean, and its tolerance the distance from the mean to the worst of them plus the
    default (re-evaluation) tolerance: every checkpoint the reference was made from passes, and a candidate
    fails only when it is worse than the worst of them by more than that default. Only metrics every
    checkpoint has are tracked (FID is missing on all of them without Inception weights).
    """
    if not per_checkpoint:
        raise ValueError("a reference needs at least one checkpoint's metrics")
    metrics, tolerances = {}, {}
    for key in (k for k in per_checkpoint[0] if all(k in m for m in per_checkpoint)):
        values = [m[key] for m in per_checkpoint]
        mean = math.fsum(values) / len(values)
        gk = known_key(key, "pooled reference")
        spread = max(abs(mean - v) for v in values) if gk.higher_is_better is None else \
            abs(mean - (min(values) if gk.higher_is_better else max(values)))
        metrics[key] = mean
        if gk.tolerance is not None:  # none declared: the gate asks for one (compare) rather than guess
            tolerances[key] = spread + gk.tolerance
    return metrics, tolerances


def write_reference(path: Path, model: str, dataset: str, metrics: dict[str, float], run_dir: Path,
                   tolerances: dict[str, float] | None = None,
                   per_checkpoint: dict[str, dict[str, float]] | None = None) -> None:
    """Write a reference from `run_dir`'s evaluation. `per_checkpoint` (variant label → metrics) records
    where a pooled reference (`pooled_reference`) came from: each checkpoint's hash and metrics."""
    run = read_json(run_dir / "run.json")
    variants = run["variants"]
    first = next(iter(variants.values()))
    extra: dict[str, Any] = {}
    if per_checkpoint and len(per_checkpoint) > 1:
        extra["checkpoints"] = [{"checkpoint": variants[label].get("checkpoint"),
                                 "checkpoint_sha256": variants[label]["checkpoint_sha256"], "metrics": m}
                                for label, m in per_checkpoint.items()]
    write_json(path, {
        "format": REFERENCE_FORMAT,
        "model": model,
        "dataset": dataset,
        "metrics": metrics,
        "tolerances": _defaults(metrics, 1) | (tolerances or {}),
        "higher_is_better": _defaults(metrics, 0),
        "checkpoint_sha256": first["checkpoint_sha256"] if not extra else None,
        **extra,
        "n_images": run["dataset"]["n_images"],
        "size": run["dataset"]["size"],
        "dataset_fingerprint": run["dataset"]["fingerprint"],
        "fid": {k: run["fid"].get(k) for k in ("available", "reason", "weights_sha256", "standard")},
        "versions": run["versions"],
        "config_fingerprint": run["config_fingerprint"],
        "protocol": {k: run["protocol"][k] for k in PROTOCOL_KEYS if k in run["protocol"]},
    })


def _defaults(metrics: dict[str, float], field: int) -> dict[str, Any]:
    """{name: default tolerance (field 1) or direction (field 0)} of the fixed five and of `metrics`' others."""
    keys = [gate_key(k) for k in metrics if k not in TRACKED]
    extra = {k.name: (k.higher_is_better, k.tolerance)[field] for k in keys if k is not None}
    fixed = {k: (HIGHER_IS_BETTER[k], TOLERANCES[k])[field] for k in TRACKED}
    return fixed | {k: v for k, v in extra.items() if v is not None or field == 0}


def read_reference(path: Path) -> dict[str, Any]:
    """The reference at `path`, its schema checked: a field of the wrong type or a non-finite number is named
    with the file (one line, exit 2) instead of passing the gate or crashing it."""
    if not path.is_file():
        raise UsageError(f"reference {path} does not exist: create it with `colorbench check … --update-reference`")
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") not in READABLE_FORMATS:
        raise UsageError(f"{path} is not a colorbench reference (format {REFERENCE_FORMAT})")
    metrics = data.get("metrics")
    if not isinstance(metrics, dict):
        raise UsageError(f"{path}: field 'metrics' must be an object of metric: number, got {_json_type(metrics)}")
    if not metrics:
        # Nothing to compare would otherwise pass the gate with "all 0 tracked metrics within tolerance".
        raise UsageError(f"{path}: field 'metrics' holds no metric; {TRACKABLE}")
    unknown = [str(k) for k in metrics if gate_key(str(k)) is None]
    if unknown:
        # Skipping them would pass a checkpoint on metrics nobody compared (a typo, a plugin not installed).
        raise UsageError(f"{path}: field 'metrics' names unknown metric(s) {', '.join(map(repr, unknown))}; {TRACKABLE}")
    tracked = list(metrics)
    for key in tracked:
        finite_number(metrics[key], f"{path}: field 'metrics.{key}'")
    tolerances = data.get("tolerances", {})
    if not isinstance(tolerances, dict):
        raise UsageError(f"{path}: field 'tolerances' must be an object of metric: number, got {_json_type(tolerances)}")
    for key in (k for k in tolerances if k in metrics or k in TRACKED):
        tolerance_value(tolerances[key], f"{path}: field 'tolerances.{key}'")
    for key in ("n_images", "size"):
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise UsageError(f"{path}: field {key!r} must be a positive integer, got {value!r}")
    for key in ("model", "dataset"):  # what the reference measured: check_same_subject compares them
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise UsageError(f"{path}: field {key!r} must name the reference's {key}, got {_json_type(data.get(key))}")
    if not isinstance(data.get("dataset_fingerprint"), str):
        raise UsageError(f"{path}: field 'dataset_fingerprint' must be a string, got "
                         f"{_json_type(data.get('dataset_fingerprint'))}")
    return data


def finite_number(value: Any, what: str) -> float:
    """float(value) for a JSON number that is finite; else a UsageError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def tolerance_value(value: Any, what: str) -> float:
    """A tolerance: finite and not negative (a negative one would fail a checkpoint equal to the reference)."""
    tol = finite_number(value, what)
    if tol < 0:
        raise UsageError(f"{what} must not be negative, got {value!r}")
    return tol


def parse_tolerances(items: tuple[str, ...] | list[str]) -> dict[str, float]:
    """`--tolerance METRIC=VALUE` flags → {metric: tolerance}; unknown metrics and nan/inf/negative values are
    usage errors (`m=nan` would otherwise make every comparison false, i.e. pass)."""
    out: dict[str, float] = {}
    for item in items:
        key, sep, val = (part.strip() for part in item.partition("="))
        if not sep or not key:
            raise UsageError(f"--tolerance {item!r}: use METRIC=VALUE, e.g. psnr_expected=0.5")
        known_key(key, f"--tolerance {item!r}")
        try:
            number = float(val)
        except ValueError:
            raise UsageError(f"--tolerance {item!r}: {val!r} is not a number") from None
        out[key] = tolerance_value(number, f"--tolerance {key}")
    return out


def check_same_images(ref: dict[str, Any], path: Path, run: dict[str, Any]) -> None:
    """Refuse a comparison of numbers measured on other images: a reference of 64 images says nothing about
    32 (a false regression) nor about another size or another version of the data (a false pass)."""
    ds = run["dataset"]
    checks = (("images", ref["n_images"], ds["n_images"], " (--limit)"), ("size", ref["size"], ds["size"], " px (--size)"),
              ("dataset fingerprint", ref["dataset_fingerprint"], ds["fingerprint"], ""))
    # Fingerprints are compared whole and shown by their first 12 hex digits, like report.md's stamp.
    differ = [f"{what} {str(b)[:12]} in the reference, {str(here)[:12]} here{flag}"
              for what, b, here, flag in checks if b != here]
    if differ:
        raise UsageError(f"{path} was measured on other images than this check: {'; '.join(differ)}. Check with "
                         f"the reference's --limit/--size and data, or make a new reference with --update-reference")


# run.json "protocol" settings a reference records and a check must share (the hint law, its seed, the noise).
PROTOCOL_KEYS = ("nc", "p", "seed", "gumbel_noise")


def gate_protocol(plan: Any) -> dict[str, Any]:
    """The PROTOCOL_KEYS of a check evaluating with `plan` (an EvalPlan), as run.json's "protocol" has them."""
    return {"nc": plan.nc, "p": plan.p, "seed": 0, "gumbel_noise": plan.gumbel_noise}


def check_same_subject(ref: dict[str, Any], path: Path, model: str, dataset: str, protocol: dict[str, Any]) -> None:
    """Refuse a reference of another model, dataset or protocol: RTUG's numbers say nothing about GuidingPainter,
    and a gate that compared them would pass or fail at random. A reference without "protocol" (written before
    it was recorded) is compared on model and dataset only."""
    differ = []
    if str(ref.get("model", "")).strip().lower() != model:
        differ.append(f"model {ref.get('model')!r} in the reference, {model!r} here (--model)")
    if str(ref.get("dataset", "")).strip().lower() != dataset.strip().lower():
        differ.append(f"dataset {ref.get('dataset')!r} in the reference, {dataset!r} here (--dataset)")
    recorded = ref.get("protocol")
    if isinstance(recorded, dict):
        differ += [f"protocol {k} {recorded[k]!r} in the reference, {protocol.get(k)!r} here"
                   for k in PROTOCOL_KEYS if k in recorded and recorded[k] != protocol.get(k)]
    elif recorded is not None:
        raise UsageError(f"{path}: field 'protocol' must be an object, got {_json_type(recorded)}")
    if differ:
        raise UsageError(f"{path} is a reference of something else: {'; '.join(differ)}. Pass the reference of this "
                         "model and dataset (--reference), or make one with --update-reference")


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), f"the number {value!r}" if isinstance(value, (int, float)) else type(value).__name__)
