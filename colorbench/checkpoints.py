"""Checkpoints: safetensors tensors + JSON metadata; loading never unpickles and checks model/shapes.

Layout of one file: tensors named "<part>.<param>" (e.g. "net.e1.block.0.weight", "optim/..." is never
stored here: optimizer state for resume goes to a sibling `.train.safetensors`); metadata key
"colorbench" holds JSON: {"model", "config", "dataset", "size", "epochs", "step", "versions", "command"}.
"""

from __future__ import annotations

import hashlib
import json
import math
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
        data = json.loads(meta[META_KEY])
    except ValueError as exc:
        raise CheckpointError(f"{path} has unreadable colorbench metadata ({exc})") from exc
    return check_metadata(data, path)


# Metadata fields colorbench reads, and the JSON type each must have (absent or null is allowed).
METADATA_TYPES: dict[str, tuple[type, ...]] = {"model": (str,), "config": (dict,), "dataset": (str,), "size": (int,)}


def check_metadata(meta: Any, path: str | Path) -> dict[str, Any]:
    """`meta` if it is an object whose fields have the types colorbench reads; else a CheckpointError naming
    the file and the field (valid JSON of the wrong shape would otherwise crash deep in model building)."""
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: its colorbench metadata must be a JSON object, got {type(meta).__name__}")
    for key, types in METADATA_TYPES.items():
        value = meta.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            raise CheckpointError(f"{path}: metadata field {key!r} must be {_json_name(types[0])}, got {value!r}")
    return meta


def check_config(config: dict[str, Any], defaults: dict[str, Any], path: str | Path) -> None:
    """Each value of a checkpoint's config has its default's JSON type (an int where a float is expected is
    fine; numbers must be finite): `"width": "wide"` is named here, not as a TypeError inside a network."""
    for key, value in config.items():
        if key not in defaults or defaults[key] is None:
            continue  # unknown keys are the constructor's to name; None defaults take any value
        default = defaults[key]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, (int, float)):
            numeric = (int,) if isinstance(default, int) else (int, float)
            ok = isinstance(value, numeric) and not isinstance(value, bool) and math.isfinite(value)
        else:
            ok = isinstance(value, type(default))
        if not ok:
            raise CheckpointError(f"{path}: metadata field 'config.{key}' must be {_json_name(type(default))} "
                                  f"(default {default!r}), got {value!r}")


def _json_name(kind: type) -> str:
    return {str: "a string", dict: "an object", int: "an integer", float: "a finite number", bool: "a boolean",
            list: "a list"}.get(kind, kind.__name__)


def header_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Tensor name → shape from the safetensors header alone (no tensor data is read)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}  # noqa: SIM118 — not iterable


def check_fits_before_building(cls: Any, config: dict[str, Any], path: str | Path,
                               optional: tuple[str, ...] = ()) -> None:
    """Build `cls(config)` on the meta device (no memory) and compare its tensor shapes with the file's header,
    so that metadata with an absurd width is refused before the real model allocates gigabytes."""
    try:
        with torch.device("meta"):
            skeleton = cls.from_config(config)
    except UsageError:
        raise
    except RuntimeError as exc:
        if "overflow" in str(exc):  # even shapes alone do not fit in 64 bits: no file can hold such a model
            raise CheckpointError(f"{path} does not fit its metadata's config {config}: the model would need "
                                  f"tensors too large to exist ({exc})") from exc
        return  # not constructible on the meta device; `load_into` checks the shapes once it is built
    except Exception:  # noqa: BLE001 — a model whose constructor computes data (CIC's ab bins) cannot be built
        return  # on the meta device; `load_into` checks its shapes once it is built
    own = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    check_shapes(own, header_shapes(path), str(path), optional)


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
    check_shapes({k: tuple(v.shape) for k, v in own.items()}, {k: tuple(v.shape) for k, v in tensors.items()},
                 source, optional)
    cast = {k: v.to(own[k].dtype) for k, v in tensors.items()}
    module.load_state_dict(cast, strict=False)


def check_shapes(own: dict[str, tuple[int, ...]], stored: dict[str, tuple[int, ...]], source: str,
                 optional: tuple[str, ...] = ()) -> None:
    """One readable CheckpointError listing missing / unexpected / mis-shaped tensors of `stored` (the file)
    against `own` (the model); tensors under the `optional` prefixes may be absent."""
    missing = sorted(k for k in set(own) - set(stored) if not (optional and k.startswith(optional)))
    unexpected = sorted(set(stored) - set(own))
    shapes = [f"{k}: checkpoint {stored[k]} vs model {own[k]}" for k in own if k in stored and stored[k] != own[k]]
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


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
