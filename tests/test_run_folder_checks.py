"""`report` trusts nothing it reads: unparseable or wrong-shaped run.json / records.csv / results.json are named,
records that conflict, belong to no variant or hold a non-finite PSNR are refused; a read-only folder or a full
disk is one line with exit 2 and leaves every earlier file as it was; paths with brackets print literally."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from colorbench.cli import main
from colorbench.evaluation.records import read_records, write_records

from .fakes import TinyPoint, TinyRegion, make_checkpoint, register_fakes


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def earlier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of two tiny variants on 3 blobs images, in a folder whose name has brackets."""
    register_fakes()
    d = tmp_path_factory.mktemp("folder")
    out = d / "run[v2]"
    res = _invoke("run", "--models", "", "--dataset", "blobs", "--size", "32", "--limit", "3", "--modes", "native",
                  "--no-fid", "--quiet", "--out", str(out),
                  "--checkpoint", f"tinypoint={make_checkpoint(TinyPoint, d / 'p.safetensors')}",
                  "--checkpoint", f"tinyregion={make_checkpoint(TinyRegion, d / 'r.safetensors')}")
    assert res.exit_code == 0, res.output
    assert f"wrote {out}/tables" in res.output.replace("\n", "")  # brackets printed, not eaten as markup
    return out


@pytest.fixture()
def run_dir(earlier: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy[1]"
    shutil.copytree(earlier, out)
    return out


def _snapshot(out: Path) -> dict[Path, tuple[bytes, int]]:
    # mtime too: a rewrite with the same bytes still means the command wrote when it should have refused
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*")
            if p.is_file() and p.name != ".colorbench.lock"}


def _refused(run_dir: Path, *texts: str, args: tuple[str, ...] = ()) -> None:
    before = _snapshot(run_dir)
    res = _invoke("report", str(run_dir), *args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and len([x for x in res.output.splitlines() if x.startswith("error:")]) == 1, res.output
    for text in texts:
        assert text in res.output.replace("\n", ""), res.output
    assert _snapshot(run_dir) == before, "report changed files although it refused"
    assert not list(run_dir.rglob("*.tmp"))


@pytest.mark.parametrize("content, text", [
    ("[]", "must be a JSON object"),
    ("{\"variants\": [1, 2]}", "field 'variants'"),
    ("{truncated", "is not valid JSON"),
], ids=["list", "variants-list", "unparseable"])
def test_a_bad_run_json_is_named(run_dir: Path, content: str, text: str):
    (run_dir / "run.json").write_text(content, encoding="utf-8")
    _refused(run_dir, str(run_dir / "run.json"), text)


def _edit(run_dir: Path, change) -> None:
    df = read_records(run_dir / "records.csv")
    write_records(run_dir / "records.csv", change(df))


def test_conflicting_duplicate_rows_are_refused(run_dir: Path):
    def conflict(df):
        import pandas as pd

        row = df[df["variant"] == "tinypoint"].iloc[[0]].copy()
        row["psnr"] += 10.0  # the same variant/image/mode/n, another PSNR: which one is true?
        return pd.concat([df, row])

    _edit(run_dir, conflict)
    _refused(run_dir, str(run_dir / "records.csv"), "rows disagree")


def test_identical_duplicate_rows_are_harmless(run_dir: Path):
    import pandas as pd

    _edit(run_dir, lambda df: pd.concat([df, df.iloc[:5]]))
    assert _invoke("report", str(run_dir)).exit_code == 0


def test_records_of_a_variant_run_json_does_not_know_are_refused(run_dir: Path):
    def rename(df):
        df.loc[df["variant"] == "tinyregion", "variant"] = "ghost"
        return df

    _edit(run_dir, rename)
    _refused(run_dir, "variant 'ghost' is not in run.json")


def test_more_images_than_the_run_had_are_refused(run_dir: Path):
    def extra(df):
        import pandas as pd

        more = df[df["variant"] == "tinypoint"].copy()
        more["image_id"] = more["image_id"] + "-x"
        return pd.concat([df, more])

    _edit(run_dir, extra)
    _refused(run_dir, "has 6 images, run.json's run had 3")


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_a_non_finite_psnr_is_refused(run_dir: Path, value: float):
    def poison(df):
        df.loc[df.index[3], "psnr"] = value
        return df

    _edit(run_dir, poison)
    _refused(run_dir, "not a finite number")


def test_a_header_only_records_csv_is_refused(run_dir: Path):
    header = (run_dir / "records.csv").read_text().splitlines()[0]
    (run_dir / "records.csv").write_text(header + "\n")
    _refused(run_dir, "holds no records")


def test_an_unparseable_records_csv_is_named(run_dir: Path):
    (run_dir / "records.csv").write_text("variant,n\nx,\"unclosed\n1,2,3,4\n")
    _refused(run_dir, str(run_dir / "records.csv"))


def test_a_bad_compare_leaves_the_old_report_untouched(run_dir: Path):
    _refused(run_dir, "no variant 'rtug'", args=("--compare", "tinypoint,rtug"))


def test_a_read_only_folder_is_one_line(run_dir: Path, monkeypatch: pytest.MonkeyPatch):
    real_open = os.open

    def read_only(path, flags, *a, **k):
        if str(path).endswith(".colorbench.lock"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", read_only)
    (run_dir / ".colorbench.lock").unlink(missing_ok=True)
    _refused(run_dir, str(run_dir / ".colorbench.lock"), "Read-only file system")


def test_a_full_disk_during_run_is_one_line_and_leaves_the_earlier_run(run_dir: Path, monkeypatch, tmp_path: Path):
    import colorbench.atomic

    def full(_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    spec = read_records(run_dir / "records.csv")  # the earlier run's rows, to compare after
    other = make_checkpoint(TinyPoint, tmp_path / "p.safetensors", seed=5)
    monkeypatch.setattr(colorbench.atomic.os, "fsync", full)
    before = _snapshot(run_dir)
    res = _invoke("run", "--models", "", "--dataset", "blobs", "--size", "32", "--limit", "3", "--modes", "native",
                  "--no-fid", "--quiet", "--no-resume", "--out", str(run_dir), "--checkpoint", f"tinypoint={other}")
    assert res.exit_code == 2 and "No space left on device" in res.output, res.output
    assert res.output.count("error:") == 1 and "Traceback" not in res.output
    assert {p: b for p, b in _snapshot(run_dir).items() if p in before} == before
    assert not list(run_dir.rglob("*.tmp"))
    assert read_records(run_dir / "records.csv").equals(spec)


def test_paths_with_brackets_print_literally(run_dir: Path, earlier: Path):
    res = _invoke("run", "--models", "", "--dataset", "blobs", "--size", "32", "--limit", "3", "--modes", "native",
                  "--no-fid", "--out", str(run_dir), "--checkpoint", f"tinypoint={earlier.parent / 'p.safetensors'}")
    assert res.exit_code == 0, res.output
    text = res.output.replace("\n", "")
    assert f"reused from the cache ({run_dir}/cache/tinypoint-" in text, res.output
    assert f"wrote {run_dir}/tables, {run_dir}/figures" in text
