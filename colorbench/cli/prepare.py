"""`colorbench prepare NAME --src DIR`: a folder of colour images → a dataset colorbench can train and test on."""

from __future__ import annotations

from typing import Any

import click

from colorbench.cli.flags import (
    finite_flag,
)
from colorbench.errors import UsageError
from colorbench.progress import STDERR


@click.command()
@click.argument("name")
@click.option("--src", required=True, type=click.Path(exists=True, file_okay=False), help="Folder of colour images.")
@click.option("--size", default=256, show_default=True, help="Square size every image is resized to (32 to 4096).")
@click.option("--sketches", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder of given line art with the same file names (instead of XDoG).")
@click.option("--xdog-sigma", type=float, default=None, callback=finite_flag,
              help="XDoG line scale σ for every image [default: 0.3, 0.4 or 0.5 by image id]; larger = thicker lines.")
@click.option("--xdog-tau", type=float, default=None, callback=finite_flag,
              help="XDoG τ [default 0.95]: higher keeps fainter outlines (nearly empty sketches), lower blackens "
                   "fewer dark fills (nearly solid ones).")
@click.option("--xdog-epsilon", type=float, default=None, callback=finite_flag,
              help="XDoG threshold ε [default 0]: negative makes fewer pixels black, positive more.")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, envvar="COLORBENCH_DATA",
              help="Where prepared datasets are written [env COLORBENCH_DATA, default ./data].")
@click.option("--nri-threshold", type=float, default=None, callback=finite_flag, help="NRI threshold stored for an unknown dataset name.")
@click.option("--overwrite", is_flag=True, help="Replace an existing prepared dataset of that name.")
@click.option("--input", "input_mode", type=click.Choice(["sketch", "grayscale"]), default="sketch",
              show_default=True, help="grayscale: no sketches are extracted and the dataset is evaluated on its "
                                      "L channel by default (docs/grayscale.md).")
def prepare(name: str, src: str, size: int, sketches: str | None, data_root: str | None,
            nri_threshold: float | None, overwrite: bool, input_mode: str = "sketch", xdog_sigma: float | None = None,
            xdog_tau: float | None = None, xdog_epsilon: float | None = None) -> None:
    """Resize, extract XDoG sketches and split 81:9:10 into DATA_ROOT/NAME/{train,val,test}/{color,sketch}.

    Identical images go to one split; sketches that come out nearly empty or nearly solid are listed in the
    manifest (docs/own-data.md, Sketch quality)."""
    from colorbench.data.prepare import prepare_dataset

    if input_mode == "grayscale" and sketches:
        raise UsageError("--sketches gives line art, which a --input grayscale dataset does not keep: drop one")
    kwargs: dict[str, Any] = {"size": size, "sketches": sketches, "overwrite": overwrite}
    xdog_params = {k: v for k, v in (("sigma", xdog_sigma), ("tau", xdog_tau), ("epsilon", xdog_epsilon))
                   if v is not None}
    if xdog_params:
        kwargs["xdog_params"] = xdog_params
    if input_mode == "grayscale":
        kwargs["input_mode"] = "grayscale"
    if nri_threshold is not None:
        kwargs["nri_threshold"] = nri_threshold
    report = prepare_dataset(name, src, data_root or "data", **kwargs)
    STDERR.print(str(report), markup=False, soft_wrap=True)
