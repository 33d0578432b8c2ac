"""Metrics compare a model's output with the dataset's own 8-bit image: the ground truth is not shifted by the
[-1,1] round trip, and outputs are quantised to the nearest level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from colorbench.api import HintKind, Hints
from colorbench.data.base import ColorDataset, u8_to_tensor
from colorbench.evaluation.batches import Batch
from colorbench.evaluation.engine import EvalPlan
from colorbench.evaluation.records import read_records
from colorbench.evaluation.runner import RunConfig, run_evaluation
from colorbench.model import ColorizerModel
from colorbench.registry import DATASETS, MODELS

LEVEL = 40  # in 1..63, where truncating the round trip gave v − 1


def test_every_uint8_level_of_the_ground_truth_survives_the_float_round_trip() -> None:
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    color = np.stack([levels, levels.T, 255 - levels], axis=0)  # [3,16,16]
    item = {"id": "all-levels", "sketch": u8_to_tensor(levels[None]), "color": u8_to_tensor(color)}
    gt = Batch([item], torch.device("cpu")).gt_u8
    assert torch.equal(gt[0], torch.from_numpy(color))


class _Flat(ColorDataset):
    """One 16 px image of a single grey level."""

    name = "gt-flat"
    nri_threshold = 20.0

    def all_ids(self) -> list[str]:
        return ["flat-0"]

    def load(self, image_id: str) -> tuple[np.ndarray, np.ndarray]:
        return np.full((self.size, self.size), 255, np.uint8), np.full((self.size, self.size, 3), LEVEL, np.uint8)


class _NearLevel(ColorizerModel):
    """Outputs LEVEL + 0.3 levels everywhere: the nearest 8-bit level is the ground truth's."""

    name = "gt-near"
    hint_kind = HintKind.NONE
    needs_checkpoint = False

    def colorize(self, sketch: torch.Tensor, hints: Hints) -> torch.Tensor:
        value = (LEVEL + 0.3) / 127.5 - 1.0
        return torch.full((sketch.shape[0], 3, *sketch.shape[-2:]), value, device=sketch.device) + 0 * sketch


@pytest.fixture
def registered():
    DATASETS.register("gt-flat", _Flat)
    MODELS.register("gt-near", _NearLevel)
    yield
    DATASETS.unregister("gt-flat")
    MODELS.unregister("gt-near")


def test_an_output_within_half_a_level_of_the_dataset_image_scores_identical(registered, tmp_path: Path) -> None:
    cfg = RunConfig(models=["gt-near"], dataset="gt-flat", out=str(tmp_path / "run"), size=16, fid=False,
                    plan=EvalPlan(modes=["native"], n_samples=1))
    out = run_evaluation(cfg, progress=False)
    records = read_records(out / "records.csv")
    assert records["psnr"].tolist() == [100.0]  # truncation scored 40 against a shifted 39: 48.13 dB
    with np.load(out / "samples" / "gt-near.npz") as z:
        assert int(z["gt"].min()) == int(z["gt"].max()) == LEVEL
        assert int(z["outputs"].min()) == int(z["outputs"].max()) == LEVEL
