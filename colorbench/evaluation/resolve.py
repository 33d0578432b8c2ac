"""Everything a run needs, resolved from its RunConfig before any image is computed: the device, the test images,
the variants, the FID set-up, the region model that places hints, the code identities and cache-key parts."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from rich.markup import escape

from colorbench.api import HintKind
from colorbench.atomic import sweep_stale, writer_tag
from colorbench.errors import UsageError
from colorbench.evaluation.code_identity import identity_key, run_identities, unknown_parts
from colorbench.evaluation.engine import EQUALIZABLE, nh_assignment
from colorbench.evaluation.merge import check_mergeable
from colorbench.evaluation.run_writer import run_document
from colorbench.evaluation.sample_draw import draw_samples
from colorbench.evaluation.variants import Variant, resolve_variants
from colorbench.model import ColorizerModel
from colorbench.training import ddp as dist
from colorbench.training.loop import resolve_device

if TYPE_CHECKING:
    from colorbench.evaluation.runner import RunConfig
    from colorbench.training.ddp import DistContext


@dataclass
class ResolvedRun:
    """A run ready to compute. `cfg` is the caller's config with what the run decided filled in (a copy: the
    dataset's size, plan.fid); `described`: run.json's entry per variant label."""

    cfg: RunConfig
    out: Path
    ctx: DistContext
    device: torch.device
    dataset: Any
    dataset_fp: str  # dataset.fingerprint(), computed once
    ids: list[str]  # every test image of the run
    shard: list[str]  # the images this process computes (`ids[rank::world]`)
    variants: list[Variant]
    described: dict[str, dict[str, Any]]
    fid_status: dict[str, Any]  # run.json's "fid"
    features: Callable | None  # Inception features of uint8 images, None without FID
    nh: dict[str, int]  # the stratified Nh of each image (mixture FID set)
    sample_ids: set[str]  # images whose pictures are kept
    identities: dict[str, Any]  # run.json's cache.code (code_identity.run_identities)
    warnings: list[str]
    region_source: ColorizerModel | None  # the model whose regions place point/stroke hints
    placed_in: dict[str, Any] | None  # its run.json entry: label and checkpoint hash
    refused: dict[str | None, list[str]]  # cache entries no run may reuse, and why (None: the ground truth's)
    nonce: str  # the key part of refused entries (the same on every rank)

    def placed(self, v: Variant) -> bool:
        """True when `v`'s equalized/perturbed/policies hints go inside the region source's regions."""
        return self.placed_in is not None and v.hint_kind in EQUALIZABLE

    def code_part(self, label: str | None) -> list[Any]:
        """The code identities in the cache key of `label`'s records (None: the ground truth's features); for
        records that must not be reused (code without an identity, `refused`) a key no other run has."""
        if label in self.refused:
            return [["not reusable", self.nonce]]
        return identity_key(self.identities, label)


def resolve_run(cfg: RunConfig, log: Callable[[str], None]) -> ResolvedRun:
    """Check and resolve `cfg` (it is not modified); UsageError before OUT is touched for a bad set-up, and
    before anything is computed for an OUT holding other variants measured otherwise."""
    from colorbench.color.grayscale import check_variant_inputs
    from colorbench.data import native_size
    from colorbench.metrics.registry import per_image_metrics
    from colorbench.registry import MODELS

    if cfg.size is None:
        cfg = replace(cfg, size=native_size(cfg.dataset, cfg.data_root))
    out = Path(cfg.out)
    ctx = dist.init(cfg.device)  # gloo unless this run uses CUDA
    device = resolve_device(cfg.device) if not ctx.is_distributed else ctx.device(cfg.device)
    dataset, ids = _test_images(cfg)
    variants = resolve_variants(cfg.models, cfg.checkpoints, cfg.dataset)
    if not variants:  # refused before OUT is touched: a run.json without variants breaks every later run there
        raise UsageError("no model to evaluate: name models (--models) or give checkpoints (--checkpoint NAME=PATH)")
    _prepare_out(out, ctx, log)
    fid_status, features = _fid_backend(cfg, device)
    cfg = replace(cfg, plan=replace(cfg.plan, fid=features is not None))
    nh = nh_assignment(dataset, ids, cfg.plan)
    fid_status["nh_assignment"] = nh
    if not fid_status["available"] and ctx.rank == 0 and cfg.fid:
        log(f"[yellow]FID: n/a — {escape(str(fid_status['reason']))}[/yellow]")  # it may name a path
    dataset_fp = dataset.fingerprint()  # hashes the files: a prepared set notes those edited since (`changed`)
    described = {v.label: v.describe() for v in variants}
    check_variant_inputs(described, {v.label: MODELS.get(v.model) for v in variants}, dataset.mode, cfg.dataset)
    metrics = per_image_metrics([m["name"] for m in cfg.plan.metrics if not m.get("unavailable")])
    identities = run_identities({v.label: MODELS.get(v.model) for v in variants}, dataset, metrics)
    warnings = size_warnings(described, dataset.size) + edited_warnings(dataset)
    for line in warnings if ctx.rank == 0 else []:
        log(f"[yellow]warning: {escape(line)}[/yellow]")
    region_source, placed_in = _region_source(cfg, variants, described, device, ctx, log)
    refused = _refused(identities, variants, placed_in)
    nonce = _shared_nonce(ctx) if refused else ""
    for label, reasons in refused.items() if ctx.rank == 0 else {}:
        log(f"[yellow]warning: {escape(label or 'ground-truth features')}: cached records are not reused — "
            f"{escape(reasons[0])}[/yellow]")
    # A folder holding other variants measured otherwise is refused before anything is computed (every rank reads
    # the same run.json, so all stop together); the merge checks again under the lock for a concurrent writer.
    check_mergeable(out, run_document(dataset, cfg, fid_status, ids, described))
    return ResolvedRun(cfg=cfg, out=out, ctx=ctx, device=device, dataset=dataset, dataset_fp=dataset_fp, ids=ids,
                       shard=ids[ctx.rank :: ctx.world], variants=variants, described=described,
                       fid_status=fid_status, features=features, nh=nh,
                       sample_ids=set(draw_samples(dataset.name, ids, cfg.plan.n_samples, cfg.plan.figure_images)),
                       identities=identities, warnings=warnings, region_source=region_source, placed_in=placed_in,
                       refused=refused, nonce=nonce)


def _test_images(cfg: RunConfig) -> tuple[Any, list[str]]:
    """(the test split as the run reads it, its image ids), every --limit / --figure-images checked."""
    from colorbench.data import open_dataset
    from colorbench.data.grayscale import with_input

    if cfg.limit is not None and cfg.limit <= 0:
        raise UsageError("--limit must be a positive number of test images")
    dataset = with_input(open_dataset(cfg.dataset, "test", size=cfg.size, root=cfg.data_root, limit=cfg.limit),
                         cfg.input)
    ids = dataset.ids()
    if not ids:
        raise UsageError(f"dataset {cfg.dataset!r} has no test images")
    unknown = [i for i in cfg.plan.figure_images if i not in set(ids)]
    if unknown:
        raise UsageError(f"--figure-images: {', '.join(unknown[:3])} {'is' if len(unknown) == 1 else 'are'} not "
                         f"among the {len(ids)} test images of {cfg.dataset} (e.g. {ids[0]})")
    return dataset, ids


def _prepare_out(out: Path, ctx: DistContext, log: Callable[[str], None]) -> None:
    """OUT writable, seen by every rank, without the temporary files of runs killed mid-write."""
    if ctx.rank == 0:
        _check_writable(out)
    dist.check_shared_folder(ctx, out)  # rank 0 merges the chunks every rank writes under --out
    if ctx.rank == 0:
        litter = sweep_stale(out)  # temp files of runs killed mid-write (kill -9); a live writer's stay
        if litter:
            log(f"removed {len(litter)} temporary file(s) of interrupted runs under {escape(str(out))}")


def _fid_backend(cfg: RunConfig, device: torch.device) -> tuple[dict[str, Any], Callable | None]:
    """(status for run.json, feature function or None). Never another network under the name FID."""
    if not cfg.fid:
        return {"available": False, "reason": "FID disabled (--no-fid)", "weights_sha256": None, "standard": False}, None
    from colorbench.metrics.fid import InceptionFeatures, resolve_weights

    weights = resolve_weights(cfg.fid_weights)
    status = weights.to_json()
    if not weights.available:
        return status, None
    return status, InceptionFeatures(weights, device)


def _region_source(cfg: RunConfig, variants: list[Variant], described: dict[str, dict[str, Any]],
                   device: torch.device, ctx: DistContext,
                   log: Callable[[str], None]) -> tuple[ColorizerModel | None, dict[str, Any] | None]:
    """(the model whose regions place point/stroke hints, its run.json entry), or (None, None) when no mode
    places hints, no point/stroke model is run, or no GuidingPainter checkpoint is (logged: those are skipped)."""
    placing = sorted({"equalized", "perturbed", "policies"} & set(cfg.plan.modes))
    if not placing or not any(v.hint_kind in EQUALIZABLE for v in variants):
        return None, None
    src = next((v for v in variants if v.hint_kind is HintKind.REGION), None)
    if src is None:
        if ctx.rank == 0:
            named = ["the policies' guided" if m == "policies" else m for m in placing]
            log(f"[yellow]{' and '.join(named)} hints of point/stroke models go inside GuidingPainter's "
                "regions: add a GuidingPainter checkpoint to the run; skipping those for them[/yellow]")
        return None, None
    return src.load(device), {"label": src.label, "checkpoint_sha256": described[src.label]["checkpoint_sha256"]}


def size_warnings(described: dict[str, dict[str, Any]], size: int) -> list[str]:
    """One line per checkpoint trained at another size than `size`: the nets are fully convolutional, so
    it runs, and its numbers measure the change of resolution as much as the model."""
    out = []
    for label, info in described.items():
        trained = (info.get("trained") or {}).get("size")
        if trained is not None and int(trained) != size:
            out.append(f"{label}: checkpoint {info['checkpoint']} was trained at {trained} px but is evaluated at "
                       f"{size} px (--size sets the evaluation size)")
    return out


def edited_warnings(dataset: Any) -> list[str]:
    """One line per file of a prepared dataset edited since `prepare` (its bytes differ from manifest.json): the
    run measures the files as they are now — the fingerprint hashes their content — which the manifest no longer
    describes."""
    return [f"{path} differs from {dataset.name}'s manifest.json (edited after `colorbench prepare`?): evaluated as "
            "it is now; re-run `colorbench prepare` to make the manifest match" for path in getattr(dataset, "changed", [])]


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        # A unique probe name: runs sharing OUT must not delete each other's probe; tagged, so that a kill -9's
        # is swept.
        fd, probe = tempfile.mkstemp(prefix=f".write-probe.{writer_tag()}.", suffix=".tmp", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"cannot write to output directory {out}: {exc.strerror}; choose another --out") from exc


def _refused(identities: dict[str, Any], variants: list[Variant],
             placed_in: dict[str, Any] | None) -> dict[str | None, list[str]]:
    """{label (None: the ground truth's features): why its cached records cannot be reused} for every entry
    whose code (model, dataset, metrics; the region model that places its hints) has no identity."""
    out: dict[str | None, list[str]] = {}
    for v in [None, *variants]:
        label = None if v is None else v.label
        reasons = unknown_parts(identities, label)
        if v is not None and placed_in and v.hint_kind in EQUALIZABLE:
            reasons += unknown_parts(identities, placed_in["label"])
        if reasons:
            out[label] = list(dict.fromkeys(reasons))
    return out


def _shared_nonce(ctx: DistContext) -> str:
    """A random key part, the same on every rank (rank 0's): the shards of one run share their cache entry."""
    value = torch.tensor([uuid.uuid4().int & ((1 << 62) - 1)], dtype=torch.int64)
    if ctx.is_distributed:
        value = ctx.all_gather(value)[0]
    return f"{int(value.item()):x}"
