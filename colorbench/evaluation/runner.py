"""`colorbench run` without the CLI: resolve data and checkpoints, run the engine (sharded, resumable),
merge the shards and write records.csv, features/, samples/ and run.json into the run directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from rich.markup import escape

from colorbench.api import HintKind
from colorbench.atomic import run_lock, sweep_stale, writer_tag
from colorbench.errors import UsageError
from colorbench.evaluation.allocator import retain_freed_memory
from colorbench.evaluation.batches import iter_batches
from colorbench.evaluation.chunks import (
    cache_key,
    chunk_name,
    chunk_out_of_range,
    load_chunk,
    save_chunk,
    save_npz_fast,
)
from colorbench.evaluation.code_identity import identity_key, run_identities, unknown_parts
from colorbench.evaluation.engine import EQUALIZABLE, EvalPlan, Evaluator, nh_assignment
from colorbench.evaluation.merge import check_mergeable, merge_records, merge_run, variant_provenance
from colorbench.evaluation.model_calls import OutOfRange
from colorbench.evaluation.records import (
    SORT_KEYS,
    FeatureStore,
    records_frame,
    save_npz,
    write_json,
    write_records,
)
from colorbench.evaluation.sample_draw import draw_samples
from colorbench.evaluation.variants import Variant, resolve_variants
from colorbench.progress import STDERR, make_progress
from colorbench.training import ddp as dist
from colorbench.training.loop import resolve_device
from colorbench.versions import git_hash, source_fingerprint, versions


@dataclass
class RunConfig:
    """Every option of a run; its fingerprint and a copy go into run.json / results.json."""

    models: list[str]
    dataset: str
    out: str
    checkpoints: list[str] = field(default_factory=list)
    size: int | None = None  # None: the dataset's own (a prepared set's manifest size, else 64)
    limit: int | None = None
    data_root: str | None = None
    device: str = "auto"
    resume: bool = True
    fid: bool = True  # computed when weights are found; otherwise "n/a" with the reason
    fid_weights: str | None = None
    plan: EvalPlan = field(default_factory=EvalPlan)
    num_workers: int = 0  # DataLoader processes reading test images (never changes results)
    input: str | None = None  # sketch | grayscale (colorbench.color.grayscale); None: the dataset's own default

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        if d["input"] is None:
            del d["input"]  # a run without --input keeps the fingerprint it had before input modes existed
        return d

    def fingerprint(self) -> str:
        d = self.to_json()
        for volatile in ("out", "resume", "device", "num_workers"):
            d.pop(volatile, None)
        d["plan"].pop("batch_size", None)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


def _fid_backend(cfg: RunConfig, device: torch.device) -> tuple[dict[str, Any], Callable | None]:
    """(status for run.json, feature function or None). Never another network under the name FID."""
    if not cfg.fid:
        return {"available": False, "reason": "FID disabled (--no-fid)", "weights_sha256": None, "standard": False}, None
    from colorbench.metrics.fid import InceptionFeatures, resolve_weights

    weights = resolve_weights(cfg.fid_weights)
    status = weights.to_json()
    if not weights.available:
        return status, None
    extractor = InceptionFeatures(weights, device)
    return status, extractor


def run_evaluation(cfg: RunConfig, progress: bool = True, log: Callable[[str], None] | None = None) -> Path:
    """Evaluate every variant on the test split; returns the run directory (rank 0 writes it)."""
    from colorbench.color.grayscale import check_variant_inputs
    from colorbench.data import native_size, open_dataset
    from colorbench.data.grayscale import with_input
    from colorbench.metrics.registry import per_image_metrics
    from colorbench.registry import MODELS

    log = log or (lambda msg: STDERR.print(msg))
    if cfg.size is None:
        cfg = replace(cfg, size=native_size(cfg.dataset, cfg.data_root))
    out = Path(cfg.out)
    retain_freed_memory()  # forwards reuse their activation memory instead of page-faulting it back in
    ctx = dist.init(cfg.device)  # gloo unless this run uses CUDA
    device = resolve_device(cfg.device) if not ctx.is_distributed else ctx.device(cfg.device)
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
    variants = resolve_variants(cfg.models, cfg.checkpoints, cfg.dataset)
    if not variants:  # refused before OUT is touched: a run.json without variants breaks every later run there
        raise UsageError("no model to evaluate: name models (--models) or give checkpoints (--checkpoint NAME=PATH)")
    if ctx.rank == 0:
        _check_writable(out)
    dist.check_shared_folder(ctx, out)  # rank 0 merges the chunks every rank writes under --out
    if ctx.rank == 0:
        litter = sweep_stale(out)  # temp files of runs killed mid-write (kill -9); a live writer's stay
        if litter:
            log(f"removed {len(litter)} temporary file(s) of interrupted runs under {escape(str(out))}")
    fid_status, features = _fid_backend(cfg, device)
    plan = cfg.plan
    plan.fid = features is not None
    nh = nh_assignment(dataset, ids, plan)
    fid_status["nh_assignment"] = nh
    if not fid_status["available"] and ctx.rank == 0 and cfg.fid:
        log(f"[yellow]FID: n/a — {escape(str(fid_status['reason']))}[/yellow]")  # it may name a path
    shard = ids[ctx.rank :: ctx.world]
    sample_ids = set(draw_samples(dataset.name, ids, plan.n_samples, plan.figure_images))
    dataset_fp = dataset.fingerprint()
    described = {v.label: v.describe() for v in variants}
    check_variant_inputs(described, {v.label: MODELS.get(v.model) for v in variants}, dataset.mode, cfg.dataset)
    identities = run_identities({v.label: MODELS.get(v.model) for v in variants}, dataset,
                                per_image_metrics([m["name"] for m in cfg.plan.metrics if not m.get("unavailable")]))
    warnings = size_warnings(described, dataset.size) + edited_warnings(dataset)
    for line in warnings if ctx.rank == 0 else []:
        log(f"[yellow]warning: {escape(line)}[/yellow]")

    region_source, placed_in = None, None  # the model whose regions place point/stroke hints; its run.json entry
    placing = sorted({"equalized", "perturbed", "policies"} & set(plan.modes))
    if placing and any(_kind(v) in EQUALIZABLE for v in variants):
        src = next((v for v in variants if _kind(v) is HintKind.REGION), None)
        if src is None:
            if ctx.rank == 0:
                named = ["the policies' guided" if m == "policies" else m for m in placing]
                log(f"[yellow]{' and '.join(named)} hints of point/stroke models go inside GuidingPainter's "
                    "regions: add a GuidingPainter checkpoint to the run; skipping those for them[/yellow]")
        else:
            region_source = src.load(device)
            placed_in = {"label": src.label, "checkpoint_sha256": described[src.label]["checkpoint_sha256"]}
    refused = _refused(identities, variants, placed_in)
    nonce = _shared_nonce(ctx) if refused else ""
    for label, reasons in refused.items() if ctx.rank == 0 else {}:
        log(f"[yellow]warning: {escape(label or 'ground-truth features')}: cached records are not reused — "
            f"{escape(reasons[0])}[/yellow]")

    # A folder holding other variants measured otherwise is refused before anything is computed (every rank reads
    # the same run.json, so all stop together); the merge checks again under the lock for a concurrent writer.
    check_mergeable(out, _run_document(dataset, cfg, fid_status, ids, described))

    t0 = time.perf_counter()
    cache_dirs: dict[str, Path] = {}
    reuse: dict[str, dict[str, Any]] = {}  # per cache entry: how many of this run's images it already held
    # Chunks this rank computed, kept for the merge (rank 0) so it need not read back what it just wrote —
    # only those without Inception features: a large FID run's features would otherwise stay in memory for
    # every variant at once, where the merge holds one variant's at a time.
    held: dict[Path, tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, dict]]] = {}
    ranges: dict[Path, np.ndarray] = {}  # out-of-range output counts of the chunks this process computed
    finished: list[Variant] = []  # variants whose every image is in their cache entry
    failed: UsageError | None = None  # the error that stopped a variant (its model's code or checkpoint)
    # Chunk files are compressed and written in a worker thread (zlib releases the GIL) while the next batch
    # computes, one write in flight: its error surfaces at the next batch, and nothing is lost on exit.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="colorbench-chunks")
    writing: Future | None = None
    try:
        with make_progress(enabled=progress and ctx.rank == 0) as bar:
            if features is not None:
                cache_dirs["real"], done = _real_features(dataset, shard, out, dataset_fp, fid_status, features,
                                                          plan, device, cfg.num_workers,
                                                          _code_part(identities, None, refused, nonce))
                reuse["real"] = _reuse_entry(out, cache_dirs["real"], done, ids)
            for v in variants:
                # Equalized/perturbed point and stroke records depend on the region model's checkpoint too.
                sha = described[v.label]["checkpoint_sha256"]
                code = _code_part(identities, v.label, refused, nonce)
                if placed_in and _kind(v) in EQUALIZABLE:
                    sha += "|placed-in:" + placed_in["checkpoint_sha256"]
                    code += _code_part(identities, placed_in["label"], refused, nonce)
                key = cache_key(sha, dataset_fp, plan, fid_status.get("weights_sha256"), code)
                cdir = out / "cache" / f"{v.label}-{key}"
                cdir.mkdir(parents=True, exist_ok=True)
                cache_dirs[v.label] = cdir
                done = _done_ids(cdir, log if ctx.rank == 0 else None) if cfg.resume else set()
                reuse[v.label] = _reuse_entry(out, cdir, done, ids)
                todo = [i for i in shard if i not in done]
                task = bar.add_task(f"{v.label}", total=len(shard), completed=len(shard) - len(todo), info="")
                if len(todo) < len(shard) and ctx.rank == 0:
                    log(f"{v.label}: {len(shard) - len(todo)} of {len(shard)} images reused from the cache "
                        f"({escape(str(cdir))}); {len(todo) or 'nothing'} to compute")  # --out "run[v2]"
                if not todo:
                    finished.append(v)
                    continue
                # The first batch decodes while the checkpoint loads; `closing` ends the decoding thread on error.
                try:
                    with contextlib.closing(iter_batches(dataset, todo, plan.batch_size, device,
                                                         cfg.num_workers)) as batches:
                        model = v.load(device)
                        if plan.gumbel_noise and "gumbel_eval" in getattr(model, "config", {}):
                            model.config["gumbel_eval"] = True  # the official test script keeps Gumbel noise (seeded here)
                        ev = Evaluator(v, model, dataset, plan, device, region_source=region_source, features=features,
                                       nh=nh, sample_ids=sample_ids)
                        for batch in batches:
                            result = ev.run_batch(batch)
                            # per chunk: the merge sums them, cached or not
                            ranges[cdir / chunk_name(batch.ids)] = ev.take_out_of_range().to_array()
                            path = cdir / chunk_name(batch.ids)
                            if writing is not None:
                                writing.result()
                            writing = writer.submit(save_chunk, path, *result, ranges[path])
                            if ctx.rank == 0 and not result[1]:
                                held[path] = result
                            bar.update(task, advance=len(batch.ids), info=f"{(time.perf_counter() - t0):.0f}s")
                        del model, ev
                except UsageError as exc:  # the model's code or checkpoint failed: one line, after keeping the rest
                    failed = exc
                    break
                finished.append(v)
        if ctx.is_distributed and writing is not None:
            writing.result()  # every rank's chunks are on disk before rank 0 merges them
        if failed is not None:
            # The images this model finished stay in its cache entry (its chunks); the models before it are
            # merged into OUT as a run of their own, so nothing computed is lost. (Sharded runs: every rank
            # stops at its own error; the cache keeps what each computed.)
            if writing is not None:
                writing.result()
            if finished and not ctx.is_distributed:
                with run_lock(out):
                    _merge(out, cache_dirs, finished, {v.label: described[v.label] for v in finished}, dataset, cfg,
                           fid_status, ids, held, _extra(finished, reuse, identities, refused, placed_in, warnings,
                                                         ranges))
            raise failed
        ctx.barrier()
        if ctx.rank == 0:
            with run_lock(out):
                _merge(out, cache_dirs, variants, described, dataset, cfg, fid_status, ids, held,
                       _extra(variants, reuse, identities, refused, placed_in, warnings, ranges))
        if writing is not None:
            writing.result()  # the last chunk (the resume cache) is written before the run returns
    finally:
        writer.shutdown(wait=True)
    if ctx.rank == 0 and not ctx.is_distributed:
        for label in refused:  # entries no run may reuse: this run's alone, kept only until merged
            shutil.rmtree(cache_dirs.get(label or "real", out / "cache" / ".none"), ignore_errors=True)
    ctx.barrier()
    return out


def _extra(variants: list[Variant], reuse: dict[str, Any], identities: dict[str, Any],
           refused: dict[str | None, list[str]], placed_in: dict[str, Any] | None, warnings: list[str],
           ranges: dict[Path, np.ndarray]) -> dict[str, Any]:
    """The run.json entries `_merge` adds for `variants` (see its `extra`)."""
    labels = {v.label for v in variants} | {"real"}
    cache_doc = {"source_fingerprint": source_fingerprint(),
                 "entries": {k: e for k, e in reuse.items() if k in labels}, "code": identities,
                 "reuse_refused": {label or "real": reasons for label, reasons in refused.items()
                                   if (label or "real") in labels}}
    placed = {v.label for v in variants if placed_in and _kind(v) in EQUALIZABLE}
    return {"warnings": list(warnings), "cache": cache_doc, "region_source": placed_in, "placed": placed,
            "ranges": ranges}


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


def _kind(v: Variant) -> HintKind:
    from colorbench.registry import MODELS

    return MODELS.get(v.model).hint_kind


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


def _done_ids(cdir: Path, log: Callable[[str], None] | None = None) -> set[str]:
    """Image ids the chunks of `cdir` hold; an unreadable chunk is deleted (its images are recomputed) and
    `log` gets one line naming it — a damaged cache says so instead of costing time silently."""
    done: set[str] = set()
    for chunk in cdir.glob("chunk-*.npz"):
        try:
            df, _, _ = load_chunk(chunk)
        except Exception as exc:  # noqa: BLE001 — chunks are written atomically, but a disk or a user can damage one
            chunk.unlink(missing_ok=True)
            if log is not None:
                log(f"cache chunk {escape(str(chunk))} was unreadable ({escape(type(exc).__name__)}): deleted, "
                    "its images are recomputed")
            continue
        done |= set(df["image_id"])
    return done


def _reuse_entry(out: Path, cdir: Path, done: set[str], ids: list[str]) -> dict[str, Any]:
    """run.json's record of one cache entry: its directory and how many of the run's images came from it."""
    reused = len(done.intersection(ids))
    return {"dir": cdir.relative_to(out).as_posix(), "reused_images": reused, "computed_images": len(ids) - reused}


def _refused(identities: dict[str, Any], variants: list[Variant],
             placed_in: dict[str, Any] | None) -> dict[str | None, list[str]]:
    """{label (None: the ground truth's features): why its cached records cannot be reused} for every entry
    whose code (model, dataset, metrics; the region model that places its hints) has no identity."""
    out: dict[str | None, list[str]] = {}
    for v in [None, *variants]:
        label = None if v is None else v.label
        reasons = unknown_parts(identities, label)
        if v is not None and placed_in and _kind(v) in EQUALIZABLE:
            reasons += unknown_parts(identities, placed_in["label"])
        if reasons:
            out[label] = list(dict.fromkeys(reasons))
    return out


def _code_part(identities: dict[str, Any], label: str | None, refused: dict[str | None, list[str]],
               nonce: str) -> list[Any]:
    """The code identities in the cache key of `label`'s records (None: the ground truth's features); for
    records that must not be reused (code without an identity, `refused`) a key no other run has (`nonce`)."""
    if label in refused:
        return [["not reusable", nonce]]
    return identity_key(identities, label)


def _shared_nonce(ctx: Any) -> str:
    """A random key part, the same on every rank (rank 0's): the shards of one run share their cache entry."""
    value = torch.tensor([uuid.uuid4().int & ((1 << 62) - 1)], dtype=torch.int64)
    if ctx.is_distributed:
        value = ctx.all_gather(value)[0]
    return f"{int(value.item()):x}"


def _real_features(dataset: Any, shard: list[str], out: Path, dataset_fp: str, fid_status: dict, features: Callable,
                   plan: EvalPlan, device: torch.device, num_workers: int = 0,
                   code: list[Any] | None = None) -> tuple[Path, set[str]]:
    """Inception features of the ground-truth test images, cached like any variant's (keyed like them on the
    source code too: the preprocessing is colorbench's; `code`: the dataset's, code_identity.identity_key);
    → (cache directory, image ids it already held)."""
    key_parts = [dataset_fp, fid_status.get("weights_sha256"), source_fingerprint()] + ([code] if code else [])
    key = hashlib.sha256(json.dumps(key_parts).encode()).hexdigest()[:20]
    cdir = out / "cache" / f"real-{key}"
    cdir.mkdir(parents=True, exist_ok=True)
    done = set()
    for chunk in cdir.glob("chunk-*.npz"):
        with np.load(chunk, allow_pickle=False) as z:
            done |= {str(k) for k in z["feat_keys"]}
    todo = [i for i in shard if i not in done]
    with contextlib.closing(iter_batches(dataset, todo, plan.batch_size, device, num_workers)) as batches:
        for batch in batches:
            vecs = features(batch.gt_u8)
            save_npz(cdir / chunk_name(batch.ids), feat_keys=np.asarray(batch.ids, dtype=str),
                     feat_vals=np.asarray(vecs, dtype=np.float32))
    return cdir, done


def _merge(out: Path, cache_dirs: dict[str, Path], variants: list[Variant], described: dict, dataset: Any,
           cfg: RunConfig, fid_status: dict, ids: list[str], held: dict[Path, tuple] | None = None,
           extra: dict[str, Any] | None = None) -> None:
    """Gather every shard's chunks into the run directory, sorted, whatever the world size was.
    `held`: chunks already in memory (computed by this process), by path; the others are read.
    `extra`: more run.json entries: "warnings" (lines results.json repeats, e.g. `size_warnings`), "cache" (the
    source fingerprint of the cache keys and which entries were reused), "region_source" and "placed" (the labels
    whose hints it placed). The folder's rows of variants this run did not evaluate stay (`colorbench.evaluation.merge`);
    the caller holds the run lock, so concurrent runs merge one after the other."""
    held = held or {}
    extra = dict(extra or {})
    placed = extra.pop("placed", set())
    ranges = extra.pop("ranges", {})
    run = _run_document(dataset, cfg, fid_status, ids, described) | extra
    run["variants"] = {label: info | {"run": variant_provenance(run, label, run.get("region_source") if label in placed
                                                                 else None)} for label, info in described.items()}
    # Checked again here, under the run lock, before any file of the folder is replaced: a run of other settings
    # may have merged into OUT since this one started.
    old_run = check_mergeable(out, run)
    # The compressed array files are written by a worker thread (zlib releases the GIL) while records.csv
    # is formatted here; the pool's exit waits for them and re-raises any write error below.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="colorbench-merge") as pool:
        written: list[Future] = []
        frames = []
        for v in variants:
            feats: dict[str, np.ndarray] = {}
            samples: dict[str, dict] = {}
            cdir = cache_dirs[v.label]
            overshoot = OutOfRange()
            for chunk in sorted(set(cdir.glob("chunk-*.npz")) | {p for p in held if p.parent == cdir}):
                df, f, s = held[chunk] if chunk in held else load_chunk(chunk)
                frames.append(df)
                feats.update(f)
                samples.update(s)
                stats = ranges[chunk] if chunk in ranges else chunk_out_of_range(chunk)
                if stats is not None:
                    overshoot.add(int(stats[0]), float(stats[2]), float(stats[3]))
                    overshoot.total += int(stats[1])
            if overshoot.values:
                run["variants"][v.label]["out_of_range"] = {"values": overshoot.values, "of": overshoot.total,
                                                           "min": overshoot.lo, "max": overshoot.hi}
                run["warnings"].append(
                    f"{v.label}: {overshoot.values} of {overshoot.total} output values "
                    f"({100 * overshoot.values / max(1, overshoot.total):.3g} %) were outside [-1,1] (min "
                    f"{overshoot.lo:.4g}, max {overshoot.hi:.4g}); they are scored as the 8-bit image they give "
                    "(clamped to 0..255)")
            if feats:
                keys = sorted(feats)
                store = FeatureStore(keys, np.stack([feats[k] for k in keys]))
                written.append(pool.submit(store.save, out / "features" / f"{v.label}.npz"))
            order = [i for i in ids if i in samples]
            if order:
                arrays = {"image_ids": np.asarray(order, dtype=str)}
                for name in samples[order[0]]:
                    arrays[name] = np.stack([samples[i][name] for i in order])
                written.append(pool.submit(save_npz_fast, out / "samples" / f"{v.label}.npz", arrays))
        if "real" in cache_dirs:
            keys, vals = [], []
            for chunk in sorted(cache_dirs["real"].glob("chunk-*.npz")):
                with np.load(chunk, allow_pickle=False) as z:
                    keys += [str(k) for k in z["feat_keys"]]
                    vals.append(z["feat_vals"])
            unique = dict(zip(keys, np.concatenate(vals)))  # chunks of concurrent runs may overlap
            store = FeatureStore(sorted(unique), np.stack([unique[k] for k in sorted(unique)]))
            written.append(pool.submit(store.save, out / "features" / "real.npz"))
        # Frames straight into records_frame: a to_dict round trip costs ~1 s per 100k records.
        records = records_frame(pd.concat(frames, ignore_index=True)) if frames else records_frame([])
        # Runs with other batch sizes writing one cache at the same time leave overlapping chunks; the rows
        # are identical (deterministic), so keep one of each.
        records = records.drop_duplicates(subset=SORT_KEYS, keep="first")
        records = records[records["image_id"].isin(set(ids))].reset_index(drop=True)
        labels = {v.label for v in variants}
        records = records_frame(merge_records(out, records, old_run, labels))
        write_records(out / "records.csv", records)
    for future in written:
        future.result()
    write_json(out / "run.json", merge_run(run, old_run, set(records["variant"])))


def _run_document(dataset: Any, cfg: RunConfig, fid_status: dict, ids: list[str], described: dict) -> dict[str, Any]:
    """run.json of this run alone (before `colorbench.evaluation.merge` adds what the folder keeps of earlier runs)."""
    return {
        "dataset": {"name": dataset.name, "split": "test", "size": dataset.size, "n_images": len(ids),
                    "fingerprint": dataset.fingerprint(), "nri_threshold": float(dataset.nri_threshold),
                    "describe": dataset.describe()},
        "variants": described,
        "protocol": {"nc": cfg.plan.nc, "p": cfg.plan.p, "sweep": list(cfg.plan.sweep), "modes": list(cfg.plan.modes),
                     "seed": 0, "gumbel_noise": cfg.plan.gumbel_noise, "perturb_amount": cfg.plan.perturb_amount},
        "fid": fid_status,
        "versions": versions(),
        "config": cfg.to_json(),
        "config_fingerprint": cfg.fingerprint(),
        "warnings": [],
        "git": git_hash(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
