"""Protocols over records: exact E_G[PSNR], NRI edge cases, bootstrap intervals, paired tests, FID under G,
Table 1 / Table 3 / sweep / perturbed-hint results and the compute_all plumbing (no model is ever run)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from colorbench.evaluation.records import FeatureStore, feature_key, read_json, records_frame
from colorbench.hints import BoundedGeometric
from colorbench.metrics.fid import fid_from_features
from colorbench.protocols.base import ProtocolContext
from colorbench.protocols.bootstrap import bootstrap_ci, bootstrap_ratio_ci, paired_bootstrap
from colorbench.protocols.cells import conditional_cells
from colorbench.protocols.compare import parse_pairs
from colorbench.protocols.expected import (
    expected_of_fid,
    expected_psnr,
    expected_psnr_per_image,
    mixture_keys,
    monte_carlo_nh,
    monte_carlo_psnr,
)
from colorbench.protocols.hint_sweep import HintSweep
from colorbench.protocols.levels import RecordsError, psnr_matrix
from colorbench.protocols.loss_ablation import LossAblation
from colorbench.protocols.nri import nri, nri_per_image
from colorbench.protocols.options import resolve_options
from colorbench.protocols.paper_rows import table1_rows, table3_rows
from colorbench.protocols.perturbed_hints import PerturbedHints
from colorbench.protocols.run_protocols import RunDirError, compute_all, load_run, required_modes
from colorbench.protocols.selection import loss_set, resolve_variant
from colorbench.protocols.table1 import Table1

from .records_factory import DEFAULT_VARIANTS, LOSS_VARIANTS, ensure_builtin_protocols, make_run_dir


# --------------------------------------------------------------------------------------------- fixtures
def toy_records(curves: dict[str, list[float]], variant: str = "m") -> pd.DataFrame:
    """Native records of one variant: image id → PSNR at n = 0..len-1."""
    rows = [
        {
            "variant": variant,
            "model": variant,
            "dataset": "toy",
            "image_id": i,
            "mode": "native",
            "n": n,
            "psnr": v,
        }
        for i, curve in curves.items()
        for n, v in enumerate(curve)
    ]
    return records_frame(rows)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    ensure_builtin_protocols()
    return make_run_dir(
        tmp_path_factory.mktemp("run"),
        variants=DEFAULT_VARIANTS + LOSS_VARIANTS,
        modes=("native", "perturbed", "ablation"),
        n_images=24,
        n_samples=1,
    )


@pytest.fixture(scope="module")
def ctx_records(run_dir):
    records, run = load_run(run_dir)
    return ProtocolContext(run_dir, run, resolve_options({})), records


# --------------------------------------------------------------------------------------------- E_G
def test_expected_psnr_matches_hand_computation_on_two_images():
    # Nc = 3, p = 0.5 → G = [0.5, 0.25, 0.125, 0.125]; mean curve [15, 16, 18, 23]
    records = toy_records({"a": [10, 12, 14, 16], "b": [20, 20, 22, 30]})
    dist = BoundedGeometric(nc=3, p=0.5)
    hand = 0.5 * 15 + 0.25 * 16 + 0.125 * 18 + 0.125 * 23
    assert expected_psnr(records, "m", dist) == pytest.approx(hand, abs=1e-12)
    ids, per_image = expected_psnr_per_image(records, "m", dist)
    assert ids == ["a", "b"]
    assert per_image.tolist() == pytest.approx(
        [0.5 * 10 + 0.25 * 12 + 0.125 * 14 + 0.125 * 16, 0.5 * 20 + 0.25 * 20 + 0.125 * 22 + 0.125 * 30]
    )
    assert per_image.mean() == pytest.approx(hand)


def test_expected_psnr_with_default_g_uses_all_31_levels():
    dist = BoundedGeometric()  # Nc = 30, p = 0.125
    curve = list(np.linspace(15.0, 25.0, 31))
    records = toy_records({"a": curve})
    assert expected_psnr(records, "m", dist) == pytest.approx(float(np.dot(dist.pmf(), curve)))


def test_missing_levels_raise_a_clear_error():
    records = toy_records({"a": [10, 12]})  # only n = 0, 1
    with pytest.raises(RecordsError, match=r"n = 2..3"):
        expected_psnr(records, "m", BoundedGeometric(nc=3, p=0.5))
    with pytest.raises(RecordsError, match="no 'perturbed' rows"):
        psnr_matrix(records, "m", [0], mode="perturbed")


def test_monte_carlo_check_follows_g_and_is_seeded():
    dist = BoundedGeometric()
    ids = [f"img{i}" for i in range(4000)]
    nh = monte_carlo_nh(ids, dist, "toy", seed=0)
    assert nh.min() >= 0 and nh.max() <= 30
    assert nh.mean() == pytest.approx(dist.mean(), abs=0.25)  # E[Nh] = 6.8726; std ≈ 6.6 / √4000
    assert np.array_equal(nh, monte_carlo_nh(ids, dist, "toy", seed=0))
    assert not np.array_equal(nh, monte_carlo_nh(ids, dist, "toy", seed=1))
    # Each image's draw depends on its id only, not on its position in the list.
    assert np.array_equal(monte_carlo_nh(ids[::-1], dist, "toy", 0), nh[::-1])


def test_monte_carlo_estimate_is_close_to_exact(ctx_records):
    ctx, records = ctx_records
    exact = expected_psnr(records, "guidingpainter", ctx.law)
    mc = monte_carlo_psnr(records, "guidingpainter", ctx.law, "toy", seed=0)
    assert mc["n"] == 24
    assert abs(mc["value"] - exact) < 1.5  # one draw per image: noise of a few tenths of a dB


# --------------------------------------------------------------------------------------------- NRI
def test_nri_edge_cases():
    matrix = np.array(
        [
            [21.0, 22.0, 23.0, 24.0],  # above the threshold without hints → 0
            [10.0, 15.0, 20.0, 25.0],  # first reaches it at n = 2 (≥, not >)
            [10.0, 11.0, 12.0, 13.0],  # never → Nc + 1 = 4
            [10.0, 20.0, 12.0, 25.0],  # the first crossing counts, even if it dips again
        ]
    )
    assert nri_per_image(matrix, 20.0).tolist() == [0, 2, 4, 1]


def test_nri_mean_over_images_from_records():
    records = toy_records({"a": [21, 22, 23, 24], "b": [10, 11, 12, 13]})
    assert nri(records, "m", 20.0, nc=3) == pytest.approx((0 + 4) / 2)


# --------------------------------------------------------------------------------------------- bootstrap
def test_bootstrap_interval_contains_mean_is_seeded_and_shrinks():
    rng = np.random.default_rng(0)
    small, large = rng.normal(20.0, 2.0, 50), rng.normal(20.0, 2.0, 2000)
    a = bootstrap_ci(small, n_resamples=500, seed=3)
    assert a["low"] <= small.mean() <= a["high"] and a["value"] == pytest.approx(small.mean())
    assert a == bootstrap_ci(small, n_resamples=500, seed=3)
    assert a != bootstrap_ci(small, n_resamples=500, seed=4)
    b = bootstrap_ci(large, n_resamples=500, seed=3)
    assert (b["high"] - b["low"]) < 0.4 * (a["high"] - a["low"])  # width ∝ 1/√N: 50 → 2000 images
    # ~95% interval of the mean: roughly ±1.96·σ/√N
    assert (a["high"] - a["low"]) == pytest.approx(2 * 1.96 * small.std() / np.sqrt(50), rel=0.25)


def test_ratio_interval_brackets_the_ratio_of_means():
    rng = np.random.default_rng(1)
    den = rng.uniform(10, 20, 200)
    num = 1.5 * den + rng.normal(0, 1, 200)
    r = bootstrap_ratio_ci(num, den, n_resamples=400, seed=0)
    assert r["low"] <= num.mean() / den.mean() <= r["high"]
    assert r["low"] > 1.4 and r["high"] < 1.6


def test_paired_pvalue_small_for_consistent_difference_large_for_noise():
    rng = np.random.default_rng(2)
    base = rng.normal(18.0, 3.0, 100)  # image difficulty dwarfs the gap, pairing removes it
    better = base + 0.3 + rng.normal(0, 0.1, 100)
    res = paired_bootstrap(better, base, n_resamples=1000, seed=0)
    assert res["p_value"] < 0.01 and res["low"] > 0
    noise = base + rng.normal(0, 0.5, 100)
    noise -= noise.mean() - base.mean()  # no mean difference at all
    res0 = paired_bootstrap(noise, base, n_resamples=1000, seed=0)
    assert res0["p_value"] > 0.5 and res0["low"] < 0 < res0["high"]
    with pytest.raises(ValueError, match="same images"):
        paired_bootstrap(base, base[:10])


# --------------------------------------------------------------------------------------------- FID under G
def test_fid_under_g_is_the_mixture_fid_not_a_weighted_sum(ctx_records):
    ctx, records = ctx_records
    cells = conditional_cells(records, ctx, "rtug", resolve_options({"n_boot": 50}))
    ids = sorted(read_json(ctx.run_dir / "run.json")["fid"]["nh_assignment"])
    nh = ctx.fid["nh_assignment"]
    keys = mixture_keys(ids, nh)
    assert keys[0] == feature_key(ids[0], "native", nh[ids[0]])
    fake = FeatureStore.load(ctx.run_dir / "features" / "rtug.npz").lookup(keys)
    real = FeatureStore.load(ctx.run_dir / "features" / "real.npz").lookup(ids)
    assert cells["fid"]["value"] == pytest.approx(fid_from_features(fake, real)["value"], rel=1e-9)
    assert cells["fid"]["n"] == 24 and cells["fid"]["reason"] is None


def test_expected_of_fid_is_the_g_weighted_sum_and_needs_every_n():
    dist = BoundedGeometric(nc=2, p=0.5)  # G = [0.5, 0.25, 0.25]
    assert expected_of_fid({0: 40.0, 1: 20.0, 2: 10.0}, dist) == pytest.approx(20 + 5 + 2.5)
    with pytest.raises(ValueError, match="every n"):
        expected_of_fid({0: 40.0}, dist)


def test_eg_fid_is_reported_apart_and_only_with_every_n(tmp_path, ctx_records):
    ctx, records = ctx_records
    res = Table1().compute(records, ProtocolContext(ctx.run_dir, ctx.run, {"eg_fid": True, "n_boot": 20}))
    gp = next(r for r in res["rows"] if r["block"] == "conditional" and r["model"] == "guidingpainter")
    assert gp["eg_fid"]["value"] is None and "every n" in gp["eg_fid"]["reason"]  # features at n = 1 missing
    d = make_run_dir(
        tmp_path / "alln",
        variants=DEFAULT_VARIANTS[:1],
        nc=4,
        p=0.5,
        sweep=(0, 1, 2, 3, 4),
        n_images=12,
        n_samples=1,
    )
    rec, run = load_run(d)
    c = ProtocolContext(d, run, {"eg_fid": True, "n_boot": 20})
    row = next(r for r in Table1().compute(rec, c)["rows"] if r["block"] == "conditional")
    by_n = {
        cell["hints"]: cell["value"]
        for cell in HintSweep().compute(rec, c)["variants"]["guidingpainter"]["fid"]
    }
    assert row["eg_fid"]["value"] == pytest.approx(sum(g * by_n[n] for n, g in enumerate(c.law.pmf())))
    assert row["eg_fid"]["value"] != pytest.approx(row["fid"]["value"])  # the mixture FID is another number


def test_fid_cells_say_na_with_the_run_reason(tmp_path):
    ensure_builtin_protocols()
    d = make_run_dir(tmp_path / "nofid", variants=DEFAULT_VARIANTS[:2], n_images=6, fid=False, n_samples=1)
    out = compute_all(d, names=["table1"], options={"n_boot": 50})["results"]["table1"]
    reason = read_json(d / "run.json")["fid"]["reason"]
    assert all(r["fid"]["value"] is None and r["fid"]["reason"] == reason for r in out["rows"])
    assert all(r["psnr"]["value"] is not None for r in out["rows"])  # PSNR does not need FID


# --------------------------------------------------------------------------------------------- Table 1
def test_table1_blocks_rows_and_threshold_override(ctx_records):
    ctx, records = ctx_records
    res = Table1().compute(records, ctx)
    auto = [r for r in res["rows"] if r["block"] == "automatic"]
    cond = [r for r in res["rows"] if r["block"] == "conditional"]
    assert [r["model"] for r in auto] == [
        "cic",
        "pix2pix",
        "alacgan",
        "rtug",
        "guidingpainter",
    ]  # paper order
    assert [r["model"] for r in cond] == ["alacgan", "rtug", "guidingpainter"]
    assert all(r["nri"] is None for r in auto) and all(r["nri"] is not None for r in cond)
    assert not any("@" in r["variant"] for r in res["rows"])  # loss-ablation checkpoints go to Table 3
    gp_auto = next(r for r in auto if r["model"] == "guidingpainter")
    _, psnr0 = psnr_matrix(records, "guidingpainter", [0])
    assert gp_auto["psnr"]["value"] == pytest.approx(psnr0.mean())
    gp = next(r for r in cond if r["model"] == "guidingpainter")
    assert gp["psnr"]["value"] == pytest.approx(expected_psnr(records, "guidingpainter", ctx.law))
    assert gp["psnr"]["low"] <= gp["psnr"]["value"] <= gp["psnr"]["high"]
    assert res["nri_threshold"] == 19.0 and res["nri_threshold_source"] == "dataset"

    strict = Table1().compute(records, ProtocolContext(ctx.run_dir, ctx.run, {"nri_threshold": 23.0}))
    gp_strict = next(
        r for r in strict["rows"] if r["block"] == "conditional" and r["model"] == "guidingpainter"
    )
    assert strict["nri_threshold"] == 23.0 and strict["nri_threshold_source"] == "option"
    assert gp_strict["nri"]["value"] > gp["nri"]["value"]


def test_table1_compare_and_paper_rows(ctx_records):
    ctx, records = ctx_records
    opts = {"compare": "ours,rtug", "paper_rows": True, "n_boot": 200}
    res = Table1().compute(records, ProtocolContext(ctx.run_dir, ctx.run, opts))
    metrics = {c["metric"]: c for c in res["compare"]}
    assert set(metrics) == {"psnr_auto", "psnr_expected", "nri"}
    assert metrics["psnr_expected"]["a"] == "guidingpainter" and metrics["psnr_expected"]["b"] == "rtug"
    assert metrics["psnr_expected"]["diff"] > 0 and metrics["psnr_expected"]["p_value"] < 0.01
    assert res["paper_rows"] == [] and "toy" in res["paper_rows_note"]  # the paper has no "toy" numbers

    yumi = Table1().compute(
        records, ProtocolContext(ctx.run_dir, ctx.run, {"paper_rows": "yumi", "n_boot": 20})
    )
    ours = [p for p in yumi["paper_rows"] if p["model"] == "guidingpainter" and p["conditional"]]
    assert (ours[0]["psnr"], ours[0]["fid"], ours[0]["nri"]) == (20.88, 24.46, 11.08)


def test_compare_names_resolve_and_errors_list_variants(ctx_records):
    ctx, _ = ctx_records
    assert resolve_variant("ours", ctx.variants) == "guidingpainter"  # untagged checkpoint wins
    assert resolve_variant("GuidingPainter@rec", ctx.variants) == "guidingpainter@rec"
    with pytest.raises(ValueError, match="variants are: .*rtug"):
        resolve_variant("nope", ctx.variants)
    assert parse_pairs("ours,rtug; ours,alacgan") == [("ours", "rtug"), ("ours", "alacgan")]
    with pytest.raises(ValueError, match="exactly two"):
        parse_pairs("ours")


# -------------------------------------------------------------------------------------------- other protocols
def test_hint_sweep_values_and_constants(ctx_records):
    ctx, records = ctx_records
    res = HintSweep().compute(records, ctx)
    assert res["sweep"] == [2, 4, 6, 8, 10, 12]
    gp = res["variants"]["guidingpainter"]
    _, at6 = psnr_matrix(records, "guidingpainter", [6])
    assert [c["hints"] for c in gp["psnr"]] == res["sweep"]
    assert gp["psnr"][2]["value"] == pytest.approx(at6.mean())
    assert gp["psnr"][-1]["value"] > gp["psnr"][0]["value"]  # more hints, better PSNR
    cic = res["variants"]["cic"]
    assert cic["constant"] and len({c["value"] for c in cic["psnr"]}) == 1
    assert all(c["value"] is not None for c in gp["fid"])
    short = HintSweep().compute(records, ProtocolContext(ctx.run_dir, ctx.run, {"sweep": "3,1"}))
    assert short["sweep"] == [1, 3]
    assert short["variants"]["guidingpainter"]["fid"][0]["value"] is None  # features at n = 1 are not cached
    assert "not cached" in short["variants"]["guidingpainter"]["fid"][0]["reason"]


def test_perturbed_hints_ratio_orders_models(ctx_records):
    ctx, records = ctx_records
    res = PerturbedHints().compute(records, ctx)
    assert set(res["variants"]) == {"guidingpainter", "rtug", "alacgan"}  # automatic models take no hints
    ratios = {v: r["ratio"]["value"] for v, r in res["variants"].items()}
    assert ratios["guidingpainter"] < ratios["rtug"] < ratios["alacgan"]  # factory: 1.2, 1.8, 2.6
    assert ratios["rtug"] == pytest.approx(1.8, rel=0.05)
    r = res["variants"]["rtug"]
    assert r["levels"] == [2, 4, 6, 8, 10, 12]
    assert r["ratio"]["low"] <= r["ratio"]["value"] <= r["ratio"]["high"]
    assert r["perturbed"]["value"] / r["native"]["value"] == pytest.approx(r["ratio"]["value"])


def test_loss_ablation_rows_in_paper_order(ctx_records):
    ctx, records = ctx_records
    res = LossAblation().compute(records, ctx)
    assert [r["label"] for r in res["rows"]] == ["(a)", "(b)", "(c)", "(d)"]
    assert res["rows"][0]["losses"] == ["rec"] and res["rows"][3]["losses"] == ["rec", "adv", "tv", "smth"]
    assert res["rows"][0]["psnr"]["value"] == pytest.approx(
        expected_psnr(records, "guidingpainter@rec", ctx.law)
    )
    assert loss_set("rec+smooth") == ("rec", "smth") and loss_set("final") is None


def test_loss_ablation_skips_without_tagged_checkpoints(tmp_path):
    d = make_run_dir(tmp_path / "plain", variants=DEFAULT_VARIANTS[:1], n_images=4, fid=False, n_samples=1)
    records, run = load_run(d)
    res = LossAblation().compute(records, ProtocolContext(d, run, {}))
    assert res["rows"] == [] and "--checkpoint ours@rec=PATH" in res["skipped"]


def test_paper_rows_cover_three_datasets_and_reject_others():
    for ds in ("yumi", "tag2pix", "celeba"):
        assert len(table1_rows(ds)) == 8 and len(table3_rows(ds)) == 4
    assert table3_rows("celeba")[0]["psnr"] == 20.76 and table1_rows("tag2pix")[0]["fid"] == 167.88
    with pytest.raises(ValueError, match="no numbers"):
        table1_rows("toon")


# --------------------------------------------------------------------------------------------- plumbing
def test_compute_all_runs_what_the_records_support(run_dir, tmp_path):
    out = compute_all(run_dir, options={"n_boot": 50})
    assert {"table1", "hint_sweep", "perturbed_hints", "loss_ablation"} <= set(out["results"])
    assert out["options"]["n_boot"] == 50
    plain = make_run_dir(
        tmp_path / "native",
        variants=DEFAULT_VARIANTS[:2],
        modes=("native",),
        n_images=4,
        fid=False,
        n_samples=1,
    )
    out2 = compute_all(plain, options={"n_boot": 20})
    assert "perturbed_hints" in out2["skipped"] and "perturbed" in out2["skipped"]["perturbed_hints"]
    with pytest.raises(ValueError, match="needs record modes perturbed"):
        compute_all(plain, names=["perturbed_hints"])
    assert {"native", "perturbed"} <= required_modes(["table1", "perturbed_hints"])
    with pytest.raises(ValueError, match="unknown report option 'n_bot'. Did you mean 'n_boot'"):
        compute_all(plain, options={"n_bot": 3})


def test_no_registered_protocols_is_an_error_not_an_empty_report(run_dir, monkeypatch):
    from colorbench.registry import PROTOCOLS

    monkeypatch.setattr(PROTOCOLS, "names", lambda pattern="*": [])
    from colorbench.errors import UsageError

    with pytest.raises(UsageError, match="pip install -e"):  # a set-up problem: one line from the CLI
        compute_all(run_dir)


def test_not_a_run_directory_says_what_to_do(tmp_path):
    with pytest.raises(RunDirError, match="colorbench run --out"):
        compute_all(tmp_path)
