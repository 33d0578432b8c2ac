"""Checkpoints: safetensors tensors + JSON metadata; loading never unpickles and checks model/shapes.

Layout of one file: tensors named "<part>.<param>" (e.g. "net.e1.block.0.weight", "optim/..." is never
stored here: optimizer state for resume goes to a sibling `.train.safetensors`); metadata key
"colorbench" holds JSON: {"model", "config", "dataset", "size", "epochs", "step", "versions", "command"}.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from colorbench.atomic import atomic_write
from colorbench.errors import UsageError

META_KEY = "colorbench"


class CheckpointError(UsageError, RuntimeError):
    """A checkpoint cannot be used as asked; the message says why and what to do (still a RuntimeError,
    its base before UsageError existed)."""


def save_checkpoint(path: str | Path, state: dict[str, torch.Tensor], metadata: dict[str, Any]) -> str:
    """Write tensors + metadata atomically; returns the file's sha256."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    meta = {META_KEY: json.dumps(metadata, sort_keys=True, default=str)}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))
    return file_sha256(path)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of a checkpoint, without loading its tensors."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError, Exception) as exc:
        raise CheckpointError(
            f"{path} is not a readable safetensors checkpoint ({exc}); colorbench never unpickles .pt/.pth files"
        ) from exc
    if META_KEY not in meta:
        raise CheckpointError(f"{path} has no colorbench metadata: it was not written by colorbench")
    try:
        return json.loads(meta[META_KEY])
    except ValueError as exc:
        raise CheckpointError(f"{path} has unreadable colorbench metadata ({exc})") from exc


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, metadata); raises CheckpointError with the reason on anything unusable."""
    meta = read_metadata(path)
    try:
        tensors = load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"{path} is corrupt ({exc})") from exc
    return tensors, meta


def load_into(module: torch.nn.Module, tensors: dict[str, torch.Tensor], source: str,
              optional: tuple[str, ...] = ()) -> None:
    """load_state_dict with one readable error listing missing/unexpected/mis-shaped tensors.

    Tensors under the `optional` prefixes (training-only parts) may be absent; they keep their init.
    Stored dtypes (e.g. float16 in shipped checkpoints) are cast to the module's.
    """
    own = module.state_dict()
    missing = sorted(k for k in set(own) - set(tensors) if not (optional and k.startswith(optional)))
    unexpected = sorted(set(tensors) - set(own))
    shapes = [
        f"{k}: checkpoint {tuple(tensors[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in tensors and tuple(tensors[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if shapes:
            parts.append("shape mismatch: " + "; ".join(shapes[:5]) + (" …" if len(shapes) > 5 else ""))
        if missing:
            parts.append(f"{len(missing)} missing tensors (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
        raise CheckpointError(
            f"{source} does not fit this model configuration: {'; '.join(parts)}. "
            "Was it trained with another --width/--size or for another model?"
        )
    cast = {k: v.to(own[k].dtype) for k, v in tensors.items()}
    module.load_state_dict(cast, strict=False)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
