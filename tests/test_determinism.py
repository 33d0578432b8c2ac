"""Per-image records (PSNR to the last bit), the chosen hints and the regions do not depend on the batch
size, the number of DataLoader workers, the engine's worker thread, or on a run having been interrupted and resumed.
(1 vs 2 torchrun processes: tests/test_distributed.py; SIGKILL mid-run: tests/test_crash_safety.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from colorbench.evaluation import evaluate, level_forward
from colorbench.evaluation.engine import EvalPlan
from colorbench.evaluation.records import load_samples, read_records
from colorbench.evaluation.runner import RunConfig, run_evaluation

LIMIT = 10  # > 8, so batch sizes 1, 8 and 32 cut the images differently
MODES = ("native", "equalized", "ablation", "perturbed")


def _run(out: Path, ckpts: dict[str, Path], batch_size: int = 32, num_workers: int = 0) -> Path:
    # n_samples = LIMIT keeps every image's hints (colour + mask at every n) and regions for comparison.
    cfg = RunConfig(models=[], dataset="blobs", out=str(out), size=32, limit=LIMIT, fid=False,
                    checkpoints=[f"{k}={v}" for k, v in ckpts.items()], num_workers=num_workers,
                    plan=EvalPlan(modes=list(MODES), batch_size=batch_size, n_samples=LIMIT))
    return run_evaluation(cfg, progress=False)


def _artifacts(out: Path) -> tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    """records.csv and every samples/<variant>.npz (hint colours, hint masks, regions, outputs)."""
    samples = {p.stem: load_samples(p) for p in sorted((out / "samples").glob("*.npz"))}
    return read_records(out / "records.csv"), samples


def _assert_identical(a: Path, b: Path) -> None:
    rec_a, smp_a = _artifacts(a)
    rec_b, smp_b = _artifacts(b)
    assert len(rec_a) > 0 and set(rec_a["mode"]) == set(MODES)
    pd.testing.assert_frame_equal(rec_a, rec_b, check_exact=True)  # float64 PSNR bit for bit
    assert smp_a.keys() == smp_b.keys() == {"tinypoint", "tinyregion"}
    for variant in smp_a:
        assert smp_a[variant].keys() == smp_b[variant].keys()
        for name, arr in smp_a[variant].items():
            np.testing.assert_array_equal(arr, smp_b[variant][name], err_msg=f"{variant} {name}")
    assert "regions" in smp_a["tinyregion"] and "hint_mask" in smp_a["tinypoint"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, ckpts: dict[str, Path]) -> Path:
    """One uninterrupted run at the default batch size with no workers."""
    return _run(tmp_path_factory.mktemp("ref") / "run", ckpts)


@pytest.mark.parametrize("batch_size", [1, 8])
def test_records_do_not_depend_on_batch_size(tmp_path: Path, ckpts: dict[str, Path], reference: Path,
                                             batch_size: int) -> None:
    _assert_identical(reference, _run(tmp_path / "run", ckpts, batch_size=batch_size))


def test_records_do_not_depend_on_num_workers(tmp_path: Path, ckpts: dict[str, Path], reference: Path) -> None:
    _assert_identical(reference, _run(tmp_path / "run", ckpts, batch_size=4, num_workers=2))


@pytest.mark.parametrize("spare_core", [True, False])
def test_records_do_not_depend_on_post_processing_in_a_worker_thread(tmp_path: Path, ckpts: dict[str, Path],
                                                                    reference: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    spare_core: bool) -> None:
    # With a core to spare the engine converts outputs and computes metrics in a worker thread, a chunk
    # behind the model; without, inline. Which one a machine gets must never show in the records.
    monkeypatch.setattr(level_forward, "_spare_core", lambda device: spare_core)
    _assert_identical(reference, _run(tmp_path / "run", ckpts, batch_size=8))


def test_records_are_identical_after_an_interrupted_run_is_resumed(tmp_path: Path, ckpts: dict[str, Path],
                                                                   reference: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    saved = []
    real_save = evaluate.save_chunk

    def crash_after_three(path: Path, *args: object) -> None:
        if len(saved) == 3:
            raise KeyboardInterrupt("simulated crash")  # what Ctrl-C mid-run raises
        real_save(path, *args)
        saved.append(path)

    monkeypatch.setattr(evaluate, "save_chunk", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "run", ckpts, batch_size=2)
    monkeypatch.undo()
    assert not (tmp_path / "run" / "records.csv").exists()
    before = {p: p.stat().st_mtime_ns for p in saved}
    # Resumed with another batch size: finished images are reused, the rest computed, the result the same.
    _run(tmp_path / "run", ckpts, batch_size=5)
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())
    _assert_identical(reference, tmp_path / "run")


def test_rerun_without_resume_at_another_batch_size_merges_each_record_once(tmp_path: Path,
                                                                            ckpts: dict[str, Path],
                                                                            reference: Path) -> None:
    """--no-resume (or a concurrent run) at another batch size leaves chunks whose images overlap."""
    _run(tmp_path / "run", ckpts, batch_size=3)
    cfg = RunConfig(models=[], dataset="blobs", out=str(tmp_path / "run"), size=32, limit=LIMIT, fid=False,
                    checkpoints=[f"{k}={v}" for k, v in ckpts.items()], resume=False,
                    plan=EvalPlan(modes=list(MODES), batch_size=4, n_samples=LIMIT))
    run_evaluation(cfg, progress=False)
    assert len(list((tmp_path / "run" / "cache").glob("tinypoint-*/chunk-*.npz"))) == 4 + 3  # 3+3+3+1, 4+4+2
    _assert_identical(reference, tmp_path / "run")


@pytest.mark.slow
def test_trained_unets_give_the_same_records_whatever_the_batching(tmp_path: Path) -> None:
    """Real U-Nets (the shipped toon checkpoints): oneDNN rounds a batch of 1, of 2-8 and of 16+ rows
    differently (~1e-6, enough to move an output pixel across an 8-bit level). The engine calls models on
    exactly --forward-rows rows, so records do not depend on --batch-size or on how many images are run."""
    def run(out: Path, batch_size: int, limit: int) -> pd.DataFrame:
        cfg = RunConfig(models=["guidingpainter", "rtug"], dataset="toon", out=str(out), size=64, limit=limit,
                        fid=False, plan=EvalPlan(modes=["native", "ablation"], batch_size=batch_size, n_samples=0))
        return read_records(run_evaluation(cfg, progress=False) / "records.csv")

    reference = run(tmp_path / "b12", 12, 12)
    pd.testing.assert_frame_equal(run(tmp_path / "b1", 1, 12), reference, check_exact=True)
    first = run(tmp_path / "l5", 5, 5)
    subset = reference[reference["image_id"].isin(set(first["image_id"]))].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, subset, check_exact=True)
