"""Engine: one nested pass gives every n, records are complete, deterministic and resumable."""

from __future__ import annotations

import numpy as np
import pandas as pd

from colorbench.api import HintKind
from colorbench.data import open_dataset
from colorbench.evaluation.engine import SEED_TAGS, EvalPlan
from colorbench.evaluation.records import load_samples, read_json, read_records
from colorbench.evaluation.runner import RunConfig, run_evaluation
from colorbench.hints import image_seed, simulate
from colorbench.metrics.psnr import to_uint8


def _run(out, ckpts, batch_size=4, modes=("native", "ablation", "perturbed", "equalized"), limit=6, resume=True):
    cfg = RunConfig(models=[], dataset="blobs", out=str(out), size=32, limit=limit, fid=False, resume=resume,
                    checkpoints=[f"{k}={v}" for k, v in ckpts.items()],
                    plan=EvalPlan(modes=list(modes), batch_size=batch_size, n_samples=2))
    return run_evaluation(cfg, progress=False)


def test_records_cover_every_n_and_mode(tmp_path, ckpts):
    out = _run(tmp_path / "r", ckpts)
    rec = read_records(out / "records.csv")
    native = rec[rec["mode"] == "native"]
    for v in ("tinypoint", "tinyregion"):
        sub = native[native["variant"] == v]
        assert len(sub) == 6 * 31 and sorted(sub["n"].unique()) == list(range(31))
    abl = rec[rec["mode"] == "ablation"]
    assert set(abl["variant"]) == {"tinyregion"} and len(abl) == 6 * 30
    assert set(rec[rec["mode"] == "equalized"]["variant"]) == {"tinypoint"}
    assert set(rec[rec["mode"] == "perturbed"]["n"]) == {2, 4, 6, 8, 10, 12}
    zero = native[native["n"] == 0]
    assert (zero["hint_area"] == 0).all() and zero["hint_err"].isna().all()
    run = read_json(out / "run.json")
    assert run["dataset"]["n_images"] == 6 and run["fid"]["available"] is False
    assert set(run["variants"]) == {"tinypoint", "tinyregion"}
    samples = load_samples(out / "samples" / "tinyregion.npz")
    # Pictures at n = 0..12 only (what the figures and report.html show), of 2 images.
    assert samples["outputs"].shape == (2, 13, 3, 32, 32) and samples["regions"].shape == (2, 32, 32)
    assert samples["hint_color"].shape == (2, 13, 3, 32, 32) and samples["hint_mask"].shape == (2, 13, 32, 32)


def test_sampled_hints_are_the_hints_given(tmp_path, ckpts):
    """The compact hints of samples/*.npz expand to exactly the hints the model got at each n (point hints
    overlap: a later patch overwrites an earlier one)."""
    out = _run(tmp_path / "r", {"tinypoint": ckpts["tinypoint"]}, modes=("native",))
    samples = load_samples(out / "samples" / "tinypoint.npz")
    ds = open_dataset("blobs", "test", size=32, limit=6)
    for j, image_id in enumerate(str(i) for i in samples["image_ids"]):
        color = ds.get(image_id)["color"][None]
        seq = simulate(HintKind.POINT, color, [image_seed("blobs", image_id, SEED_TAGS[HintKind.POINT])], k=30)
        for n in range(samples["hint_mask"].shape[1]):
            given = seq.at(n)
            assert np.array_equal(samples["hint_mask"][j, n], given.mask[0, 0].numpy().astype(np.uint8))
            assert np.array_equal(samples["hint_color"][j, n], to_uint8(given.color)[0].numpy())


def test_records_do_not_depend_on_batch_size(tmp_path, ckpts):
    a = read_records(_run(tmp_path / "a", ckpts, batch_size=1, modes=("native",)) / "records.csv")
    b = read_records(_run(tmp_path / "b", ckpts, batch_size=5, modes=("native",)) / "records.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_resume_reuses_finished_images(tmp_path, ckpts):
    out = _run(tmp_path / "c", ckpts, modes=("native",), limit=4)
    first = read_records(out / "records.csv")
    chunks = sorted((out / "cache").glob("*/chunk-*.npz"))
    mtimes = {p: p.stat().st_mtime_ns for p in chunks}
    out = _run(tmp_path / "c", ckpts, modes=("native",), limit=4)  # same work: nothing is recomputed
    assert sorted((out / "cache").glob("*/chunk-*.npz")) == chunks
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())
    pd.testing.assert_frame_equal(read_records(out / "records.csv"), first)


def test_empty_region_ablation_row_is_the_no_hint_output(tmp_path, ckpts):
    """Fig. 5's row for an empty region S_i hints nothing, so it is the image's native n = 0 PSNR exactly (not
    g on reordered regions), and a non-empty region's row is still the paper's forward (S_i moved to the front)."""
    out = _run(tmp_path / "r", {"tinyregion": ckpts["tinyregion"]}, modes=("native", "ablation"))
    rec = read_records(out / "records.csv")
    zero = rec[(rec["mode"] == "native") & (rec["n"] == 0)].set_index("image_id")["psnr"]
    abl = rec[rec["mode"] == "ablation"]
    empty, live = abl[abl["empty"].astype(bool)], abl[~abl["empty"].astype(bool)]
    assert len(empty) > 0 and len(live) > 0
    assert np.array_equal(empty["psnr"].to_numpy(), zero.loc[empty["image_id"]].to_numpy())
    # Region 1 is already in front, so its row is the native n = 1 row.
    one = rec[(rec["mode"] == "native") & (rec["n"] == 1)].set_index("image_id")["psnr"]
    first = live[live["n"] == 1]
    np.testing.assert_allclose(first["psnr"].to_numpy(), one.loc[first["image_id"]].to_numpy(), atol=1e-6)
