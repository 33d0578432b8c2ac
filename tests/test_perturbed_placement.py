"""Perturbed hints (supplement E.2): every model's hints lie inside GuidingPainter's regions."""

from __future__ import annotations

from colorbench.evaluation import engine
from colorbench.evaluation.records import read_json, read_records
from colorbench.protocols.run_protocols import compute_all

from .fakes import TinyRegion, make_checkpoint
from .test_engine import _run


def test_perturbed_point_hints_are_placed_in_the_region_models_regions(tmp_path, ckpts, monkeypatch):
    given: dict[tuple[int, ...], list] = {}  # per batch (its perturbation seeds): the sequences perturbed
    real = engine.perturb_colors

    def spy(seq, seeds, amount=64.0):
        given.setdefault(tuple(seeds), []).append(seq)
        return real(seq, seeds, amount)

    monkeypatch.setattr(engine, "perturb_colors", spy)
    out = _run(tmp_path / "p", ckpts, modes=("native", "perturbed"), limit=4)
    checked = 0
    for seqs in given.values():
        assert len(seqs) == 2  # tinypoint's and tinyregion's
        point, region = sorted(seqs, key=lambda s: s.regions is not None)
        for b in range(point.masks.shape[0]):
            for j in range(point.length):
                if region.masks[b, j].any():  # the patch is centred on a pixel of region S_j
                    assert (point.masks[b, j] & region.masks[b, j]).any()
                    checked += 1
                else:  # an empty region gives no hint, as for GuidingPainter
                    assert not point.masks[b, j].any()
    assert checked > 0
    rec = read_records(out / "records.csv")
    eq = rec[(rec["variant"] == "tinypoint") & (rec["mode"] == "equalized")]
    assert sorted(eq["n"].unique()) == [2, 4, 6, 8, 10, 12]  # the natural-colour reference at those levels
    res = compute_all(out, names=["perturbed_hints"], options={"n_boot": 20})["results"]["perturbed_hints"]
    assert res["variants"]["tinypoint"]["reference_mode"] == "equalized"
    assert res["variants"]["tinyregion"]["reference_mode"] == "native"
    assert read_json(out / "run.json")["region_source"]["label"] == "tinyregion"


def test_without_a_region_model_point_models_get_no_perturbed_records(tmp_path, ckpts):
    logged: list[str] = []
    from colorbench.evaluation.engine import EvalPlan
    from colorbench.evaluation.runner import RunConfig, run_evaluation

    cfg = RunConfig(models=[], dataset="blobs", out=str(tmp_path / "solo"), size=32, limit=2, fid=False,
                    checkpoints=[f"tinypoint={ckpts['tinypoint']}"],
                    plan=EvalPlan(modes=["native", "perturbed"], batch_size=2, n_samples=1))
    out = run_evaluation(cfg, progress=False, log=logged.append)
    rec = read_records(out / "records.csv")
    assert set(rec["mode"]) == {"native"}  # never perturbed at the point model's own placement
    assert any("GuidingPainter" in line and "perturbed" in line for line in logged)


def test_placed_records_are_recomputed_for_another_region_checkpoint(tmp_path, ckpts):
    out = _run(tmp_path / "c", ckpts, modes=("native", "perturbed"), limit=2)
    other = dict(ckpts, tinyregion=make_checkpoint(TinyRegion, tmp_path / "r2.safetensors", seed=2))
    out = _run(tmp_path / "c", other, modes=("native", "perturbed"), limit=2)
    entries = read_json(out / "run.json")["cache"]["entries"]
    assert entries["tinypoint"]["reused_images"] == 0  # its perturbed hints moved with the regions


def test_perturbed_runs_record_the_hints_deltae2000_beside_the_rgb_error(tmp_path, ckpts):
    import numpy as np

    from colorbench.reports.table_specs import perturbed_spec

    out = _run(tmp_path / "de", ckpts, modes=("native", "perturbed"), limit=4)
    rec = read_records(out / "records.csv")
    hinted = np.isfinite(rec["hint_err"].to_numpy())
    assert hinted.any() and (np.isfinite(rec["hint_de"].to_numpy()) == hinted).all()  # ΔE exactly where hints are
    res = compute_all(out, names=["perturbed_hints"], options={"n_boot": 20})["results"]["perturbed_hints"]
    for v in ("tinypoint", "tinyregion"):
        cell = res["variants"][v]
        assert cell["native_de"]["value"] > 0 and cell["perturbed_de"]["value"] > 0 and cell["ratio_de"]["value"] > 0
        assert all("perturbed_de" in row for row in cell["by_n"])
    spec = perturbed_spec(res, {"n_boot": 20, "ci_level": 0.95})
    assert [c.key for c in spec.columns][-3:] == ["native_de", "perturbed_de", "ratio_de"]
    # Without the perturbed mode the records keep exactly their columns (no hint_de).
    plain = read_records(_run(tmp_path / "plain", ckpts, modes=("native",), limit=2) / "records.csv")
    assert "hint_de" not in plain


def test_hint_deltae_equals_scikit_image_over_the_hinted_pixels():
    import numpy as np
    import torch
    from skimage.color import deltaE_ciede2000, rgb2lab

    from colorbench.api import Hints
    from colorbench.metrics.levels import hint_deltae

    rng = np.random.default_rng(3)
    out = rng.integers(0, 256, (3, 3, 12, 10), dtype=np.uint8)
    color_u8 = rng.integers(0, 256, (3, 3, 12, 10), dtype=np.uint8)
    mask = (rng.random((3, 1, 12, 10)) < 0.2).astype(np.float32)
    mask[2] = 0  # an image without hints: NaN, as hint_err
    color = torch.from_numpy(color_u8).float() / 127.5 - 1  # to_uint8 maps it back to (close to) color_u8
    from colorbench.metrics.psnr import to_uint8

    given = to_uint8(color * torch.from_numpy(mask)).numpy()
    ours = hint_deltae(torch.from_numpy(out), Hints(color * torch.from_numpy(mask), torch.from_numpy(mask))).numpy()
    for b in range(2):
        m = mask[b, 0] > 0
        ref = deltaE_ciede2000(rgb2lab(out[b].transpose(1, 2, 0)), rgb2lab(given[b].transpose(1, 2, 0)),
                               channel_axis=-1)[m].mean()
        assert abs(ours[b] - ref) < 2e-5
    assert np.isnan(ours[2])
