"""Defaults shared by the Python API and the CLI, in a module without heavy imports (the CLI reads them at
start-up, before torch is loaded)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainDefaults:
    """`colorbench train`'s defaults and colorbench.training.loop.TrainConfig's: one source for CLI and API."""

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
