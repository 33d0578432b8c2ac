"""Is the guidance any good? Every conditional model under several hint policies (the engine's "policies"
mode, colorbench.evaluation.hint_policies): PSNR(n) for n = 0..Nc, exact E_G[PSNR] (E7.2) and NRI (E7.4) per policy,
the guidance gain and efficiency, and paired bootstrap tests between policies.

Region models: own (the model's priority, native rows), learned (its network's channel order, when the
priority differs), area (largest region first), random (seeded orders of the same regions, averaged per image
over the K permutations), oracle. Point/stroke models: user (the paper's simulated user, native rows), guided
(the same kind of hint inside GuidingPainter's regions in its order, equalized rows), oracle.

guidance gain = NRI(control) − NRI(guided policy), per image, with control policy "random" (region models) or
"user" (point/stroke) and guided policy "own" or "guided": interactions the guidance saves (> 0: it helps).
guidance efficiency = that gain / (NRI(control) − NRI(oracle)): the share of what an oracle user saves.
("control", not "baseline": the baselines are the comparison models.)
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from colorbench.evaluation.records import POLICIES, policy_mode
from colorbench.protocols.base import Protocol, ProtocolContext
from colorbench.protocols.bootstrap import bootstrap_ratio_ci, paired_bootstrap
from colorbench.protocols.cells import ci_cell
from colorbench.protocols.expected import expected_per_image
from colorbench.protocols.levels import RecordsError, available_levels, psnr_matrix
from colorbench.protocols.nri import nri_per_image
from colorbench.protocols.options import resolve_options
from colorbench.protocols.selection import display_name, table1_variants

# (policy, its record modes (None: the random orders, found in the records), what it is)
REGION_RULES = (
    ("own", ("native",), "the model's own priority"),
    ("learned", (policy_mode("learned"),), "the network's channel order"),
    ("area", (policy_mode("area"),), "largest region first"),
    ("random", None, "seeded random order of the same regions (mean over K)"),
    ("oracle", (policy_mode("oracle"),), "largest error mass of the current output next"),
)
POINT_RULES = (
    ("user", ("native",), "the paper's simulated user"),
    ("guided", ("equalized",), "same hints inside GuidingPainter's regions, its order"),
    ("oracle", (policy_mode("oracle"),), "next hint at the largest error blob, GT colour"),
)
ROLES = {"region": ("random", "own"), "point": ("user", "guided"), "stroke": ("user", "guided")}


def random_modes(records: pd.DataFrame, variant: str) -> tuple[str, ...]:
    """The variant's policies/random/k modes, by k."""
    prefix = policy_mode("random/")
    modes = {m for m in records.loc[records["variant"] == variant, "mode"].unique() if str(m).startswith(prefix)}
    return tuple(sorted(modes, key=lambda m: int(m[len(prefix):])))


def policy_matrix(records: pd.DataFrame, variant: str, modes: tuple[str, ...], nc: int) -> tuple[list[str], np.ndarray]:
    """(image ids, PSNR [K, I, Nc+1]) of a policy's modes (K > 1: the random orders), the same images in each."""
    ids, mats = None, []
    for mode in modes:
        got, mat = psnr_matrix(records, variant, range(nc + 1), mode)
        if ids is not None and got != ids:
            raise RecordsError(f"variant {variant!r}: modes {modes[0]!r} and {mode!r} hold different images; "
                               "records.csv is incomplete — rerun `colorbench run` (it resumes)")
        ids = got
        mats.append(mat)
    assert ids is not None
    return ids, np.stack(mats)


def _policies(records: pd.DataFrame, variant: str, kind: str) -> list[tuple[str, tuple[str, ...], str]]:
    """The policies whose records the variant has, with their modes."""
    table = REGION_RULES if kind == "region" else POINT_RULES
    out = []
    for name, modes, about in table:
        modes = random_modes(records, variant) if modes is None else modes
        if modes and all(available_levels(records, variant, m) for m in modes):
            out.append((name, modes, about))
    return out


def _share(gain: np.ndarray, oracle: np.ndarray, boot: dict[str, Any]) -> dict[str, Any] | None:
    """mean(gain) / mean(oracle gain) [I] with its bootstrap CI; None unless the oracle gains on average (a
    ratio over a mean ≤ 0 has no meaning as a share)."""
    if not oracle.mean() > 0:
        return None
    # A resample whose oracle gain is 0 gives ±inf (or NaN): the interval then says how unstable the share is.
    with np.errstate(divide="ignore", invalid="ignore"):
        return bootstrap_ratio_ci(gain, oracle, **boot)


def variant_policies(records: pd.DataFrame, ctx: ProtocolContext, variant: str, kind: str,
                     opts: dict[str, Any]) -> dict[str, Any]:
    """One variant's policies: per policy PSNR(n), E_G[PSNR] and NRI with CIs; gain, efficiency, pairs."""
    boot = {"n_resamples": int(opts["n_boot"]), "seed": int(opts["seed"]), "level": float(opts["ci_level"])}
    law, nc, threshold = ctx.law, ctx.law.nc, ctx.nri_threshold
    eg: dict[str, np.ndarray] = {}
    nri: dict[str, np.ndarray] = {}
    curves: dict[str, np.ndarray] = {}
    policies: dict[str, Any] = {}
    ids0 = None
    for name, modes, about in _policies(records, variant, kind):
        ids, mats = policy_matrix(records, variant, modes, nc)
        if ids0 is not None and ids != ids0:
            raise RecordsError(f"variant {variant!r}: policy {name!r} holds other images than the native rows; "
                               "rerun `colorbench run` (it resumes)")
        ids0 = ids
        # Per image, the mean over the policy's orders (one, or the K random ones) of E_G and of NRI.
        eg[name] = np.mean([expected_per_image(m, law) for m in mats], axis=0)
        nri[name] = np.mean([nri_per_image(m, threshold) for m in mats], axis=0)
        curves[name] = mats.mean(axis=(0, 1))
        policies[name] = {"about": about, "modes": list(modes), "orders": len(modes),
                          "psnr_by_n": [float(x) for x in curves[name]],
                          "psnr_expected": ci_cell(eg[name], opts), "nri": ci_cell(nri[name], opts)}
    for name, entry in policies.items():  # e.g. "area" when the model's own priority is by area
        twin = next((o for o in policies if o != name and np.array_equal(curves[o], curves[name])
                     and np.array_equal(eg[o], eg[name])), None)
        entry["same_as"] = twin
    control, guided = ROLES[kind]
    out: dict[str, Any] = {"kind": kind, "control": control, "guided": guided, "n_images": len(ids0 or []),
                           "policies": policies, "gain": None, "oracle_gain": None, "efficiency": None,
                           "gain_expected": None, "oracle_gain_expected": None, "efficiency_expected": None,
                           "note": None}
    if control in nri and guided in nri:
        out["gain"] = paired_bootstrap(nri[control], nri[guided], **boot)
    if control in nri and "oracle" in nri:
        out["oracle_gain"] = paired_bootstrap(nri[control], nri["oracle"], **boot)
        out["oracle_gain_expected"] = paired_bootstrap(eg["oracle"], eg[control], **boot)
        if out["gain"] is not None:
            out["gain_expected"] = paired_bootstrap(eg[guided], eg[control], **boot)
            out["efficiency"] = _share(nri[control] - nri[guided], nri[control] - nri["oracle"], boot)
            out["efficiency_expected"] = _share(eg[guided] - eg[control], eg["oracle"] - eg[control], boot)
            if out["efficiency"] is None:
                out["note"] = ("the oracle saves no interaction over the control on these images (NRI): "
                               "efficiency undefined")
    missing = [p for p in (control, guided, "oracle") if p not in policies]
    if missing:
        out["note"] = (f"no records of polic{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}"
                       + (" (the guided policy needs a GuidingPainter checkpoint in the run)" if "guided" in missing
                          else ""))
    out["pairs"] = [{"a": a, "b": b, "psnr_expected": paired_bootstrap(eg[a], eg[b], **boot),
                     "nri": paired_bootstrap(nri[a], nri[b], **boot)} for a, b in combinations(policies, 2)]
    return out


class HintPolicy(Protocol):
    name = "hint_policy"
    title = "Hint policies: the model's order / placement vs random, area and an oracle (guidance efficiency)"
    modes = ("native", POLICIES)
    tables = ("colorbench.reports.hint_policy_spec:policy_specs",)
    table_order = 60

    def compute(self, records: pd.DataFrame, ctx: ProtocolContext) -> dict[str, Any]:
        opts = resolve_options(ctx.options)
        out: dict[str, Any] = {}
        skipped: dict[str, str] = {}
        for v in table1_variants(ctx.variants):
            info = ctx.variants[v]
            kind = str(info.get("hint_kind", "none"))
            if kind not in ROLES:
                continue  # automatic models have no hints to place
            if not any(str(m).startswith(policy_mode("")) for m in records.loc[records["variant"] == v, "mode"].unique()):
                skipped[v] = f"no policy records (rerun `colorbench run` with --modes including {POLICIES})"
                continue
            out[v] = {"name": display_name(v, info), "model": info.get("model")} | variant_policies(
                records, ctx, v, kind, opts)
        protocol = ctx.run.get("protocol", {})
        plan = (ctx.run.get("config") or {}).get("plan") or {}
        return {"dataset": ctx.dataset.get("name"), "nc": ctx.law.nc, "p": ctx.law.p,
                "nri_threshold": ctx.nri_threshold, "policy_perms": plan.get("policy_perms"),
                "policy_oracle": plan.get("policy_oracle"), "modes": protocol.get("modes"),
                "variants": out, "skipped": skipped}
