"""results.json: every number of every table plus the provenance that produced it, copied from run.json
(config + fingerprint, versions, git, checkpoint sha256, dataset fingerprint, seeds, FID weights identity).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from colorbench.evaluation.records import write_json
from colorbench.metrics.directions import HIGHER_IS_BETTER
from colorbench.versions import versions

SCHEMA = "colorbench.results/1"

# Old names results.json still writes beside the current ones, for one release: every object that has the
# current key also has the alias with the same value, and a comparison entry whose metric was renamed
# ("metric": "psnr_expected") also carries "metric_alias": "psnr_eg". Read the current names; the aliases go.
ALIASES: dict[str, str] = {  # alias → current name
    "psnr_eg": "psnr_expected",  # E_G[PSNR]
    "gain_eg": "gain_expected",  # hint_policy: guidance gain, oracle gain and efficiency on E_G[PSNR]
    "oracle_gain_eg": "oracle_gain_expected",
    "efficiency_eg": "efficiency_expected",
    "baseline": "control",  # hint_policy: the policy guidance is measured against ("baselines" are the models)
}
KIND_ALIASES: dict[str, str] = {"_eg": "_expected"}  # COLUMN_eg → COLUMN_expected in comparisons


VARIANT_KEYS = (
    "model",
    "display_name",
    "tag",
    "labels",
    "hint_kind",
    "conditional",
    "checkpoint",
    "checkpoint_sha256",
    "config",
    "trained",
    "out_of_range",  # output values outside [-1,1] (runner: counted, scored clamped)
)


def provenance(run: Mapping[str, Any], opts: Mapping[str, Any]) -> dict[str, Any]:
    """What produced the numbers: run.json's config, versions and hashes, and the report's own options."""
    fid = dict(run.get("fid") or {})
    nh = fid.pop("nh_assignment", None) or {}
    dataset = dict(run.get("dataset") or {})
    protocol = dict(run.get("protocol") or {})
    return {
        "config": run.get("config"),
        "config_fingerprint": run.get("config_fingerprint"),
        "versions": run.get("versions"),  # of the run that produced the records
        "report_versions": versions(),  # of the code that computed the tables from them
        "git": run.get("git"),
        "dataset": dataset
        | {"nri_threshold_used": float(opts["nri_threshold"] or dataset.get("nri_threshold"))},
        "protocol": protocol,
        "variants": {
            v: {k: info.get(k) for k in VARIANT_KEYS} for v, info in (run.get("variants") or {}).items()
        },
        "fid": fid
        | {"nh_counts": {str(k): c for k, c in sorted(Counter(int(x) for x in nh.values()).items())}},
        "seeds": {
            "protocol": protocol.get("seed"),
            "bootstrap": int(opts["seed"]),
            "bootstrap_resamples": int(opts["n_boot"]),
            "ci_level": float(opts["ci_level"]),
            "monte_carlo_nh": f"per image: image_seed(dataset, image_id, 'mc-nh|{int(opts['seed'])}')",
            "hints": "per image: sha256('colorbench|hints|<dataset>|<image_id>|<tag>') (E5.5)",
            "nh_assignment": "stratified over G by sha256('colorbench|nh|<dataset>|<image_id>') (E7.3)",
            "perturbation": "per image: image_seed(dataset, image_id, 'perturb')",
            "policy_random": "per image: image_seed(dataset, image_id, 'policy-random|k'), k = 0..K-1",
            "policy_oracle": "per image: image_seed(dataset, image_id, 'policy-oracle') (point patch sizes)",
        },
        "options": dict(opts),
        "warnings": list(run.get("warnings") or []),  # e.g. a checkpoint trained at another size than evaluated
    }


def build_results(computed: Mapping[str, Any], run: Mapping[str, Any]) -> dict[str, Any]:
    """The results.json document from compute_all's output and the parsed run.json."""
    return finite(
        {
            "schema": SCHEMA,
            "higher_is_better": with_aliases(HIGHER_IS_BETTER),
            "provenance": provenance(run, computed["options"]),
            "results": with_aliases(computed["results"]),
            "skipped": computed["skipped"],
        }
    )


def with_aliases(obj: Any) -> Any:
    """`obj` with the ALIASES written beside their current keys (see ALIASES), recursing into dicts and lists."""
    if isinstance(obj, Mapping):
        out = {k: with_aliases(v) for k, v in obj.items()}
        for alias, name in ALIASES.items():
            if name in out and alias not in out:
                out[alias] = out[name]
        metric = out.get("metric")
        if isinstance(metric, str) and "p_value" in out and "metric_alias" not in out:  # a --compare entry
            for old, new in KIND_ALIASES.items():
                if metric.endswith(new):
                    out["metric_alias"] = metric[: -len(new)] + old
        return out
    if isinstance(obj, (list, tuple)):
        return [with_aliases(v) for v in obj]
    return obj


def finite(obj: Any) -> Any:
    """Replace NaN/inf floats by None (strict JSON has no NaN), recursing into dicts, lists and tuples."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def write_results(path: str | Path, results: Mapping[str, Any]) -> Path:
    """Atomic, sorted-key JSON (same inputs → same bytes)."""
    write_json(path, results)
    return Path(path)
