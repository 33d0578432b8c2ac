"""Do the colorizers of a run use their hints? PSNR(n) for n = 0..12 per conditional model, its gain, where
it stops rising, the region count of region models, and the zoo's hint-use targets (exit 0 only when all hold).

    .venv/bin/python benchmarks/hint_response.py results/toon [--max-n 12] [--no-targets]
        [--plot curves.png [--before OLD_RUN_DIR]]

Reads only the run directory (records.csv, run.json; `native` mode). Targets depend on the run's dataset
(TARGETS; `toon`'s for any other). Per learned conditional model: PSNR(12) − PSNR(0) ≥ the gain target of its hint kind and
above the flat-fill floor (when the run has it) at every n ≤ 12; region models also ≥ the regions target of
non-empty regions per image (toon: and still rising, ≥ 0.05 dB, at some n ≥ 8). Between the first region model
and the first point model: E_G[PSNR] ahead with a paired bootstrap p < 0.05; NRI ahead with p < 0.05 (toon) or
not worse (openmoji); openmoji also asks the region model's PSNR at n = 0 to be within 0.5 dB of the point model's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from colorbench.evaluation.records import read_json, read_records
from colorbench.hint_counts import BoundedGeometric
from colorbench.protocols.bootstrap import paired_bootstrap

RISE_DB = 0.05  # a step of the curve counts as rising from this gain on
# gain: dB from 12 hints, by hint kind; regions: per image; rising_from: the curve still rises at some n ≥ this (None: not
# asked); nri: "ahead" (p < 0.05) or "not worse" (mean difference ≤ 0); n0_gap: the region model's PSNR at n = 0
# at most this far below the point model's (None: not asked).
TARGETS: dict[str, dict] = {
    "toon": {"gain": {"region": 1.5, "point": 1.5, "stroke": 1.5}, "regions": 6.0, "rising_from": 8, "nri": "ahead", "n0_gap": None},
    "openmoji": {"gain": {"region": 4.0, "point": 1.5, "stroke": 1.5}, "regions": 8.0, "rising_from": None, "nri": "not worse", "n0_gap": 0.5},
}


def curve(native: pd.DataFrame, max_n: int) -> np.ndarray:
    """Mean PSNR over images at n = 0..max_n."""
    means = native[native["n"] <= max_n].groupby("n")["psnr"].mean()
    return means.reindex(range(max_n + 1)).to_numpy()


def last_rise(psnr: np.ndarray) -> int:
    """The largest n whose step PSNR(n) − PSNR(n−1) is ≥ RISE_DB (0: never rises)."""
    steps = np.flatnonzero(np.diff(psnr) >= RISE_DB)
    return int(steps[-1] + 1) if len(steps) else 0


def region_count(native: pd.DataFrame) -> float:
    """Mean number of non-empty regions per image: the levels n ≥ 1 at which hint coverage grows."""
    wide = native.pivot_table(index="image_id", columns="n", values="hint_area").sort_index(axis=1)
    return float((wide.diff(axis=1).iloc[:, 1:] > 1e-9).sum(axis=1).mean())


def region_areas(native: pd.DataFrame, max_n: int) -> np.ndarray:
    """Mean share of the image (%) that the n-th hint reveals, n = 1..max_n: for a region model, the size of its
    n-th region; why a curve flattens (a hint on a tiny region cannot move PSNR much)."""
    wide = native.pivot_table(index="image_id", columns="n", values="hint_area").sort_index(axis=1)
    return 100.0 * wide.diff(axis=1).reindex(columns=range(1, max_n + 1)).mean().to_numpy()


def per_image_eg(native: pd.DataFrame, pmf: np.ndarray, threshold: float) -> pd.DataFrame:
    """Per image: E_G[PSNR] = Σ_n G(n)·PSNR(n) and NRI (smallest n with PSNR(n) ≥ threshold, else Nc + 1)."""
    wide = native.pivot_table(index="image_id", columns="n", values="psnr").sort_index(axis=1)
    nc = len(pmf) - 1
    if list(wide.columns) != list(range(nc + 1)):
        raise SystemExit(f"hint_response: records hold n = {list(wide.columns)[:3]}…, need 0..{nc} for E_G[PSNR]")
    values = wide.to_numpy()
    reached = values >= threshold
    nri = np.where(reached.any(axis=1), reached.argmax(axis=1), nc + 1)
    return pd.DataFrame({"eg": values @ pmf, "nri": nri}, index=wide.index)


def read_run(run_dir: Path) -> tuple[dict, pd.DataFrame]:
    """(run.json, its native records) of a finished run directory."""
    if not (run_dir / "run.json").is_file() or not (run_dir / "records.csv").is_file():
        raise SystemExit(f"hint_response: {run_dir} is not a finished run directory (no run.json/records.csv)")
    records = read_records(run_dir / "records.csv")
    return read_json(run_dir / "run.json"), records[records["mode"] == "native"]


def load_curves(run_dir: Path, max_n: int) -> dict[str, np.ndarray]:
    """PSNR(n) of every conditional variant of another run directory."""
    run, native = read_run(run_dir)
    return {k: curve(native[native["variant"] == k], max_n) for k, v in run["variants"].items() if v.get("conditional")}


def plot_curves(path: Path, after: dict[str, np.ndarray], before: dict[str, np.ndarray]) -> None:
    """PSNR against the number of hints, one colour per variant (the reports' colour of its model when the label
    is a model name, as for the shipped zoo); `before` dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from colorbench.reports.figures import variant_colors

    fig, ax = plt.subplots(figsize=(6.4, 4.0), constrained_layout=True)
    for (name, psnr), colour in zip(after.items(), variant_colors(list(after))):
        ax.plot(range(len(psnr)), psnr, "-o", ms=3, color=colour, label=f"{name}" + (" (after)" if before else ""))
        if name in before:
            ax.plot(range(len(before[name])), before[name], "--", color=colour, alpha=0.7, label=f"{name} (before)")
    ax.set_xlabel("number of hints n")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--max-n", type=int, default=12)
    ap.add_argument("--no-targets", action="store_true", help="print the figures only; exit 0")
    ap.add_argument("--plot", type=Path, help="write the PSNR(n) curves (Fig. 12 style) to this PNG")
    ap.add_argument("--before", type=Path, help="with --plot: draw this run's curves dashed, as 'before'")
    args = ap.parse_args(argv)
    run, native = read_run(args.run_dir)
    variants = {k: v for k, v in run["variants"].items() if v.get("conditional")}
    if not variants:
        print("hint_response: the run has no conditional model")
        return 1
    floor = next((k for k, v in variants.items() if not v.get("checkpoint") and v["model"] == "floor"), None)
    pmf = BoundedGeometric().pmf()
    threshold = float(run["protocol"].get("nri_threshold") or run["dataset"]["nri_threshold"])
    curves, failures, eg = {}, [], {}
    target = TARGETS.get(run["dataset"]["name"], TARGETS["toon"])
    print(f"hint_response: {args.run_dir}, {run['dataset']['n_images']} {run['dataset']['name']} images, "
          f"{run['dataset']['size']} px; targets: {run['dataset']['name'] if run['dataset']['name'] in TARGETS else 'toon'}'s")
    print(f"  {'variant':<16} {'kind':<7} " + " ".join(f"{n:>6d}" for n in range(args.max_n + 1))
          + "   gain  rises→  regions")
    for name, info in variants.items():
        rows = native[native["variant"] == name]
        psnr = curve(rows, args.max_n)
        curves[name] = psnr
        regions = region_count(rows) if info["hint_kind"] == "region" else float("nan")
        gain, rise = psnr[-1] - psnr[0], last_rise(psnr)
        print(f"  {name:<16} {info['hint_kind']:<7} " + " ".join(f"{v:6.2f}" for v in psnr)
              + f"  {gain:+5.2f}  {rise:6d}  " + ("" if np.isnan(regions) else f"{regions:7.2f}"))
        if info["hint_kind"] == "region":
            print(f"  {'':<16} {'area %':<7} {'':>6} " + " ".join(f"{v:6.2f}" for v in region_areas(rows, args.max_n)))
        if name == floor:
            continue
        if rows["n"].max() >= len(pmf) - 1:
            eg[name] = per_image_eg(rows, pmf, threshold)
        need = target["gain"].get(info["hint_kind"], 1.5)
        if gain < need:
            failures.append(f"{name}: PSNR(12) − PSNR(0) = {gain:.2f} dB < {need}")
        if info["hint_kind"] == "region":
            if target["rising_from"] is not None and rise < target["rising_from"]:
                failures.append(f"{name}: PSNR stops rising at n = {rise} (target: still rising at n ≥ "
                                f"{target['rising_from']})")
            if regions < target["regions"]:
                failures.append(f"{name}: {regions:.2f} non-empty regions per image < {target['regions']:g}")
    if floor is not None:
        for name, psnr in curves.items():
            below = [n for n in range(args.max_n + 1) if name != floor and psnr[n] <= curves[floor][n]]
            if below:
                failures.append(f"{name}: not above the flat-fill floor at n = {below}")
    kinds = {k: variants[k]["hint_kind"] for k in eg}
    region = next((k for k, v in kinds.items() if v == "region"), None)
    point = next((k for k, v in kinds.items() if v == "point"), None)
    if region and point:
        common = eg[region].index.intersection(eg[point].index)
        gap = curves[region][0] - curves[point][0]
        print(f"  {region} − {point} PSNR at n = 0: {gap:+.3f} dB")
        if target["n0_gap"] is not None and gap < -target["n0_gap"]:
            failures.append(f"{region} {-gap:.2f} dB below {point} at n = 0 (target: within {target['n0_gap']} dB)")
        for metric, sign in (("eg", 1.0), ("nri", -1.0)):
            res = paired_bootstrap(eg[region].loc[common, metric].to_numpy(), eg[point].loc[common, metric].to_numpy())
            ahead = sign * res["value"] > 0 and res["p_value"] < 0.05
            print(f"  {region} − {point} {'E_G[PSNR]' if metric == 'eg' else 'NRI'}: {res['value']:+.3f} "
                  f"[{res['low']:+.3f}, {res['high']:+.3f}], p = {res['p_value']:.4f}")
            if metric == "nri" and target["nri"] == "not worse":
                if res["value"] > 0:
                    failures.append(f"{region} worse than {point} in NRI ({res['value']:+.2f})")
            elif not ahead:
                failures.append(f"{region} not ahead of {point} in {metric} with p < 0.05")
    if args.plot:
        plot_curves(args.plot, curves, load_curves(args.before, args.max_n) if args.before else {})
    if args.no_targets:
        return 0
    for line in failures:
        print(f"  target NOT met: {line}")
    print("  all targets met" if not failures else f"  {len(failures)} target(s) not met")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
