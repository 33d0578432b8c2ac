"""Several runs into one `--out`: a later run adds its variants to the folder's records and run.json (a variant
re-run replaces its own rows), provided both ran on the same images under the same protocol. Torch-free."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from colorbench.errors import UsageError
from colorbench.evaluation.records import read_records
from colorbench.evaluation.rundir import read_run

# run.json fields two runs must agree on before their records share one folder's tables: the images (dataset
# fingerprint, size, count, limit), the protocol and the FID set-up. Checkpoints, models and the per-run
# provenance may differ — that is what a merge is for.
DATASET_KEYS = ("name", "split", "size", "n_images", "fingerprint", "nri_threshold")
PLAN_VOLATILE = ("batch_size",)  # never changes results (RunConfig.fingerprint drops it too)


def run_setting(run: dict[str, Any]) -> dict[str, Any]:
    """The flat {field: value} of `run` (a run.json document) that must match for a merge."""
    setting: dict[str, Any] = {f"dataset.{k}": (run.get("dataset") or {}).get(k) for k in DATASET_KEYS}
    setting |= {f"protocol.{k}": v for k, v in sorted((run.get("protocol") or {}).items())}
    config = run.get("config") if isinstance(run.get("config"), dict) else {}
    setting["limit"] = config.get("limit")
    plan = config.get("plan") if isinstance(config.get("plan"), dict) else {}
    setting |= {f"plan.{k}": v for k, v in sorted(plan.items()) if k not in PLAN_VOLATILE}
    fid = run.get("fid") or {}
    setting |= {"fid.available": fid.get("available"), "fid.weights_sha256": fid.get("weights_sha256")}
    return setting


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """'field: old vs new' for each field of two `run_setting`s that differs (hashes shortened)."""
    return [f"{k}: {_short(old.get(k))} vs {_short(new.get(k))}" for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)]


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text[:13] + "…\"" if isinstance(value, str) and len(value) > 16 else text


def kept_variants(out: Path, labels: set[str]) -> tuple[dict[str, Any] | None, list[str]]:
    """(the folder's run.json or None, its variants this run does not re-run and whose rows it keeps).
    Nothing to keep without a run.json or a records.csv: the run then writes the folder from scratch."""
    if not (out / "run.json").is_file() or not (out / "records.csv").is_file():
        return None, []
    old = read_run(out)
    return old, [label for label in old["variants"] if label not in labels]


def check_mergeable(out: Path, new_run: dict[str, Any]) -> dict[str, Any] | None:
    """The run.json to merge `new_run` into (None: nothing to keep); a UsageError naming every differing field
    when the folder holds other variants measured on other images or under another protocol."""
    old, kept = kept_variants(out, set(new_run["variants"]))
    if not kept:
        return None
    diff = differences(run_setting(old), run_setting(new_run))
    if diff:
        raise UsageError(f"{out} holds {', '.join(kept)} from a run with other settings ({'; '.join(diff)}): a run "
                         f"adds its variants to an --out only with the same data and protocol; choose another --out "
                         f"(or re-run all of {', '.join(old['variants'])} with these settings)")
    return old


def merge_records(out: Path, new: pd.DataFrame, old_run: dict[str, Any] | None, labels: set[str]) -> pd.DataFrame:
    """`new` (the rows of this run's variants `labels`) plus the folder's rows of the variants it did not re-run:
    a re-run variant's old rows go, even when it has no new rows (none of its modes applied this time)."""
    if old_run is None:
        return new
    old = read_records(out / "records.csv")
    old = old[old["variant"].isin(set(old_run["variants"]) - labels)]
    return pd.concat([old, new], ignore_index=True) if not old.empty else new


def merge_run(new_run: dict[str, Any], old_run: dict[str, Any] | None, kept_rows: set[str]) -> dict[str, Any]:
    """run.json of the merged folder: every variant with its own provenance (`variants[label]["run"]`), the shared
    settings of the latest run, `runs`: the runs that still contribute rows, and their warnings and cache entries."""
    if old_run is None:
        return new_run | {"runs": [_run_entry(new_run)]}
    kept = [label for label in old_run["variants"] if label not in new_run["variants"] and label in kept_rows]
    if not kept:
        return new_run | {"runs": [_run_entry(new_run)]}
    variants = {label: _with_provenance(old_run, label) for label in kept} | new_run["variants"]
    runs = [r | {"variants": [v for v in r["variants"] if v in kept]} for r in _runs(old_run)]
    runs = [r for r in runs if r["variants"]] + [_run_entry(new_run)]
    warnings = [line for label in kept for line in variants[label]["run"].get("warnings", [])]
    old_entries = (old_run.get("cache") or {}).get("entries") or {}
    cache = dict(new_run.get("cache") or {})
    cache["entries"] = {k: v for k, v in old_entries.items() if k in kept} | (cache.get("entries") or {})
    stale = [label for label in kept
             if variants[label]["run"].get("source_fingerprint") != cache.get("source_fingerprint")]
    if stale:
        warnings.append(f"{', '.join(stale)}: computed by other colorbench source code than "
                        f"{', '.join(new_run['variants'])}; re-run them to measure every row with the same code")
    fingerprints = sorted({r["config_fingerprint"] for r in runs})
    return new_run | {
        "variants": variants,
        "runs": runs,
        "warnings": warnings + list(new_run.get("warnings") or []),
        "cache": cache,
        "region_source": new_run.get("region_source") or old_run.get("region_source"),
        # One fingerprint for the folder: the run's own when one run made it, else one over the contributing runs.
        "config_fingerprint": fingerprints[0] if len(fingerprints) == 1
        else hashlib.sha256(json.dumps(fingerprints).encode()).hexdigest(),
    }


def variant_provenance(run: dict[str, Any], label: str, region_source: dict[str, Any] | None = None) -> dict[str, Any]:
    """What `variants[label]["run"]` records of the run `run` (its run.json) that computed `label`'s rows;
    `region_source`: the GuidingPainter checkpoint whose regions placed its hints, if any."""
    cache = run.get("cache") or {}
    return {"config": run.get("config"), "config_fingerprint": run.get("config_fingerprint"),
            "created": run.get("created"), "git": run.get("git"), "versions": run.get("versions"),
            "source_fingerprint": cache.get("source_fingerprint"), "region_source": region_source,
            "warnings": [w for w in run.get("warnings") or [] if w.startswith(f"{label}: ")]}


def _with_provenance(run: dict[str, Any], label: str) -> dict[str, Any]:
    # run.json written before merges existed has no per-variant provenance: its top level is that variant's.
    info = dict(run["variants"][label])
    placed = run.get("region_source") if info.get("hint_kind") in ("point", "stroke") else None
    info.setdefault("run", variant_provenance(run, label, placed))
    return info


def _run_entry(run: dict[str, Any]) -> dict[str, Any]:
    return {"config_fingerprint": run.get("config_fingerprint"), "created": run.get("created"),
            "variants": list(run["variants"])}


def _runs(run: dict[str, Any]) -> list[dict[str, Any]]:
    runs = run.get("runs")
    if isinstance(runs, list) and all(isinstance(r, dict) and isinstance(r.get("variants"), list) for r in runs):
        return runs
    return [_run_entry(run)]
