"""The policies record mode and the hint_policy protocol: a known-answer case (the flat-fill floor guided by
toon's ground-truth parts), the oracle's picks, GuidingPainter's learned order, batch-size independence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from colorbench.api import HintKind, Hints
from colorbench.baselines.floor import FlatFill
from colorbench.data.synthetic import Toon
from colorbench.evaluation.batches import iter_batches
from colorbench.evaluation.engine import EvalPlan, Evaluator
from colorbench.evaluation.hint_policies import blob_centre, oracle_pick, random_order
from colorbench.evaluation.records import read_records
from colorbench.evaluation.runner import RunConfig, run_evaluation
from colorbench.evaluation.variants import Variant
from colorbench.guidingpainter.model import GuidingPainter
from colorbench.model import ColorizerModel
from colorbench.protocols.base import ProtocolContext
from colorbench.protocols.hint_policy import variant_policies
from colorbench.protocols.options import resolve_options

NC = 30
N_IMAGES = 12


def part_table(dataset: Toon, ids: list[str]) -> dict[bytes, torch.Tensor]:
    """Sketch (as served) bytes → toon's ground-truth parts one-hot [NC,H,W], largest part first."""
    table: dict[bytes, torch.Tensor] = {}
    for batch in iter_batches(dataset, ids, len(ids), torch.device("cpu")):
        for j, image_id in enumerate(batch.ids):
            parts = torch.from_numpy(dataset.parts(image_id))
            labels, counts = parts.unique(return_counts=True)
            order = labels[torch.sort(counts, descending=True, stable=True).indices]
            regions = torch.zeros(NC, *parts.shape)
            for k, label in enumerate(order[:NC].tolist()):
                regions[k] = (parts == label).float()
            table[batch.sketch[j].numpy().tobytes()] = regions
    return table


class PartFloor(FlatFill):
    """The flat-fill floor as a region model whose regions are toon's ground-truth parts, largest first: a
    region hint paints a whole part with its exact mean colour (a case whose answers are known)."""

    name = "part-floor"
    hint_kind = HintKind.REGION

    def __init__(self, table: dict[bytes, torch.Tensor]) -> None:
        super().__init__({})
        self.table = table

    def propose_regions(self, sketch: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.table[s.numpy().tobytes()] for s in sketch])


class PartFill(PartFloor):
    """Toon's parts as regions; a hinted part takes its hint colour, every other pixel stays mid-grey (0): each
    hint changes only its own part, so PSNR(n) depends only on which parts are hinted (additive errors)."""

    name = "part-fill"

    def colorize(self, sketch: torch.Tensor, hints: Hints) -> torch.Tensor:
        return hints.color * hints.mask


def _records(model: ColorizerModel, variant: Variant, dataset: Toon, ids: list[str], plan: EvalPlan,
             region_source: ColorizerModel | None = None) -> pd.DataFrame:
    ev = Evaluator(variant, model, dataset, plan, torch.device("cpu"), region_source=region_source)
    frames = [ev.run_batch(batch)[0] for batch in iter_batches(dataset, ids, plan.batch_size, torch.device("cpu"))]
    return pd.concat(frames, ignore_index=True)


def _context(records: pd.DataFrame, variant: str, kind: str) -> ProtocolContext:
    run = {"protocol": {"nc": NC, "p": 0.125}, "dataset": {"name": "toon", "nri_threshold": Toon.nri_threshold},
           "variants": {variant: {"model": variant, "hint_kind": kind, "conditional": True}}}
    return ProtocolContext(run_dir=Path("."), run=run, options={})


@pytest.fixture(scope="module")
def toon() -> tuple[Toon, list[str], dict[bytes, torch.Tensor]]:
    dataset = Toon("test", 64, limit=N_IMAGES)
    return dataset, dataset.ids(), part_table(dataset, dataset.ids())


def test_floor_oracle_beats_the_simulated_user_at_every_n(toon: tuple) -> None:
    # The floor fills every sketch region with the nearest hint's colour: a hint at the largest error blob
    # with its true colour repairs the worst region, a random point often lands in a region already right.
    dataset, ids, _ = toon
    records = _records(FlatFill.from_config({}), Variant("floor", "floor", None), dataset, ids,
                       EvalPlan(modes=["native", "policies"], batch_size=N_IMAGES))
    entry = variant_policies(records, _context(records, "floor", "point"), "floor", "point",
                             resolve_options({"n_boot": 200}))
    oracle = np.asarray(entry["policies"]["oracle"]["psnr_by_n"])
    user = np.asarray(entry["policies"]["user"]["psnr_by_n"])
    assert oracle[0] == user[0]  # no hint, the same output
    assert (oracle >= user).all(), np.round(oracle - user, 3)
    assert oracle[5] > user[5] + 1.0
    assert entry["oracle_gain"]["value"] > 0


def test_true_parts_largest_first_beat_a_random_order(toon: tuple) -> None:
    # Regions = the true parts, each region hint paints its part exactly: the oracle's next part is the one
    # with the most error left, so its curve is on top; largest-first (the model's own order here) repairs
    # more error per hint than a random order of the same parts, so the guidance gain is positive.
    dataset, ids, table = toon
    records = _records(PartFloor(table), Variant("part-floor", "part-floor", None), dataset, ids,
                       EvalPlan(modes=["native", "policies"], batch_size=N_IMAGES, policy_perms=4))
    entry = variant_policies(records, _context(records, "part-floor", "region"), "part-floor", "region",
                             resolve_options({"n_boot": 200}))
    assert (entry["control"], entry["guided"]) == ("random", "own")
    assert entry["policies"]["area"]["same_as"] == "own"  # the parts already come largest first
    oracle = np.asarray(entry["policies"]["oracle"]["psnr_by_n"])
    random = np.asarray(entry["policies"]["random"]["psnr_by_n"])
    own = np.asarray(entry["policies"]["own"]["psnr_by_n"])
    # 1e-9: once every part is hinted the policies give one image, averaged over permutations in another order
    assert (oracle >= random - 1e-9).all() and (oracle >= own - 1e-9).all(), oracle - random
    assert entry["gain"]["value"] > 0 and entry["gain_expected"]["value"] > 0
    assert entry["efficiency"] is not None and 0 < entry["efficiency"]["value"] <= 1


def test_exact_oracle_is_on_top_when_errors_add_up(toon: tuple) -> None:
    # With additive errors the greedy choice is optimal at every n: no order of the same parts (own, area,
    # any random one) reaches a higher PSNR(n) on any image, and the error-mass oracle stays within the
    # parts' own colour spread (antialiased edges) of it.
    dataset, ids, table = toon
    variant = Variant("part-fill", "part-fill", None)
    exact = _records(PartFill(table), variant, dataset, ids,
                     EvalPlan(modes=["native", "policies"], batch_size=N_IMAGES, policy_oracle="exact"))
    wide = exact.pivot_table(index=["image_id", "n"], columns="mode", values="psnr")
    top = wide.pop("policies/oracle")
    assert (top.to_numpy()[:, None] >= wide.to_numpy() - 1e-9).all()
    mass = _records(PartFill(table), variant, dataset, ids, EvalPlan(modes=["native", "policies"], batch_size=6))
    by_mass = mass[mass["mode"] == "policies/oracle"].set_index(["image_id", "n"])["psnr"]
    assert ((top - by_mass.reindex(top.index)) < 0.5).all()
    assert (by_mass.groupby("n").mean() >= wide["policies/random/0"].groupby("n").mean()).all()


def test_oracle_pick_never_repeats_a_hinted_region() -> None:
    gen = torch.Generator().manual_seed(0)
    for _ in range(200):
        mass = torch.rand(4, 6, generator=gen, dtype=torch.float64) * 100
        nonempty = torch.rand(4, 6, generator=gen) < 0.7
        hinted = torch.rand(4, 6, generator=gen) < 0.5
        hinted[:, 5] = False  # one region left at least
        mass[hinted] += 1e6  # the largest masses sit in regions already hinted
        pick = oracle_pick(mass, hinted, nonempty)
        assert not hinted[torch.arange(4), pick].any()
        left = nonempty & ~hinted
        for b in range(4):
            if left[b].any():  # the largest remaining mass among non-empty unhinted regions
                assert nonempty[b, pick[b]] and mass[b, pick[b]] == mass[b][left[b]].max()


def test_region_oracle_orders_are_permutations(ckpts: dict[str, Path], tmp_path: Path) -> None:
    out = run_evaluation(RunConfig(models=[], dataset="blobs", out=str(tmp_path / "run"), size=32, limit=4, fid=False,
                                   checkpoints=[f"tinyregion={ckpts['tinyregion']}"],
                                   plan=EvalPlan(modes=["native", "policies"], batch_size=4)), progress=False)
    rec = read_records(out / "records.csv")
    oracle = rec[rec["mode"] == "policies/oracle"].pivot(index="image_id", columns="n", values="hint_area")
    # Each oracle step adds a region never hinted before: the hinted area never shrinks, and it ends covering
    # all of the image (the one-hot regions partition it) once every non-empty region is hinted.
    assert (np.diff(oracle.to_numpy(), axis=1) >= 0).all()
    np.testing.assert_allclose(oracle[NC].to_numpy(), 1.0)


def test_exact_oracle_first_hint_is_the_best_single_region(ckpts: dict[str, Path], tmp_path: Path) -> None:
    out = run_evaluation(RunConfig(models=[], dataset="blobs", out=str(tmp_path / "run"), size=32, limit=3, fid=False,
                                   checkpoints=[f"tinyregion={ckpts['tinyregion']}"],
                                   plan=EvalPlan(modes=["native", "policies"], batch_size=3, policy_oracle="exact",
                                                 policy_perms=2)), progress=False)
    rec = read_records(out / "records.csv")
    first = rec[rec["n"] == 1].pivot(index="image_id", columns="mode", values="psnr")
    others = first.drop(columns=["policies/oracle"])
    assert (first["policies/oracle"].to_numpy()[:, None] >= others.to_numpy()).all()


def test_random_order_keeps_empty_regions_last_and_follows_the_seed() -> None:
    nonempty = torch.tensor([[True, False, True, True, False, True]])
    a, b = random_order(nonempty, [7]), random_order(nonempty, [7])
    assert torch.equal(a, b)
    assert sorted(a[0, :4].tolist()) == [0, 2, 3, 5] and a[0, 4:].tolist() == [1, 4]
    firsts = {tuple(random_order(nonempty, [seed])[0, :4].tolist()) for seed in range(20)}
    assert len(firsts) > 5  # the seed drives the order


def test_blob_centre_is_inside_the_heaviest_unhinted_blob() -> None:
    err = np.zeros((16, 16), dtype=np.int64)
    err[2:5, 2:5] = 10_000  # 9 px, the heaviest
    err[10:14, 10:12] = 1_000  # 8 px, lighter
    assert blob_centre(err, np.zeros_like(err, dtype=bool)) == (3, 3)
    hinted = np.zeros((16, 16), dtype=bool)
    hinted[2:5, 2:5] = True  # already hinted: the oracle moves on to the other blob
    y, x = blob_centre(err, hinted)
    assert 10 <= y < 14 and 10 <= x < 12
    assert blob_centre(np.zeros((8, 8), dtype=np.int64), np.zeros((8, 8), dtype=bool)) is None


def test_guidingpainter_learned_order_points_at_its_channels() -> None:
    model = GuidingPainter.from_config({"region_order": "area", "nc": 6, "width": 0.0625}).eval()
    sketch = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        own = model.propose_regions(sketch)
        order = model.learned_order(sketch)
        channels = model._channel_regions(sketch)
    # entry c of the order: where f's channel c sits among propose_regions' (area-sorted) regions
    assert torch.equal(own.gather(1, order[:, :, None, None].expand_as(own)), channels)
    assert GuidingPainter.from_config({"nc": 6, "width": 0.0625}).eval().learned_order(sketch) is None


@pytest.mark.slow
@pytest.mark.parametrize("batch_size", [1, 8])
def test_policy_records_do_not_depend_on_batch_size(ckpts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory,
                                                    batch_size: int) -> None:
    def run(bs: int) -> pd.DataFrame:
        cfg = RunConfig(models=[], dataset="blobs", out=str(tmp_path_factory.mktemp(f"bs{bs}") / "run"), size=32,
                        limit=10, fid=False, checkpoints=[f"{k}={v}" for k, v in ckpts.items()],
                        plan=EvalPlan(modes=["native", "policies"], batch_size=bs, policy_perms=2))
        rec = read_records(run_evaluation(cfg, progress=False) / "records.csv")
        return rec[rec["mode"] != "native"].reset_index(drop=True)

    reference, other = run(3), run(batch_size)
    assert {"policies/oracle", "policies/area", "policies/random/1", "equalized"} <= set(reference["mode"])
    pd.testing.assert_frame_equal(reference, other, check_exact=True)


def test_run_with_the_protocol_writes_its_tables_and_figure(ckpts: dict[str, Path], invoke, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = invoke("run", "--models", "floor", "--dataset", "blobs", "--size", "32", "--limit", "3", "--modes", "native",
                 "--protocols", "hint_policy", "--policy-perms", "2", "--no-fid", "--quiet", "--out", str(out),
                 *[a for k, v in ckpts.items() for a in ("--checkpoint", f"{k}={v}")])
    assert res.exit_code == 0, res.output
    for name in ("hint_policy", "guidance_efficiency"):
        assert all((out / "tables" / f"{name}.{ext}").is_file() for ext in ("md", "tex", "csv"))
    assert (out / "figures" / "hint_policies.png").is_file()
    table = (out / "tables" / "hint_policy.md").read_text()
    assert "×2 |" in table and "| oracle" in table and "| guided" in table
    result = json.loads((out / "results.json").read_text())
    assert set(result["results"]["hint_policy"]["variants"]) == {"floor", "tinypoint", "tinyregion"}
    assert result["provenance"]["config"]["plan"]["policy_perms"] == 2
