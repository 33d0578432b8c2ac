"""Dataset-level input mode (paper supplement B): any dataset served as sketch → colour (its own sketches) or as
L → colour (`grayscale`: the "sketch" slot holds X = L/50 − 1 of the colour image, colorbench.color.grayscale).

`with_input(dataset, mode)` is the one place the mode is applied. A dataset declares its default mode with
the class/instance attribute `input_mode` (the prepared manifest's "input", `toon-gray`'s "grayscale"); the
others default to sketch. In grayscale mode the fingerprint changes (cached records of the two modes never mix)
and `describe()` says "input": "grayscale", which run.json keeps and Table 4 reads.
"""

from __future__ import annotations

import hashlib
from typing import Any

from torch.utils.data import Dataset

from colorbench.color.grayscale import GRAYSCALE, INPUT_MODES, SKETCH, grayscale_models, luminance_input
from colorbench.data.base import ColorDataset, DatasetError, u8_to_tensor


def default_input(dataset: ColorDataset) -> str:
    """The mode `dataset` is served in unless --input says otherwise."""
    return str(getattr(dataset, "input_mode", SKETCH) or SKETCH)


def input_of(dataset: ColorDataset) -> str:
    """The mode a dataset object serves (an `InputView`'s mode, else its default)."""
    return dataset.mode if isinstance(dataset, InputView) else default_input(dataset)


class InputView(Dataset):
    """`base` served in `mode`: every other attribute (name, size, nri_threshold, changed, …) is the base's; `get`
    fills "sketch" with X = L/50 − 1 in grayscale mode ([1,H,W] in [-1,1], from the uint8 colour, so it is what a
    saved grayscale image would give)."""

    def __init__(self, base: ColorDataset, mode: str) -> None:
        if mode not in INPUT_MODES:
            raise DatasetError(f"--input must be one of {', '.join(INPUT_MODES)}, got {mode!r}")
        if mode == SKETCH and not getattr(base, "has_sketches", True):
            raise DatasetError(
                f"dataset {base.name!r} was prepared with --input grayscale and has no sketches: evaluate it with "
                f"--input grayscale, or prepare it again without --input to extract XDoG sketches")
        self.base = base
        self.mode = mode

    def __getattr__(self, name: str) -> Any:  # only for attributes the view does not set itself
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    def all_ids(self) -> list[str]:
        return self.base.all_ids()

    def ids(self) -> list[str]:
        return self.base.ids()

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.get(self.ids()[index])

    def load(self, image_id: str) -> Any:
        return self.base.load(image_id)

    def get(self, image_id: str) -> dict[str, Any]:
        if self.mode == SKETCH:
            return self.base.get(image_id)
        loader = getattr(self.base, "load_color", None)
        color_u8 = loader(image_id) if loader is not None else self.base.load(image_id)[1]
        color = u8_to_tensor(color_u8.transpose(2, 0, 1))
        return {"id": image_id, "sketch": luminance_input(color[None])[0], "color": color}

    def describe(self) -> dict[str, Any]:
        out = dict(self.base.describe())
        if self.mode == GRAYSCALE:
            out["input"] = GRAYSCALE
        return out

    def fingerprint(self) -> str:
        base = self.base.fingerprint()
        if self.mode == SKETCH:
            return base  # a sketch run keeps the fingerprint (and caches) it had before input modes existed
        return hashlib.sha256(f"{base}|input={self.mode}".encode()).hexdigest()


def with_input(dataset: ColorDataset, mode: str | None = None) -> InputView:
    """`dataset` served in `mode` (None: its default, `default_input`)."""
    if isinstance(dataset, InputView):
        dataset = dataset.base
    return InputView(dataset, mode or default_input(dataset))


def dataset_default_input(name: str, size: int = 64, root: str | None = None) -> str:
    """The default input mode of the dataset `name` (opens its val split: cheap, no image is read)."""
    from colorbench.data import open_dataset

    return default_input(open_dataset(name, "val", size=size, root=root))


def training_input(model_name: str, defaults: dict[str, Any], config: dict[str, Any],
                   dataset_mode: str) -> tuple[str, dict[str, Any]]:
    """(input mode, model config) of a training run: the config's "input" (`train … --input grayscale`) wins,
    else the dataset's default mode. A model without input modes (no "input" config key) trains on sketches only:
    asked for grayscale it is a DatasetError naming the models that have the mode."""
    mode = str(config.get("input") or dataset_mode)
    if mode not in INPUT_MODES:
        raise DatasetError(f"--input must be one of {', '.join(INPUT_MODES)}, got {mode!r}")
    if "input" not in defaults:
        if mode != SKETCH:
            raise DatasetError(f"{model_name} has no grayscale mode (dataset input {mode!r}); grayscale models: "
                               f"{', '.join(grayscale_models())}; train it on a sketch dataset instead")
        return mode, dict(config)
    return mode, dict(config) | ({"input": mode} if mode != SKETCH or "input" in config else {})
