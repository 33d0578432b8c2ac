"""`report` checks records.csv against what run.json promises: every variant, every image, every hint level
and mode; a row missing is exit 2 naming it, not a table over fewer images. A NaN in an extra metric column
is one line too, as it is for PSNR."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from colorbench.evaluation.records import read_records, write_records


@pytest.fixture(scope="module")
def finished(ckpts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, invoke: Callable) -> Path:
    out = tmp_path_factory.mktemp("complete") / "run"
    res = invoke("run", "--models", "floor", "--checkpoint", f"tinyregion={ckpts['tinyregion']}", "--dataset",
                 "blobs", "--size", "32", "--limit", "3", "--modes", "native,ablation", "--metrics", "psnr,ssim",
                 "--no-fid", "--quiet", "--out", str(out))
    assert res.exit_code == 0, res.output
    return out


def _edited(finished: Path, tmp_path: Path, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    write_records(run / "records.csv", edit(read_records(run / "records.csv")))
    return run


@pytest.mark.parametrize("edit, says", [
    (lambda df: df[df["image_id"] != "test-0001"],
     ["variant 'floor' has native rows of 2 images, run.json's run had 3"]),
    (lambda df: df[df["variant"] != "tinyregion"], ["has no rows of variant 'tinyregion', which run.json lists"]),
    (lambda df: df[~((df["variant"] == "floor") & (df["image_id"] == "test-0002") & (df["n"] == 7))],
     ["variant 'floor' lacks native rows of image 'test-0002' at n = 7"]),
    (lambda df: df[~((df["mode"] == "ablation") & (df["image_id"] == "test-0000") & (df["n"] == 30))],
     ["variant 'tinyregion' lacks ablation rows of image 'test-0000' at n = 30"]),
    (lambda df: df.assign(ssim=df["ssim"].where(~((df["mode"] == "native") & (df["n"] == 3)))),
     ["rows have a ssim that is not a finite number", "n=3: nan"]),
], ids=["image", "model", "level", "mode", "nan-ssim"])
def test_report_refuses_records_short_of_run_json(finished: Path, tmp_path: Path, invoke: Callable, edit,
                                                  says: list[str]) -> None:
    run = _edited(finished, tmp_path, edit)
    before = (run / "results.json").read_bytes()
    res = invoke("report", str(run))
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert all(s in res.output for s in says), res.output
    assert (run / "results.json").read_bytes() == before  # the earlier report stays as it was


def test_a_complete_folder_reports(finished: Path, tmp_path: Path, invoke: Callable) -> None:
    run = _edited(finished, tmp_path, lambda df: df)
    assert invoke("report", str(run)).exit_code == 0
