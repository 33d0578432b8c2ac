"""Every default of colorbench in one module (as torch-fidelity's DEFAULTS): the API, the CLI, the engine,
the hint simulators, the hint-count law and the report options read them here. No heavy imports: the CLI
reads them at start-up, before torch is loaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrainDefaults:
    """`colorbench train`'s defaults and colorbench.training.config.TrainConfig's: one source for CLI and API."""

    epochs: int = 10
    batch_size: int = 16
    seed: int = 0
    device: str = "auto"
    val_limit: int = 32  # validation images scored per epoch (`train --val-limit`)


@dataclass(frozen=True)
class EvalDefaults:
    """`colorbench run`'s evaluation defaults and colorbench.evaluation.engine.EvalPlan's: one source for CLI and API."""

    nc: int = 30  # Eq. (3): the bound of the geometric hint-count law
    p: float = 0.125
    sweep: tuple[int, ...] = (2, 4, 6, 8, 10, 12)  # Fig. 12
    batch_size: int = 32
    forward_rows: int = 32
    n_samples: int = 32  # test images, drawn at random (colorbench.evaluation.sample_draw), whose pictures are kept
    sample_levels: int = 12  # pictures are kept for n = 0..12: the report's browser and figures show no more
    # What `run` computes by default; the API's EvalPlan computes only what it is asked (native).
    run_modes: tuple[str, ...] = ("native", "equalized", "ablation", "perturbed")


EVAL = EvalDefaults()

CHECK_IMAGES = 64  # test images `colorbench check` measures a new reference on (`check --limit`)

# `colorbench report`'s options and colorbench.protocols.options.resolve_options' defaults.
REPORT_OPTIONS: dict[str, Any] = {
    "nri_threshold": None,  # dB; None = the dataset's threshold from run.json (E7.4)
    "compare": None,  # "ours,rtug" or a list of such pairs: paired bootstrap of per-image differences
    "paper_rows": False,  # True = the run's dataset, or a dataset name: the paper's numbers as reference rows
    "seed": 0,  # bootstrap resampling and the Monte-Carlo check draw from this seed
    "n_boot": 1000,  # bootstrap resamples per interval
    "ci_level": 0.95,
    "sweep": None,  # hint counts of Fig. 12; None = run.json protocol.sweep
    "eg_fid": False,  # also report E_G[FID] = Σ G(n)·FID(n) (needs features at every n; off by default)
    "qualitative_n": 6,  # hints per model in the Fig. 3 grid
    "strip_steps": 8,  # guidance steps shown in the Fig. 1/14 strips
    "figure_images": None,  # image ids the strips and Fig. 3 show; None = spread over quantiles (figure_choice)
}


@dataclass
class ZooBudget:
    """The same data, steps and image size for every model: the comparison is fair by construction."""

    dataset: str = "toon"
    size: int = 64
    width: float = 0.125
    epochs: int = 24
    limit: int = 2048  # training images per epoch
    batch_size: int = 16
    # One lr for all: at this budget the papers' lrs leave f in one region (GuidingPainter at 2e-4, measured)
    # or barely move CIC (3e-5); betas stay each paper's.
    lr: float = 1e-3
    seed: int = 0
    threads: int = 1  # torch intra-op threads per model; --jobs trains models side by side

    def describe(self) -> str:
        steps = self.epochs * (self.limit // self.batch_size)
        return (f"{self.epochs} epochs × {self.limit} {self.dataset} images at {self.size} px, batch {self.batch_size} "
                f"({steps} optimizer steps), width {self.width}, lr {self.lr:g}, seed {self.seed}, "
                f"{self.threads} thread{'s' if self.threads != 1 else ''}")

    def command(self) -> str:
        """The one command that rebuilds every shipped checkpoint with this budget."""
        return (f"colorbench zoo build --models all --dataset {self.dataset} --epochs {self.epochs} --limit {self.limit} "
                f"--size {self.size} --width {self.width:g} --batch-size {self.batch_size} --lr {self.lr:g} "
                f"--threads {self.threads}" + (f" --seed {self.seed}" if self.seed else ""))
