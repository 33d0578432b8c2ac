"""A run's directory written from its cache chunks (every shard's): records.csv, features/, samples/ and run.json,
merged with the variants the folder already holds (colorbench.evaluation.merge)."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from colorbench.evaluation.chunks import chunk_out_of_range, load_chunk, save_npz_fast
from colorbench.evaluation.merge import check_mergeable, merge_records, merge_run, variant_provenance
from colorbench.evaluation.model_calls import OutOfRange
from colorbench.evaluation.records import SORT_KEYS, FeatureStore, records_frame, write_json, write_records
from colorbench.evaluation.variants import Variant
from colorbench.versions import git_hash, versions

if TYPE_CHECKING:
    from colorbench.evaluation.runner import RunConfig


def write_run_dir(out: Path, cache_dirs: dict[str, Path], variants: list[Variant], described: dict, dataset: Any,
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
    run = run_document(dataset, cfg, fid_status, ids, described) | extra
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


def run_document(dataset: Any, cfg: RunConfig, fid_status: dict, ids: list[str], described: dict) -> dict[str, Any]:
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
