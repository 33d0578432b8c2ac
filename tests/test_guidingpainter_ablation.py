"""The segment_ablation protocol (Fig. 5) on hand-made ablation records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from colorbench.evaluation.records import records_frame
from colorbench.protocols.base import ProtocolContext
from colorbench.protocols.segment_ablation import SegmentAblation, ablation_frame

NC = 12
IMAGES = 20


def make_records(slope: float = -0.5, point_variant: bool = True):
    rng = np.random.default_rng(0)
    rows = []
    for k in range(IMAGES):
        for i in range(1, NC + 1):
            rows.append({"variant": "guidingpainter", "model": "guidingpainter", "dataset": "toon",
                         "image_id": f"test-{k:03d}", "mode": "ablation", "n": i,
                         "psnr": 25.0 + slope * i + rng.normal(0, 0.3), "empty": i > NC - 3 and k % 2 == 0})
            if point_variant:  # a point-hint model never has ablation curves; the protocol must ignore it
                rows.append({"variant": "rtug", "model": "rtug", "dataset": "toon", "image_id": f"test-{k:03d}",
                             "mode": "ablation", "n": i, "psnr": 20.0, "empty": False})
        rows.append({"variant": "guidingpainter", "model": "guidingpainter", "dataset": "toon",
                     "image_id": f"test-{k:03d}", "mode": "native", "n": 0, "psnr": 10.0})
    return records_frame(rows)


def context(tmp_path: Path, **options) -> ProtocolContext:
    run = {"variants": {"guidingpainter": {"hint_kind": "region"}, "rtug": {"hint_kind": "point"}}}
    return ProtocolContext(tmp_path, run, {"n_boot": 200, **options})


def test_curve_means_cis_empty_fraction_and_trend(tmp_path: Path) -> None:
    records = make_records()
    result = SegmentAblation().compute(records, context(tmp_path))
    assert list(result["variants"]) == ["guidingpainter"]
    curve = result["variants"]["guidingpainter"]
    assert curve["i"] == list(range(1, NC + 1)) and curve["n_images"] == IMAGES
    rows = records[(records["mode"] == "ablation") & (records["variant"] == "guidingpainter")]
    expected = rows.groupby("n")["psnr"].mean().to_numpy()
    assert np.allclose(curve["psnr"], expected, atol=1e-12)
    assert all(lo <= m <= hi for lo, m, hi in zip(curve["ci_low"], curve["psnr"], curve["ci_high"]))
    assert all(hi - lo < 1.0 for lo, hi in zip(curve["ci_low"], curve["ci_high"]))
    assert curve["empty_frac"] == [0.0] * (NC - 3) + [0.5] * 3
    trend = curve["trend"]
    assert trend["spearman_rho"] < -0.9 and trend["kendall_tau"] < -0.8 and trend["kendall_p"] < 0.01
    assert trend["head_mean"] > trend["tail_mean"]
    assert trend["head_mean"] == pytest.approx(float(np.mean(expected[:5])))
    table = ablation_frame(result)
    assert list(table.columns) == ["variant", "i", "psnr", "ci_low", "ci_high", "empty_frac"] and len(table) == NC


def test_flat_curve_has_no_trend_and_seed_fixes_the_intervals(tmp_path: Path) -> None:
    records = make_records(slope=0.0)
    a = SegmentAblation().compute(records, context(tmp_path, seed=3))["variants"]["guidingpainter"]
    b = SegmentAblation().compute(records, context(tmp_path, seed=3))["variants"]["guidingpainter"]
    c = SegmentAblation().compute(records, context(tmp_path, seed=4))["variants"]["guidingpainter"]
    assert a["ci_low"] == b["ci_low"] and a["ci_low"] != c["ci_low"]
    assert abs(a["trend"]["spearman_rho"]) < 0.8  # noise only


def test_without_region_variants_the_result_says_why(tmp_path: Path) -> None:
    records = make_records()
    records = records[records["variant"] == "rtug"]
    result = SegmentAblation().compute(records, context(tmp_path))
    assert result["variants"] == {} and "ablation" in result["skipped"]
