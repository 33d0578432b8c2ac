"""Dark Snail analysis: region→object tabulation, the snail_order protocol and the Fig. 4 picture."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from colorbench.experiments.snail import region_objects, snail_frame
from colorbench.protocols.base import ProtocolContext
from colorbench.protocols.snail_order import SnailOrder, snail_order
from colorbench.reports.snail_figure import snail_figure

SIZE, PIECES, NC = 16, 5, 6


def snail_layout(size: int, pieces: int) -> np.ndarray:
    """Dark Snail object map built here (independent of the dataset code): piece k takes the left, top,
    right, bottom half of what remains in turn, so each has half the area of the previous; the last
    piece is the remainder (as large as the one before)."""
    out = np.full((size, size), pieces - 1, dtype=np.int64)
    top, left, bottom, right = 0, 0, size, size
    for k in range(pieces - 1):
        side = k % 4
        if side in (0, 2):
            mid = (left + right) // 2
            if side == 0:
                out[top:bottom, left:mid], left = k, mid
            else:
                out[top:bottom, mid:right], right = k, mid
        else:
            mid = (top + bottom) // 2
            if side == 1:
                out[top:mid, left:right], top = k, mid
            else:
                out[mid:bottom, left:right], bottom = k, mid
    return out


def regions_for(order: list[int | None], objects: np.ndarray) -> np.ndarray:
    """One-hot [NC,H,W]: region i covers object order[i] (None = empty); leftovers go to the last channel."""
    regions = np.zeros((NC, *objects.shape), dtype=np.float32)
    taken = np.zeros(objects.shape, dtype=bool)
    for i, obj in enumerate(order):
        if obj is not None:
            regions[i][objects == obj] = 1
            taken |= objects == obj
    regions[NC - 1][~taken] = 1
    return regions


def test_region_objects_on_the_snail_layout() -> None:
    objects = snail_layout(SIZE, PIECES)  # areas 1/2, 1/4, 1/8, 1/16, 1/16
    rows = region_objects(regions_for([0, 1, None, 2], objects), objects, k=4)
    assert [r["object"] for r in rows] == [0, 1, -1, 2]
    assert [r["object_area"] for r in rows] == [0.5, 0.25, 0.0, 0.125]
    assert rows[0]["purity"] == 1.0 and rows[0]["coverage"] == 1.0
    assert np.isnan(rows[2]["purity"]) and rows[2]["region_area"] == 0.0
    # A region straddling two objects: the modal one wins, purity and coverage say by how much.
    regions = np.zeros((NC, SIZE, SIZE), dtype=np.float32)
    regions[0][objects == 1] = 1
    regions[0][objects == 2] = 1
    regions[1][(objects != 1) & (objects != 2)] = 1
    first = region_objects(regions, objects, k=1)[0]
    assert first["object"] == 1 and first["purity"] == pytest.approx(2 / 3) and first["coverage"] == 1.0


def records(orders: dict[str, list[int | None]], images: int = 3) -> pd.DataFrame:
    objects = snail_layout(SIZE, PIECES)
    rows = []
    for variant, order in orders.items():
        for k in range(images):
            for r in region_objects(regions_for(order, objects), objects, k=4):
                rows.append({"variant": variant, "image_id": f"test-{k:06d}", **r})
    return snail_frame(rows)


def test_snail_order_tau_for_ordered_and_scrambled_models() -> None:
    result = snail_order(records({"guidingpainter": [0, 1, 2, 3], "fixed_nh": [3, None, 0, 1]}))
    good, bad = result["variants"]["guidingpainter"], result["variants"]["fixed_nh"]
    assert good["object"] == [0, 1, 2, 3] and good["kendall_tau"] == pytest.approx(1.0)
    assert good["object_area"] == [0.5, 0.25, 0.125, 0.0625]
    assert good["distinct_objects_head"] == 4 and good["empty_frac"] == [0.0] * 4
    assert bad["object"] == [3, -1, 0, 1] and bad["empty_frac"][1] == 1.0
    assert bad["kendall_tau"] < 0.2 and bad["tau_per_image_mean"] < 0.2
    assert good["n_images"] == 3
    assert good["object_region"] == {"0": 1, "1": 2, "2": 3, "3": 4} and good["nonempty"] == 4.0
    assert bad["object_region"] == {"0": 3, "1": 4, "2": None, "3": 1} and bad["nonempty"] == 3.0


def test_one_swap_in_four_gives_tau_two_thirds() -> None:
    objects = snail_layout(SIZE, PIECES)
    rows = [{"variant": "guidingpainter", "image_id": "test-000000", **r}
            for r in region_objects(regions_for([0, 1, 3, 2], objects), objects, k=4)]
    result = snail_order(snail_frame(rows))["variants"]["guidingpainter"]
    assert result["kendall_tau"] == pytest.approx(4 / 6)  # the paper's Fig. 4a ("except for the 4th")


def test_equal_sized_pieces_count_as_a_tie() -> None:
    objects = snail_layout(SIZE, 4)  # the last two pieces have the same area
    rows = [{"variant": "guidingpainter", "image_id": "test-000000", **r}
            for r in region_objects(regions_for([0, 1, 2, 3], objects), objects, k=4)]
    result = snail_order(snail_frame(rows))["variants"]["guidingpainter"]
    assert result["object_area"] == [0.5, 0.25, 0.125, 0.125]
    assert result["kendall_tau"] == pytest.approx(5 / np.sqrt(6 * 5))  # tau-b: 5 concordant, one tie


def test_protocol_reads_snail_records_from_the_run_dir(tmp_path: Path) -> None:
    from colorbench.evaluation.records import write_records

    df = records({"guidingpainter": [0, 1, 2, 3]})
    write_records(tmp_path / "snail_records.csv", df)
    out = SnailOrder().compute(pd.DataFrame(), ProtocolContext(tmp_path, {}))
    assert out["variants"]["guidingpainter"]["kendall_tau"] == pytest.approx(1.0)
    elsewhere = SnailOrder().compute(pd.DataFrame(), ProtocolContext(tmp_path / "nowhere", {}))
    assert elsewhere["variants"] == {} and "Dark Snail experiment" in elsewhere["skipped"]
    with pytest.raises(ValueError, match="snail_records.csv"):
        snail_order(df.drop(columns=["object_area"]))


def test_figure_is_written(tmp_path: Path) -> None:
    objects = snail_layout(SIZE, PIECES)
    color = np.zeros((1, SIZE, SIZE, 3), dtype=np.uint8)
    color[0][objects == 0] = (255, 0, 0)
    samples = {
        "sketch": np.full((1, SIZE, SIZE), 255, dtype=np.uint8),
        "color": color,
        "regions/guidingpainter": (objects + 1)[None].astype(np.int8),
        "regions/fixed_nh": np.zeros((1, SIZE, SIZE), dtype=np.int8),
    }
    path = snail_figure(samples, tmp_path / "fig4.png", variants=["guidingpainter", "fixed_nh"], k=4)
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[1] > image.shape[0]  # a wide grid: 2 rows × 6 panels
    with pytest.raises(KeyError, match="rerun"):
        snail_figure(samples, tmp_path / "x.png", variants=["other"])


@pytest.mark.slow
def test_snail_experiment_end_to_end(tmp_path: Path) -> None:
    """Plumbing at toy size (1 epoch on 16 images): files, schema, both variants; not a claim about order."""
    import json

    import torch

    from colorbench.checkpoints import read_metadata
    from colorbench.evaluation.records import load_npz
    from colorbench.experiments.snail import SNAIL_COLUMNS, run_snail_experiment

    torch.set_num_threads(1)
    out = run_snail_experiment(tmp_path, epochs=1, size=32, width=0.0625, k=4, n_images=3, batch_size=8,
                               train_limit=16, resume=False, lambda_tv=1.0)
    df = pd.read_csv(out["files"]["records"])
    assert list(df.columns) == list(SNAIL_COLUMNS)
    nc = 30  # every region is tabulated (requests skip empty ones), the figure shows k = 4
    assert sorted(df["variant"].unique()) == ["fixed_nh", "guidingpainter"] and len(df) == 2 * 3 * nc
    samples = load_npz(out["files"]["samples"])
    assert samples["regions/guidingpainter"].shape == (3, 32, 32) and samples["objects"].shape == (3, 32, 32)
    saved = json.loads(Path(out["files"]["order"]).read_text())
    assert set(saved["variants"]) == {"fixed_nh", "guidingpainter"} and saved["train"]["fixed_nh"]["history"]
    for v in ("fixed_nh", "guidingpainter"):  # the recipe's loss weights reach both trained models
        config = read_metadata(saved["train"][v]["checkpoint"])["config"]
        assert config["lambda_tv"] == 1.0 and config["lambda_smth"] == 0.0
    assert saved["lambda_tv"] == 1.0
    assert "kendall_tau_requests" in out["summary"]["guidingpainter"]
    assert Path(out["files"]["figure"]).stat().st_size > 1000


def test_request_order_skips_empty_regions() -> None:
    """A user is asked for the non-empty regions in priority order: empty channels between them do not
    break a decreasing-size order of requests, though the channel-index τ counts them as size 0."""
    objects = snail_layout(SIZE, PIECES)
    rows = [{"variant": "guidingpainter", "image_id": "test-000000", **r}
            for r in region_objects(regions_for([0, None, None, 1, 2, 3], objects), objects, k=NC)]
    result = snail_order(snail_frame(rows))["variants"]["guidingpainter"]
    assert result["kendall_tau_requests"] == pytest.approx(1.0)
    assert result["requests"] == [[1, 0], [4, 1], [5, 2], [6, 3]] and result["requests_share"] == 1.0
    assert result["kendall_tau"] < 0.67  # channels 2 and 3 are empty: "smaller" than object 1 in channel 4
    swapped = [{"variant": "guidingpainter", "image_id": "test-000000", **r}
               for r in region_objects(regions_for([1, None, 0, 2, 3], objects), objects, k=NC)]
    assert snail_order(snail_frame(swapped))["variants"]["guidingpainter"]["kendall_tau_requests"] == \
        pytest.approx(4 / 6)


def test_snail_seeds_writes_the_spread_over_seeds(tmp_path: Path) -> None:
    import json

    import torch

    from colorbench.experiments.snail import run_snail_seeds

    torch.set_num_threads(1)
    result = run_snail_seeds(tmp_path, [0, 1], epochs=1, size=32, width=0.0625, k=4, n_images=2, batch_size=8,
                             train_limit=16, resume=False)
    saved = json.loads((tmp_path / "seeds.json").read_text())
    assert saved["seeds"] == [0, 1] and set(saved["variants"]) == {"guidingpainter", "fixed_nh"}
    for v, spread in saved["variants"].items():
        assert len(spread["kendall_tau_requests"]) == 2 and len(spread["largest_first"]) == 2
        assert spread["kendall_tau_requests"] == [result["runs"][s][v]["kendall_tau_requests"] for s in ("0", "1")]
        history = json.loads((tmp_path / "seed-1" / "models" / v / "history.json").read_text())
        assert spread["val_psnr"][1] == history[-1]["val_psnr"]
    assert (tmp_path / "seed-0" / "snail_order.json").exists() and (tmp_path / "seed-1" / "fig4_snail.png").exists()
