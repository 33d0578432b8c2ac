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
from colorbench.versions import versions

SCHEMA = "colorbench.results/1"

HIGHER_IS_BETTER: dict[str, bool] = {
    "psnr": True,  # dB; Table 1/3 cells, sweep, segment ablation
    "psnr_auto": True,  # PSNR at n = 0 (E7.1)
    "psnr_eg": True,  # exact E_G[PSNR] (E7.2)
    "mc_check": True,  # Monte-Carlo estimate of E_G[PSNR]
    "fid": False,  # FID of a fixed-n set or of the stratified mixture (E7.3)
    "eg_fid": False,  # Σ G(n)·FID(n), reported under its own name
    "nri": False,  # number of required interactions (E7.4)
    "hint_err": False,  # mean |Ŷ − C| in the hint mask, 8-bit units (E.2)
    "hint_err_ratio": False,  # perturbed / natural hint error
    "hint_de": False,  # mean CIEDE2000 ΔE between hint colour and output in the hint mask (E.2)
    "gain": True,  # hint_policy: NRI(baseline) − NRI(guided policy), interactions saved
    "efficiency": True,  # hint_policy: guidance gain / oracle gain
}

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
            "higher_is_better": HIGHER_IS_BETTER,
            "provenance": provenance(run, computed["options"]),
            "results": computed["results"],
            "skipped": computed["skipped"],
        }
    )


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
