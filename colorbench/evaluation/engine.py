"""The evaluation engine: runs each model once over a dataset and writes per-image records.

One nested pass per image: regions once, the full ordered hint list once, then every n = 0..Nc (and the
ablation / perturbed / equalized modes the protocols ask for) in batched forwards. The runner caches each
batch's results in content-keyed chunk files (colorbench.evaluation.chunks), so a run can be resumed and sharded over
processes (`ids[rank::world]`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from colorbench.api import HintKind, Hints
from colorbench.checkpoints import CheckpointError
from colorbench.color.grayscale import GRAYSCALE
from colorbench.data.base import ColorDataset
from colorbench.data.grayscale import input_of
from colorbench.defaults import EVAL
from colorbench.errors import ModelError, UsageError
from colorbench.evaluation.batches import Batch
from colorbench.evaluation.forward import fixed_rows
from colorbench.evaluation.hint_policies import MODE as POLICIES
from colorbench.evaluation.hint_policies import policy_rows
from colorbench.evaluation.records import feature_key, records_frame
from colorbench.evaluation.variants import Variant
from colorbench.hints import (
    BoundedGeometric,
    HintSequence,
    image_seed,
    perturb_colors,
    prefix_mask,
    region_hints,
    simulate,
)
from colorbench.metrics.levels import RowMetrics
from colorbench.metrics.psnr import to_uint8
from colorbench.metrics.registry import per_image_metrics
from colorbench.model import ColorizerModel

SEED_TAGS = {HintKind.POINT: "rtug", HintKind.STROKE: "alacgan", HintKind.REGION: "region", HintKind.NONE: "none"}
EQUALIZABLE = (HintKind.POINT, HintKind.STROKE)  # kinds whose hints can be placed in GuidingPainter's regions


@dataclass
class EvalPlan:
    """What to compute. Everything here goes into the cache key and run.json."""

    nc: int = EVAL.nc
    p: float = EVAL.p
    sweep: list[int] = field(default_factory=lambda: list(EVAL.sweep))
    modes: list[str] = field(default_factory=lambda: ["native"])
    batch_size: int = EVAL.batch_size  # images per batch: memory only, never changes results
    forward_rows: int = EVAL.forward_rows  # rows per model call; every call has exactly this many (colorbench.evaluation.forward)
    n_samples: int = EVAL.n_samples  # test images drawn at random whose pictures are kept (colorbench.evaluation.sample_draw)
    figure_images: list[str] = field(default_factory=list)  # images whose pictures are kept besides the draw
    fid: bool = False
    gumbel_noise: bool = False
    perturb_amount: float = 64.0
    amp: bool = False  # CUDA only: forwards under autocast (fp16 rounding moves records slightly)
    # Per-image metrics beside PSNR, as metric_registry.describe_metrics: run.json keeps them (config.plan), so
    # Table 1 reads their columns and directions without importing them (the report path never imports torch).
    metrics: list[dict[str, Any]] = field(default_factory=list)
    # The "policies" mode (colorbench.evaluation.hint_policies): random orders averaged per image, and the region oracle
    # ("mass": largest error mass, one forward per step; "exact": best PSNR over every candidate region).
    policy_perms: int = 4
    policy_oracle: str = "mass"

    def fingerprint(self) -> str:
        keep = {k: v for k, v in asdict(self).items() if k not in ("batch_size",)}  # batch size never changes results
        if not keep["metrics"]:
            del keep["metrics"]  # a run without extra metrics keeps the cache key it had before they existed
        if not keep["amp"]:
            del keep["amp"]  # likewise a float32 run
        if POLICIES not in keep["modes"]:
            del keep["policy_perms"], keep["policy_oracle"]  # likewise a run without the policies mode
        if not keep["figure_images"]:
            del keep["figure_images"]  # and a run without --figure-images
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()


def nh_assignment(dataset: ColorDataset, ids: Sequence[str], plan: EvalPlan) -> dict[str, int]:
    """E7.3: one stratified Nh per test image, the same for every model (mixture FID set)."""
    dist = BoundedGeometric(plan.nc, plan.p)
    keys = [f"colorbench|nh|{dataset.name}|{i}" for i in ids]
    return dict(zip(ids, (int(v) for v in dist.stratified(keys))))


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal values and equal signs of zero (torch.equal alone takes -0.0 for 0.0)."""
    return torch.equal(a, b) and torch.equal(torch.signbit(a), torch.signbit(b))


def _spare_core(device: torch.device) -> bool:
    """True when torch's CPU forwards use fewer threads than this process may run on (a core is idle)."""
    if device.type != "cpu":
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return torch.get_num_threads() < cores


def _run_now(fn: Callable[..., Any], *args: Any) -> Future:
    """fn(*args) run at once, as a completed Future (the inline stand-in for a worker's submit)."""
    future: Future = Future()
    try:
        future.set_result(fn(*args))
    except BaseException as exc:  # noqa: BLE001 — re-raised by future.result(), as a worker's would be
        future.set_exception(exc)
    return future


def _rows(per_image: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Rows start..stop-1 of `per_image` [B,...] tiled level-major (row r = image r mod B), without tiling:
    a view when the rows are consecutive images, else one small gather."""
    b = per_image.shape[0]
    first = start % b
    if first + (stop - start) <= b:
        return per_image[first : first + stop - start]
    return per_image[torch.arange(start, stop, device=per_image.device) % b]


_BLOCK = 1 << 17  # values per metric call: keeps the float64 temporaries in cache — one 32-image call at 128 px
                  # took 14× longer than the same work in blocks of 2 images (benchmarks/README.md)


def _per_image(fn: Callable[..., torch.Tensor], *tensors: torch.Tensor) -> torch.Tensor:
    """fn(*tensors) → [B] for a per-image fn, computed over blocks of images (results are identical)."""
    n = tensors[0].shape[0]
    k = max(1, _BLOCK // max(1, tensors[0][0].numel()))
    if k >= n:
        return fn(*tensors)
    return torch.cat([fn(*(t[s : s + k] for t in tensors)) for s in range(0, n, k)])


def _block(base: dict[str, str], ids: Sequence[str], mode: str, n: np.ndarray, psnr: np.ndarray,
           area: np.ndarray, err: np.ndarray, empty: np.ndarray,
           extra: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Records of L levels × B images (level-major) as columns: built as arrays, not one dict per record
    (a 256-image run has ~30k records per mode). `extra`: metric column → values (metric_registry)."""
    count = len(n)
    return base | {"image_id": np.tile(np.asarray(ids, dtype=object), count // max(1, len(ids))), "mode": mode,
                   "n": n, "psnr": psnr, "hint_area": area, "hint_err": err, "empty": empty} | (extra or {})


@dataclass
class OutOfRange:
    """Output values outside [-1,1]: how many, of how many computed, and the extremes. They are scored as the
    8-bit image they give (clamped to 0..255), which hides by how much a model overshoots: run.json and the
    run's warnings report them."""

    values: int = 0
    total: int = 0
    lo: float = -1.0
    hi: float = 1.0

    def add(self, count: int, lo: float, hi: float) -> None:
        self.values += count
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)

    def to_array(self) -> np.ndarray:
        return np.asarray([self.values, self.total, self.lo, self.hi], dtype=np.float64)


def _images(ids: Sequence[str]) -> str:
    """'image a' / 'images a … z (N)': where a model call failed."""
    return f"image {ids[0]}" if len(ids) == 1 else f"images {ids[0]} … {ids[-1]} ({len(ids)})"


def _origin(model: str) -> str:
    from colorbench.registry import MODELS

    try:
        return MODELS.origin(model)
    except Exception:  # noqa: BLE001 — only a label for a message
        return "?"


class Evaluator:
    """Runs one variant over a list of images according to a plan; yields record rows, features, samples."""

    def __init__(self, variant: Variant, model: ColorizerModel, dataset: ColorDataset, plan: EvalPlan,
                 device: torch.device, region_source: ColorizerModel | None = None,
                 features: Callable[[torch.Tensor], np.ndarray] | None = None,
                 nh: dict[str, int] | None = None, sample_ids: set[str] | None = None) -> None:
        self.variant, self.model, self.dataset, self.plan, self.device = variant, model, dataset, plan, device
        self.kind = type(model).hint_kind
        self.region_source = region_source  # GuidingPainter, for equalized hints
        self.features = features
        self.nh = nh or {}
        self._sample_ids = sample_ids or set()  # images whose outputs are kept for figures

        self.conditional = self.kind is not HintKind.NONE
        # Grayscale runs average hint colours in Lab (supplement B: the models read the hints' mean ab).
        self.hint_space = "lab" if input_of(dataset) == GRAYSCALE else "rgb"
        self.levels = list(range(plan.nc + 1)) if self.conditional else [0]
        # E.2 runs also record the hint's ΔE2000 (every level row: the protocol pairs perturbed with natural).
        self._metric = RowMetrics(per_image_metrics([m["name"] for m in plan.metrics if not m.get("unavailable")]),
                                  hint_de="perturbed" in plan.modes)
        self.extra_columns = list(self._metric.columns[3:])
        self._builtin = type(model).__module__.startswith("colorbench.")
        self._origin = _origin(variant.model)
        self._where = "its first batch"  # the images of the batch being computed (run_batch)
        self.out_of_range = OutOfRange()  # output values outside [-1,1], over every batch this Evaluator ran

    # -- the model's calls, checked ------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args), a call into the model's code. A plugin's exception becomes one ModelError naming the model,
        the call and the images (its traceback under --debug); colorbench's own models' errors stay bugs."""
        try:
            return fn(*args)
        except (UsageError, MemoryError):
            raise
        except Exception as exc:
            if self._builtin:
                raise
            raise ModelError(f"model {self.variant.label!r} ({self._origin}) raised {type(exc).__name__} in {what} "
                             f"on {self._where}: {exc}") from exc

    def _colorize(self, x: torch.Tensor, c: torch.Tensor, m: torch.Tensor, r: torch.Tensor | None) -> torch.Tensor:
        """colorize(x, (c, m, r)) → float32 [N,3,H,W], refusing (ModelError) anything else it returns."""
        y = self._call("colorize", self.model.colorize, x, Hints(c, m, r))
        self._check_tensor("colorize", y, (x.shape[0], 3, *x.shape[-2:]), "[B,3,H,W] in [-1,1]")
        return y.float()

    def _propose_regions(self, x: torch.Tensor) -> torch.Tensor:
        """propose_regions(x) → [N,K,H,W] in {0,1}, refusing (ModelError) anything else, NaN among it: argmax-free
        code downstream would otherwise read NaN regions as empty or as one region."""
        r = self._call("propose_regions", self.model.propose_regions, x)
        self._check_tensor("propose_regions", r, None, "one-hot regions [B,Nc,H,W] in {0,1}", floating=False)
        if r.dim() != 4 or r.shape[0] != x.shape[0] or tuple(r.shape[-2:]) != tuple(x.shape[-2:]):
            raise ModelError(f"model {self.variant.label!r} ({self._origin}) returned regions of shape "
                             f"{tuple(r.shape)} from propose_regions on {self._where}, expected "
                             f"[{x.shape[0]},Nc,{x.shape[-2]},{x.shape[-1]}] in {{0,1}}")
        if not bool(((r == 0) | (r == 1)).all()):
            bad = "NaN" if bool(torch.isnan(r).any()) else "values other than 0 and 1"
            raise ModelError(f"model {self.variant.label!r} ({self._origin}) returned regions holding {bad} from "
                             f"propose_regions on {self._where} (a diverged region network?): they cannot be used")
        return r

    def _check_tensor(self, what: str, y: Any, shape: tuple[int, ...] | None, expected: str,
                      floating: bool = True) -> None:
        if not isinstance(y, torch.Tensor):
            kind = f"{type(y).__module__}.{type(y).__qualname__}".removeprefix("builtins.")
            raise ModelError(f"model {self.variant.label!r} ({self._origin}) returned a {kind} from {what} on "
                             f"{self._where}, expected a torch.Tensor {expected}")
        if shape is not None and tuple(y.shape) != shape:
            raise ModelError(f"model {self.variant.label!r} ({self._origin}) returned shape {tuple(y.shape)} from "
                             f"{what} on {self._where}, expected {shape} ({expected})")
        if floating and not y.is_floating_point():
            raise ModelError(f"model {self.variant.label!r} ({self._origin}) returned {y.dtype} from {what} on "
                             f"{self._where}, expected a floating-point tensor {expected}")

    def _autocast(self) -> contextlib.AbstractContextManager:
        """Mixed-precision forwards for `--amp` on CUDA; a no-op otherwise (CPU records stay float32). Not an
        autocast(enabled=False): that refuses device types without autocast support."""
        if self.plan.amp and self.device.type == "cuda":
            return torch.autocast(device_type="cuda")
        return contextlib.nullcontext()

    # -- forwards ----------------------------------------------------------------------------
    def _forward(self, sketch: torch.Tensor, hints: Hints,
                 regions: torch.Tensor | Callable[[int, int], torch.Tensor] | None = None,
                 gt: torch.Tensor | None = None,
                 metric: RowMetrics | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """colorize the N = len(hints.color) rows in calls of exactly plan.forward_rows rows;
        → (uint8 outputs [N,3,H,W], per-row metrics [N,K] float64 or None without `gt`): `metric` (a
        level_metrics.RowMetrics; the plan's by default) against `gt` (uint8 [B,3,H,W]), its ground-truth
        share prepared once for the B images.

        `sketch` (and `regions`, used when hints.regions is None) may hold just the B images the rows cycle
        over (row r is image r mod B, the level-major layout): they are sliced per chunk, never tiled in
        memory — tiled regions alone would be L·B·Nc·H·W floats (0.5 GB at 64 px, 2 GB at 128 px).
        `regions` may also be a function (start, stop) → the regions of those rows.

        Never computed twice: a full chunk whose hints repeat, bit for bit, those one chunk earlier (same
        images at the same positions, since the chunk size is a multiple of B) has identical input tensors,
        so its outputs and metrics are copied. Region models hit this at every level past their last
        non-empty region (zoo v2's GuidingPainter fills about 5 of its 30 regions per toon image, so most of
        the 31 levels are copies).

        When the model leaves a CPU core idle (`_spare_core`), everything but the model call runs in one
        worker thread, a chunk behind the model: the repeat check, the NaN check, the uint8 conversion and
        the metrics of chunk k overlap the forward of chunk k + 1 (torch releases the GIL in its kernels).
        Otherwise it runs inline: a second thread's torch ops would compete with the model's own threads
        (12.8 → 14.4 s for `colorbench run --models all --limit 64` on 2 cores at 2 threads). Values never
        depend on it: rows are independent.
        """
        bs = self.plan.forward_rows
        n = hints.color.shape[0]
        metric = metric or self._metric
        refs = metric.prepare(gt) if gt is not None else ()
        starts = range(0, n, bs)
        reusable = hints.regions is None and not callable(regions) and bs % sketch.shape[0] == 0

        def repeats() -> list[bool]:
            return [reusable and s >= bs and s + bs <= n
                    and same_bits(hints.color[s : s + bs], hints.color[s - bs : s])
                    and same_bits(hints.mask[s : s + bs], hints.mask[s - bs : s]) for s in starts]

        @torch.inference_mode()  # thread-local: the worker thread needs its own
        def finish(y: torch.Tensor, s: int, e: int) -> None:
            nonlocal metrics  # allocated at the first chunk, when the metric's width is known; the main
            # thread reads it only after waiting for this call
            lo, hi = torch.aminmax(y)  # one pass, no temporary (10× isfinite().all()); NaN propagates into both
            if not (math.isfinite(lo) and math.isfinite(hi)):
                if self.variant.checkpoint is None:
                    raise ModelError(f"model {self.variant.label!r} ({self._origin}) returned NaN/inf outputs "
                                     f"from colorize on {self._where}: fix its code")
                raise CheckpointError(
                    f"{self.variant.label} produced NaN/inf outputs with checkpoint {self.variant.checkpoint}: the "
                    "checkpoint is broken (diverged training?); retrain it or pass another --checkpoint")
            if lo < -1.0 or hi > 1.0:  # scored clamped to 0..255, as a saved image would be: counted, not hidden
                self.out_of_range.add(int(((y < -1.0) | (y > 1.0)).sum()), float(lo), float(hi))
            self.out_of_range.total += y.numel()
            # Converted in cache-sized blocks (5× faster at 128 px); element-wise, so the same bytes.
            k = max(1, _BLOCK // max(1, y[0].numel()))
            for i in range(0, e - s, k):
                out[s + i : s + min(i + k, e - s)] = to_uint8(y[i : i + k])
            if gt is not None:
                values = _per_image(metric, out[s:e], hints.color[s:e], hints.mask[s:e],
                                    *(_rows(r, s, e) for r in refs))
                if metrics is None:
                    metrics = torch.empty((n, values.shape[1]), dtype=torch.float64, device=values.device)
                metrics[s:e] = values

        @torch.inference_mode()
        def copy(prev: Future, s: int, e: int) -> None:
            """Rows s:e repeat the chunk before them: its outputs and metrics, once `prev` has written them."""
            prev.result()  # re-raises the earlier chunk's error (a NaN output) instead of copying past it
            out[s:e] = out[s - bs : e - bs]
            if metrics is not None:
                metrics[s:e] = metrics[s - bs : e - bs]

        out = metrics = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="colorbench-outputs") as pool:
            submit = pool.submit if _spare_core(sketch.device) else _run_now
            repeat = submit(repeats)
            behind: Future | None = None  # the previous chunk's `finish`
            for ci, s in enumerate(starts):
                e = min(n, s + bs)
                if ci > 0 and repeat.result()[ci]:
                    # Queued behind the previous chunk's `finish` (one worker, FIFO) rather than waited for
                    # here: waiting would idle the model once per repeat (0.1 s a chunk at 128 px).
                    behind = submit(copy, behind, s, e)
                    continue
                if hints.regions is not None:
                    reg = hints.regions[s:e]
                elif callable(regions):
                    reg = regions(s, e)
                else:
                    reg = None if regions is None else _rows(regions, s, e)
                with self._autocast():
                    y = fixed_rows(self._colorize, bs, _rows(sketch, s, e), hints.color[s:e], hints.mask[s:e], reg)
                if out is None:
                    out = torch.empty((n, *y.shape[1:]), dtype=torch.uint8, device=y.device)
                if behind is not None:
                    behind.result()  # one chunk in flight: an error surfaces at once, memory stays bounded
                behind = submit(finish, y, s, e)
            if behind is not None:
                behind.result()
        assert out is not None  # n ≥ 1 row
        return out, metrics

    def _levels(self, seq: HintSequence, levels: Sequence[int],
                batch: Batch) -> tuple[torch.Tensor, Hints, torch.Tensor]:
        """All (level, image) pairs in one stacked batch, level-major: → (outputs [L,B,3,H,W] uint8, the
        stacked hints (rows [L*B]), metrics [L*B,3+K] float64 as RowMetrics.columns)."""
        b = batch.sketch.shape[0]
        hints = seq.stacked(levels, with_regions=False)
        out, metrics = self._forward(batch.sketch, hints, seq.regions, gt=batch.gt_u8)
        assert metrics is not None
        return out.view(len(levels), b, *out.shape[1:]), hints, metrics

    # -- one batch ---------------------------------------------------------------------------
    @torch.inference_mode()
    def run_batch(self, batch: Batch) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """→ (records of this batch (records_frame), {feature_key: feature}, {image_id: sample arrays})."""
        rows: list[dict[str, Any]] = []  # column blocks (_block), one per mode and level set
        feats: dict[str, np.ndarray] = {}
        samples: dict[str, Any] = {}
        base = {"variant": self.variant.label, "model": self.variant.model, "dataset": self.dataset.name}
        regions = None
        self._where = _images(batch.ids)
        if self.kind is HintKind.REGION:
            with self._autocast():
                regions = fixed_rows(self._propose_regions, self.plan.forward_rows, batch.sketch)
        seeds = [image_seed(self.dataset.name, i, SEED_TAGS[self.kind]) for i in batch.ids]
        seq = simulate(self.kind, batch.color, seeds, regions=regions, k=self.plan.nc, space=self.hint_space)
        outs, _, values = self._levels(seq, self.levels, batch)
        self._emit(rows, base, batch, "native", self.levels, values)
        self._features(feats, batch, "native", outs)
        keep = [j for j, i in enumerate(batch.ids) if i in self._sample_ids]
        for j in keep:
            samples[batch.ids[j]] = self._sample(batch, j, outs, seq, regions)

        eq_seq = None  # point/stroke hints inside GuidingPainter's regions (equalized, perturbed, policies modes)
        # The policies mode reads a point/stroke model's equalized rows as its "guided" policy.
        equalized = bool({"equalized", POLICIES} & set(self.plan.modes))
        if (equalized or "perturbed" in self.plan.modes) and self.kind in EQUALIZABLE and self.region_source:
            with self._autocast():
                eq_regions = fixed_rows(self.region_source.propose_regions, self.plan.forward_rows, batch.sketch)
            eq_seq = simulate(self.kind, batch.color, seeds, regions=eq_regions, k=self.plan.nc, equalized=True,
                              space=self.hint_space)
        if equalized and eq_seq is not None:
            eq_out, _, eq_values = self._levels(eq_seq, self.levels, batch)
            self._emit(rows, base, batch, "equalized", self.levels, eq_values)
            for j in keep:
                samples[batch.ids[j]]["equalized_outputs"] = eq_out[: EVAL.sample_levels + 1, j].cpu().numpy()

        # Supplement E.2 gives every model its hints inside GuidingPainter's guided regions, so the hint
        # error compares how faithfully each model follows a colour, not where its simulator put the hint.
        placed = seq if self.kind is HintKind.REGION else eq_seq
        if "perturbed" in self.plan.modes and placed is not None:
            p_seeds = [image_seed(self.dataset.name, i, "perturb") for i in batch.ids]
            p_seq = perturb_colors(placed, p_seeds, self.plan.perturb_amount)
            p_levels = sorted(set(self.plan.sweep) & set(self.levels))
            _, _, p_values = self._levels(p_seq, p_levels, batch)
            self._emit(rows, base, batch, "perturbed", p_levels, p_values)
            if placed is eq_seq and not equalized:
                # The natural-colour reference at the same placement (protocols.perturbed_hints pairs
                # point/stroke models with their equalized rows): only the levels the ratio needs.
                _, _, ref_values = self._levels(eq_seq, p_levels, batch)
                self._emit(rows, base, batch, "equalized", p_levels, ref_values)

        if "ablation" in self.plan.modes and regions is not None:
            self._ablation(rows, base, batch, regions, values[:len(batch.ids), 0])  # level 0 comes first
        if POLICIES in self.plan.modes and self.conditional:
            policy_rows(self, batch, rows, base, seq, values, outs)
        return records_frame(pd.concat([pd.DataFrame(block) for block in rows], ignore_index=True)), feats, samples

    def _emit(self, rows: list, base: dict, batch: Batch, mode: str, levels: Sequence[int],
              metrics: torch.Tensor) -> None:
        """Append one column block (a dict of arrays, records_frame-ready) holding every (level, image) pair;
        `metrics` [L*B,3+K] level-major, as `_levels` returns them (K extra metric columns)."""
        b = len(batch.ids)
        values = metrics.cpu().numpy()
        extra = {c: values[:, 3 + k] for k, c in enumerate(self.extra_columns)}
        rows.append(_block(base, batch.ids, mode, np.repeat(np.asarray(levels, dtype=np.int64), b), values[:, 0],
                           values[:, 1], values[:, 2], np.zeros(len(values), dtype=bool), extra))

    def _ablation(self, rows: list, base: dict, batch: Batch, regions: torch.Tensor, native0: torch.Tensor) -> None:
        """Fig. 5 (E8.1): region i moved to the front (others keep their order), hint only it.

        An empty S_i hints nothing: its row is the native n = 0 PSNR (`native0` [B], the n = 0 rows of the
        native mode), not a forward of g on the reordered regions. That forward would be the no-hint input with
        S's channels shuffled, which g never sees in use (−0.18 dB on the toon zoo model): the row would measure
        g's sensitivity to channel order, and Fig. 5's trend (its tail is mostly empty regions) would take it
        for the value of hinting a rear region. Only the non-empty regions are run, as the paper describes."""
        nc = regions.shape[1]
        b = len(batch.ids)
        empty = (regions.sum(dim=(2, 3)) == 0).T.reshape(-1)  # [Nc*B] level-major: row r = (region r // B, image r % B)
        live = (~empty).nonzero().squeeze(1)  # every image has a non-empty region: f's argmax covers each pixel
        region_of, image_of = live // b, live % b

        one = torch.ones(b, dtype=torch.int64, device=regions.device)
        orders = torch.tensor([[i] + [c for c in range(nc) if c != i] for i in range(nc)], device=regions.device)
        colors, masks = [], []
        for i in range(nc):
            h = region_hints(batch.color, regions[:, orders[i]], prefix_mask(one, nc))
            colors.append(h.color)
            masks.append(h.mask)

        def permuted(start: int, stop: int) -> torch.Tensor:
            # Live row r sees its image's regions with its S_i moved to the front; gathered per chunk because
            # all Nc·B permuted copies would be Nc·B·Nc·H·W floats (0.5 GB at 64 px).
            return regions[image_of[start:stop, None], orders[region_of[start:stop]]]

        hints = Hints(torch.cat(colors)[live], torch.cat(masks)[live])
        _, values = self._forward(batch.sketch[image_of], hints, permuted, gt=batch.gt_u8[image_of],
                                  metric=RowMetrics(psnr_only=True))
        assert values is not None
        psnr_t = native0.to(torch.float64).cpu().repeat(nc)  # empty rows: the native n = 0 PSNR of their image
        psnr_t[live.cpu()] = values[:, 0].cpu()
        area = regions.double().mean(dim=(2, 3)).T.reshape(-1).cpu().numpy()  # sums of 0/1: exact, as per image
        # Fig. 5 reads PSNR only: the extra metrics are not computed for the Nc·B ablation rows (NaN).
        extra = {c: np.full(nc * b, np.nan) for c in self.extra_columns}
        rows.append(_block(base, batch.ids, "ablation", np.repeat(np.arange(1, nc + 1, dtype=np.int64), b),
                           psnr_t.numpy(), area, np.full(nc * b, np.nan), empty.cpu().numpy(), extra))

    def _features(self, feats: dict, batch: Batch, mode: str, outs: torch.Tensor) -> None:
        """Inception features only for the outputs an FID needs: n = 0, the image's stratified Nh, the sweep."""
        if self.features is None:
            return
        want: list[tuple[int, int]] = []  # (level index, image index)
        for j, image_id in enumerate(batch.ids):
            ns = {0} | ({self.nh.get(image_id, 0)} | set(self.plan.sweep) if self.conditional else set())
            want += [(self.levels.index(n), j) for n in sorted(ns) if n in self.levels]
        if not want:
            return
        imgs = torch.stack([outs[li, j] for li, j in want])
        vecs = self.features(imgs)
        for (li, j), v in zip(want, vecs):
            feats[feature_key(batch.ids[j], mode, self.levels[li])] = v

    def _sample(self, batch: Batch, j: int, outs: torch.Tensor, seq: HintSequence,
                regions: torch.Tensor | None) -> dict:
        """Image j's pictures for figures and report.html, all uint8: sketch [H,W], gt [3,H,W], outputs
        [K+1,3,H,W] at n = 0..K (K = EVAL.sample_levels, what they show: levels past it would double the
        bytes kept for 32 images, and nothing shows them), the hints as hint_top [K+1,H,W] (the index of
        the last revealed hint covering each pixel, 0 none) and hint_palette [K+1,3] (hint i's colour at
        row i; row 0 the "no hint" colour), and for region models regions [H,W] (each pixel's region).
        records.load_samples expands the hints to hint_color [K+1,3,H,W] and hint_mask [K+1,H,W]: stored
        so they take a quarter of the bytes."""
        k = min(len(self.levels), EVAL.sample_levels + 1)
        masks = seq.masks[j, : k - 1]
        top = torch.zeros((k, *masks.shape[-2:]), dtype=torch.uint8, device=masks.device)
        for n in range(1, k):  # later hints overwrite earlier ones where they overlap (HintSequence.at)
            top[n] = torch.where(masks[n - 1], n, top[n - 1])
        palette = torch.cat([torch.zeros(1, 3, dtype=seq.colors.dtype, device=seq.colors.device),
                             seq.colors[j, : k - 1]])
        s = {
            "sketch": ((batch.sketch[j, 0] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy(),
            "gt": batch.gt_u8[j].cpu().numpy(),
            "outputs": outs[:k, j].cpu().numpy(),
            "hint_top": top.cpu().numpy(),
            "hint_palette": to_uint8(palette).cpu().numpy(),
        }
        if regions is not None:
            s["regions"] = regions[j].argmax(dim=0).to(torch.uint8).cpu().numpy()
        return s
