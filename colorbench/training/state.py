"""The resume state in last.train.safetensors: optimizers, AMP loss scale and RNG as tensors + JSON (no
pickle), and reading a run back for `--resume` (refused when it is another run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from colorbench.checkpoints import CheckpointError, load_checkpoint
from colorbench.training.checks import check_resume_identity, identity

WEIGHTS = "model/"  # prefix of the weights inside last.train.safetensors


def flatten_optimizers(optimizers: dict[str, torch.optim.Optimizer]) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer states as safetensors-storable tensors (`optim/<name>/<param>/<key>`) + their param_groups
    as JSON."""
    tensors: dict[str, torch.Tensor] = {}
    groups: dict[str, Any] = {}
    for name, opt in optimizers.items():
        sd = opt.state_dict()
        groups[name] = sd["param_groups"]
        for idx, st in sd["state"].items():
            for key, val in st.items():
                tensors[f"optim/{name}/{idx}/{key}"] = torch.as_tensor(val).detach().cpu().clone()
    return tensors, groups


def restore_optimizers(optimizers: dict[str, torch.optim.Optimizer], tensors: dict[str, torch.Tensor],
                       groups: dict) -> None:
    """Inverse of `flatten_optimizers`, into optimizers built as the saved run built them."""
    for name, opt in optimizers.items():
        state: dict[int, dict[str, torch.Tensor]] = {}
        prefix = f"optim/{name}/"
        for key, val in tensors.items():
            if key.startswith(prefix):
                idx, sub = key[len(prefix):].split("/", 1)
                state.setdefault(int(idx), {})[sub] = val
        opt.load_state_dict({"state": state, "param_groups": groups[name]})


def scaler_state(scaler: torch.amp.GradScaler | None) -> dict[str, Any] | None:
    """The AMP loss scale and its growth tracker as JSON, for the train-state checkpoint (None without AMP).
    Without it a resumed run restarts at scale 2^16 and skips steps on overflow until it backs off again."""
    return None if scaler is None else scaler.state_dict()  # plain floats and ints: JSON as it is


def restore_scaler(scaler: torch.amp.GradScaler | None, state: dict[str, Any] | None) -> None:
    """Inverse of `scaler_state`; a run saved without AMP (or resumed with AMP turned off) keeps its default."""
    if scaler is not None and state:
        scaler.load_state_dict(state)


def read_resume_state(out: Path, name: str, meta_now: dict[str, Any], world: int
                      ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any]]:
    """(weights, optimizer/RNG tensors, metadata) of OUT's run, refused when it is another run than this one."""
    last, last_train = out / "last.safetensors", out / "last.train.safetensors"
    train_tensors, train_meta = load_checkpoint(last_train)
    if train_meta.get("model") != name:
        raise CheckpointError(f"{last_train} holds a {train_meta.get('model')!r} run, not {name!r}; use another --out")
    if train_meta.get("weights"):
        weights = {k[len(WEIGHTS):]: v for k, v in train_tensors.items() if k.startswith(WEIGHTS)}
        saved = train_meta
    else:  # written before the weights moved in: last.safetensors must be of the same epoch
        weights, saved = load_checkpoint(last)
        if int(saved.get("epoch", -1)) != int(train_meta["epoch"]):
            raise CheckpointError(f"--resume: {last} is of epoch {saved.get('epoch')} but {last_train} of epoch "
                                  f"{train_meta['epoch']} (the run was killed between the two writes); train into "
                                  "another --out or with --overwrite")
    check_resume_identity(identity(saved, int(saved.get("world", 1))), identity(meta_now, world), last_train)
    return weights, train_tensors, train_meta
