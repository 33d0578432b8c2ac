"""Which checkpoints a run evaluates: `--models` names, `--checkpoint NAME[@TAG]=PATH` specs, the model zoo.

A *variant* is one row of the tables: a registered model with one checkpoint (e.g. "ours", or
"ours@rec+adv" for a loss-ablation checkpoint of GuidingPainter).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorbench.api import HintKind
from colorbench.checkpoints import (
    CheckpointError,
    check_config,
    check_fits_before_building,
    file_sha256,
    load_checkpoint,
    load_into,
    read_metadata,
)
from colorbench.color.grayscale import mode_labels
from colorbench.errors import UsageError
from colorbench.model import ColorizerModel
from colorbench.registry import MODELS

ZOO_DIR = Path(__file__).resolve().parents[1] / "zoo"


@dataclass
class Variant:
    """One evaluated checkpoint. `label` is unique in a run and names its records and table row."""

    label: str
    model: str  # canonical registry name
    checkpoint: Path | None  # None: a non-learned model, built from its default config
    tag: str = ""

    @property
    def hint_kind(self) -> HintKind:
        return MODELS.get(self.model).hint_kind

    def load(self, device: Any = "cpu", overrides: dict[str, Any] | None = None) -> ColorizerModel:
        """Rebuild the model from the checkpoint's config, load its weights (checked), eval mode. `overrides`:
        evaluation-time config values (e.g. gumbel_eval), each applied only when the model has that key."""
        cls = MODELS.get(self.model)
        keys = cls.default_config() if hasattr(cls, "default_config") else {}
        known = {k: v for k, v in (overrides or {}).items() if k in keys}
        if self.checkpoint is None:
            return cls.from_config(known).to(device).eval()
        meta = read_metadata(self.checkpoint)
        if meta.get("model") != self.model:
            raise CheckpointError(
                f"{self.checkpoint} is a {meta.get('model')!r} checkpoint, not {self.model!r}: "
                f"pass it as --checkpoint {meta.get('model')}={self.checkpoint}"
            )
        config = meta.get("config") or {}
        check_config(config, cls.default_config(), self.checkpoint)
        check_fits_before_building(cls, config, self.checkpoint, optional=cls.training_only)
        model = cls.from_config(config | known)
        tensors, _ = load_checkpoint(self.checkpoint)
        load_into(model, tensors, str(self.checkpoint), optional=cls.training_only)
        return model.to(device).eval()

    def describe(self) -> dict[str, Any]:
        info = MODELS.get(self.model).info()
        if self.checkpoint is None:
            config = MODELS.get(self.model).default_config()
            return info.to_json() | {"model": self.model, "tag": self.tag, "checkpoint": None,
                                     "checkpoint_sha256": "none:" + json.dumps(config, sort_keys=True),
                                     "config": config, "trained": None}
        meta = read_metadata(self.checkpoint)
        return info.to_json() | mode_labels(info.labels, meta.get("config")) | {
            "model": self.model,
            "tag": self.tag,
            "checkpoint": str(self.checkpoint),
            "checkpoint_sha256": file_sha256(self.checkpoint),
            "config": meta.get("config", {}),
            "trained": {k: meta.get(k) for k in ("dataset", "size", "epoch", "step", "selected", "val_psnr", "command")},
        }


def zoo_checkpoint(model: str, dataset: str) -> Path:
    """The shipped checkpoint of `model` trained on the synthetic `dataset` (embedded default)."""
    return ZOO_DIR / f"{model}-{dataset}.safetensors"


def parse_checkpoint_spec(spec: str) -> Variant:
    """'ours=PATH' or 'ours@rec+adv=PATH' → Variant (the model name may be an alias)."""
    if "=" not in spec:
        raise UsageError(f"--checkpoint {spec!r}: use NAME=PATH or NAME@TAG=PATH (e.g. ours@rec=runs/rec/best.safetensors)")
    left, path = spec.split("=", 1)
    name, _, tag = left.partition("@")
    model = MODELS.canonical(name)
    p = Path(path).expanduser()
    if not p.is_file():
        raise CheckpointError(f"--checkpoint {spec!r}: file {p} does not exist")
    label = f"{model}@{tag}" if tag else model
    return Variant(label, model, p, tag)


def resolve_variants(models: list[str], checkpoint_specs: list[str], dataset: str) -> list[Variant]:
    """Explicit checkpoints first; every model in `models` without one falls back to the zoo."""
    variants = [parse_checkpoint_spec(s) for s in checkpoint_specs]
    have = {v.model for v in variants}
    for name in models:
        if name in have:
            continue
        if not getattr(MODELS.get(name), "needs_checkpoint", True):
            variants.append(Variant(name, name, None))
            continue
        path = zoo_checkpoint(name, dataset)
        if not path.is_file():
            raise CheckpointError(
                f"no checkpoint for {name!r} on {dataset!r}: train one with "
                f"`colorbench train {name} --dataset {dataset} --out runs/{name}-{dataset}` and pass "
                f"--checkpoint {name}=runs/{name}-{dataset}/best.safetensors "
                f"(shipped checkpoints exist only for the synthetic sets)"
            )
        variants.append(Variant(name, name, path))
    labels = [v.label for v in variants]
    dupes = sorted({label for label in labels if labels.count(label) > 1})
    if dupes:
        raise UsageError(f"two checkpoints share the label {dupes[0]!r}: give them tags, e.g. {dupes[0]}@a=PATH")
    return variants
