"""Runs the work of a resolved run (resolve.ResolvedRun): each variant's images not yet in its cache entry through
the engine into chunk files, then rank 0 writes the run directory from every shard's chunks (run_writer)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.markup import escape

from colorbench.atomic import run_lock
from colorbench.errors import UsageError
from colorbench.evaluation.batches import iter_batches
from colorbench.evaluation.chunks import cache_key, chunk_name, load_chunk, save_chunk
from colorbench.evaluation.engine import Evaluator
from colorbench.evaluation.records import save_npz
from colorbench.evaluation.resolve import ResolvedRun
from colorbench.evaluation.run_writer import write_run_dir
from colorbench.evaluation.variants import Variant
from colorbench.progress import make_progress
from colorbench.versions import source_fingerprint

Chunk = tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, dict]]  # records, features, samples (chunks.save_chunk)


@dataclass
class Computed:
    """What this process has for the merge: the cache entry of each variant ("real": the ground truth's
    features), how many of the run's images each already held, and the chunks it computed itself."""

    cache_dirs: dict[str, Path] = field(default_factory=dict)
    reuse: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Chunks kept in memory for the merge (rank 0) so it need not read back what it just wrote — only those
    # without Inception features: a large FID run's features would otherwise stay in memory for every variant
    # at once, where the merge holds one variant's at a time.
    held: dict[Path, Chunk] = field(default_factory=dict)
    ranges: dict[Path, np.ndarray] = field(default_factory=dict)  # out-of-range output counts per computed chunk
    finished: list[Variant] = field(default_factory=list)  # variants whose every image is in their cache entry


class ChunkWriter:
    """Chunk files compressed and written in a worker thread (zlib releases the GIL) while the next batch computes,
    one write in flight: its error surfaces at the next `write` or `wait`, and nothing is lost on exit."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="colorbench-chunks")
        self._pending: Future | None = None

    def write(self, path: Path, *chunk: Any) -> None:
        self.wait()
        self._pending = self._pool.submit(save_chunk, path, *chunk)

    def wait(self) -> None:
        if self._pending is not None:
            self._pending.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def evaluate(run: ResolvedRun, progress: bool, log: Callable[[str], None]) -> None:
    """Compute what the cache lacks and write the run directory (rank 0). A variant whose model's code or
    checkpoint fails (UsageError) stops the run after the variants before it are merged into OUT."""
    done = Computed()
    writer = ChunkWriter()
    try:
        failed = _compute(run, done, writer, progress, log)
        if run.ctx.is_distributed:
            writer.wait()  # every rank's chunks are on disk before rank 0 merges them
        if failed is not None:
            # The images this model finished stay in its cache entry (its chunks); the models before it are
            # merged into OUT as a run of their own, so nothing computed is lost. (Sharded runs: every rank
            # stops at its own error; the cache keeps what each computed.)
            writer.wait()
            if done.finished and not run.ctx.is_distributed:
                _write(run, done, done.finished)
            raise failed
        run.ctx.barrier()
        if run.ctx.rank == 0:
            _write(run, done, run.variants)
        writer.wait()  # the last chunk (the resume cache) is written before the run returns
    finally:
        writer.close()
    if run.ctx.rank == 0 and not run.ctx.is_distributed:
        for label in run.refused:  # entries no run may reuse: this run's alone, kept only until merged
            shutil.rmtree(done.cache_dirs.get(label or "real", run.out / "cache" / ".none"), ignore_errors=True)
    run.ctx.barrier()


def _compute(run: ResolvedRun, done: Computed, writer: ChunkWriter, progress: bool,
             log: Callable[[str], None]) -> UsageError | None:
    """Fill `done` variant by variant; → the error that stopped a variant (its model's code or checkpoint)."""
    t0 = time.perf_counter()
    with make_progress(enabled=progress and run.ctx.rank == 0) as bar:
        if run.features is not None:
            done.cache_dirs["real"], have = _real_features(run)
            done.reuse["real"] = _reuse_entry(run.out, done.cache_dirs["real"], have, run.ids)
        for v in run.variants:
            cdir, todo = _cache_entry(run, v, done, log if run.ctx.rank == 0 else None)
            task = bar.add_task(f"{v.label}", total=len(run.shard), completed=len(run.shard) - len(todo), info="")
            if todo:
                try:
                    for n in _compute_images(run, v, cdir, todo, done, writer):
                        bar.update(task, advance=n, info=f"{(time.perf_counter() - t0):.0f}s")
                except UsageError as exc:  # the model's code or checkpoint failed: one line, after keeping the rest
                    return exc
            done.finished.append(v)
    return None


def _cache_entry(run: ResolvedRun, v: Variant, done: Computed,
                 log: Callable[[str], None] | None) -> tuple[Path, list[str]]:
    """(`v`'s cache entry, the images of this shard it lacks); notes both in `done`."""
    sha = run.described[v.label]["checkpoint_sha256"]
    code = run.code_part(v.label)
    if run.placed(v):  # equalized/perturbed point and stroke records depend on the region model's checkpoint too
        assert run.placed_in is not None
        sha += "|placed-in:" + run.placed_in["checkpoint_sha256"]
        code = code + run.code_part(run.placed_in["label"])
    key = cache_key(sha, run.dataset_fp, run.cfg.plan, run.fid_status.get("weights_sha256"), code)
    cdir = run.out / "cache" / f"{v.label}-{key}"
    cdir.mkdir(parents=True, exist_ok=True)
    done.cache_dirs[v.label] = cdir
    have = _done_ids(cdir, log) if run.cfg.resume else set()
    done.reuse[v.label] = _reuse_entry(run.out, cdir, have, run.ids)
    todo = [i for i in run.shard if i not in have]
    if len(todo) < len(run.shard) and log is not None:
        log(f"{v.label}: {len(run.shard) - len(todo)} of {len(run.shard)} images reused from the cache "
            f"({escape(str(cdir))}); {len(todo) or 'nothing'} to compute")  # --out "run[v2]"
    return cdir, todo


def _compute_images(run: ResolvedRun, v: Variant, cdir: Path, todo: list[str], done: Computed,
                    writer: ChunkWriter) -> Any:
    """Evaluate `v` on the images `todo`, a chunk file per batch; yields the number of images of each batch."""
    plan = run.cfg.plan
    # The first batch decodes while the checkpoint loads; `closing` ends the decoding thread on error.
    with contextlib.closing(iter_batches(run.dataset, todo, plan.batch_size, run.device,
                                         run.cfg.num_workers)) as batches:
        # The official test script keeps Gumbel noise in GuidingPainter's regions (seeded per image here).
        model = v.load(run.device, {"gumbel_eval": True} if plan.gumbel_noise else None)
        ev = Evaluator(v, model, run.dataset, plan, run.device, region_source=run.region_source,
                       features=run.features, nh=run.nh, sample_ids=run.sample_ids)
        for batch in batches:
            result = ev.run_batch(batch)
            path = cdir / chunk_name(batch.ids)
            done.ranges[path] = ev.take_out_of_range().to_array()  # per chunk: the merge sums them, cached or not
            writer.write(path, *result, done.ranges[path])
            if run.ctx.rank == 0 and not result[1]:
                done.held[path] = result
            yield len(batch.ids)


def _write(run: ResolvedRun, done: Computed, variants: list[Variant]) -> None:
    """The run directory of `variants` (their cache entries), under the run lock: concurrent runs merge in turn."""
    with run_lock(run.out):
        write_run_dir(run.out, done.cache_dirs, variants, {v.label: run.described[v.label] for v in variants},
                      run.dataset, run.cfg, run.fid_status, run.ids, done.held, _extra(run, done, variants))


def _extra(run: ResolvedRun, done: Computed, variants: list[Variant]) -> dict[str, Any]:
    """The run.json entries write_run_dir adds for `variants` (see its `extra`)."""
    labels = {v.label for v in variants} | {"real"}
    cache_doc = {"source_fingerprint": source_fingerprint(),
                 "entries": {k: e for k, e in done.reuse.items() if k in labels}, "code": run.identities,
                 "reuse_refused": {label or "real": reasons for label, reasons in run.refused.items()
                                   if (label or "real") in labels}}
    return {"warnings": list(run.warnings), "cache": cache_doc, "region_source": run.placed_in,
            "placed": {v.label for v in variants if run.placed(v)}, "ranges": done.ranges}


def _done_ids(cdir: Path, log: Callable[[str], None] | None = None) -> set[str]:
    """Image ids the chunks of `cdir` hold; an unreadable chunk is deleted (its images are recomputed) and
    `log` gets one line naming it — a damaged cache says so instead of costing time silently."""
    have: set[str] = set()
    for chunk in cdir.glob("chunk-*.npz"):
        try:
            df, _, _ = load_chunk(chunk)
        except Exception as exc:  # noqa: BLE001 — chunks are written atomically, but a disk or a user can damage one
            chunk.unlink(missing_ok=True)
            if log is not None:
                log(f"cache chunk {escape(str(chunk))} was unreadable ({escape(type(exc).__name__)}): deleted, "
                    "its images are recomputed")
            continue
        have |= set(df["image_id"])
    return have


def _reuse_entry(out: Path, cdir: Path, have: set[str], ids: list[str]) -> dict[str, Any]:
    """run.json's record of one cache entry: its directory and how many of the run's images came from it."""
    reused = len(have.intersection(ids))
    return {"dir": cdir.relative_to(out).as_posix(), "reused_images": reused, "computed_images": len(ids) - reused}


def _real_features(run: ResolvedRun) -> tuple[Path, set[str]]:
    """Inception features of the ground-truth test images, cached like any variant's (keyed like them on the
    source code too: the preprocessing is colorbench's; and on the dataset's code, code_identity.identity_key);
    → (cache directory, image ids it already held)."""
    assert run.features is not None
    key_parts = [run.dataset_fp, run.fid_status.get("weights_sha256"), source_fingerprint(), run.code_part(None)]
    key = hashlib.sha256(json.dumps(key_parts).encode()).hexdigest()[:20]
    cdir = run.out / "cache" / f"real-{key}"
    cdir.mkdir(parents=True, exist_ok=True)
    have = set()
    for chunk in cdir.glob("chunk-*.npz"):
        with np.load(chunk, allow_pickle=False) as z:
            have |= {str(k) for k in z["feat_keys"]}
    todo = [i for i in run.shard if i not in have]
    with contextlib.closing(iter_batches(run.dataset, todo, run.cfg.plan.batch_size, run.device,
                                         run.cfg.num_workers)) as batches:
        for batch in batches:
            vecs = run.features(batch.gt_u8)
            save_npz(cdir / chunk_name(batch.ids), feat_keys=np.asarray(batch.ids, dtype=str),
                     feat_vals=np.asarray(vecs, dtype=np.float32))
    return cdir, have
