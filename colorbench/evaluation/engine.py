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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from colorbench.api import HintKind, Hints
from colorbench.color.grayscale import GRAYSCALE
from colorbench.data.base import ColorDataset
from colorbench.data.grayscale import input_of
from colorbench.defaults import EVAL
from colorbench.evaluation.batches import Batch
from colorbench.evaluation.forward import fixed_rows
from colorbench.evaluation.hint_policies import MODE as POLICIES
from colorbench.evaluation.hint_policies import policy_rows
from colorbench.evaluation.level_forward import Regions, RowResults, forward_rows
from colorbench.evaluation.model_calls import CheckedModel, OutOfRange, images_label
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
        keep = {k: v for k, v in asdict(self).items() if k != "batch_size"}  # batch size never changes results
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()


def nh_assignment(dataset: ColorDataset, ids: Sequence[str], plan: EvalPlan) -> dict[str, int]:
    """E7.3: one stratified Nh per test image, the same for every model (mixture FID set)."""
    dist = BoundedGeometric(plan.nc, plan.p)
    keys = [f"colorbench|nh|{dataset.name}|{i}" for i in ids]
    return dict(zip(ids, (int(v) for v in dist.stratified(keys))))


def _block(base: dict[str, str], ids: Sequence[str], mode: str, n: np.ndarray, psnr: np.ndarray,
           area: np.ndarray, err: np.ndarray, empty: np.ndarray,
           extra: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Records of L levels × B images (level-major) as columns: built as arrays, not one dict per record
    (a 256-image run has ~30k records per mode). `extra`: metric column → values (metric_registry)."""
    count = len(n)
    return base | {"image_id": np.tile(np.asarray(ids, dtype=object), count // max(1, len(ids))), "mode": mode,
                   "n": n, "psnr": psnr, "hint_area": area, "hint_err": err, "empty": empty} | (extra or {})


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
        self.calls = CheckedModel(variant, model)  # every call into the model's code goes through it

    def take_out_of_range(self) -> OutOfRange:
        """The output values outside [-1,1] since the last call (the runner keeps them per chunk)."""
        counted, self.calls.out_of_range = self.calls.out_of_range, OutOfRange()
        return counted

    def _autocast(self) -> contextlib.AbstractContextManager:
        """Mixed-precision forwards for `--amp` on CUDA; a no-op otherwise (CPU records stay float32). Not an
        autocast(enabled=False): that refuses device types without autocast support."""
        if self.plan.amp and self.device.type == "cuda":
            return torch.autocast(device_type="cuda")
        return contextlib.nullcontext()

    # -- forwards ----------------------------------------------------------------------------
    def _forward(self, sketch: torch.Tensor, hints: Hints, regions: Regions = None, gt: torch.Tensor | None = None,
                 metric: RowMetrics | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """colorize the N = len(hints.color) rows in calls of exactly plan.forward_rows rows
        (level_forward.forward_rows); → (uint8 outputs [N,3,H,W], per-row metrics [N,K] float64 or None without
        `gt`): `metric` (a RowMetrics; the plan's by default) against `gt` (uint8 [B,3,H,W]), its ground-truth
        share prepared once for the B images.

        `sketch` (and `regions`, used when hints.regions is None) may hold just the B images the rows cycle
        over (row r is image r mod B, the level-major layout): they are sliced per chunk, never tiled in
        memory — tiled regions alone would be L·B·Nc·H·W floats (0.5 GB at 64 px, 2 GB at 128 px).
        `regions` may also be a function (start, stop) → the regions of those rows.
        """
        metric = metric or self._metric
        results = RowResults(hints, self.plan.forward_rows, None if gt is None else metric,
                             () if gt is None else metric.prepare(gt), self.calls.check_output)
        forward_rows(self.calls.colorize, sketch, regions, results, self._autocast)
        assert results.out is not None  # n ≥ 1 row
        return results.out, results.metrics

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
        self.calls.where = images_label(batch.ids)
        if self.kind is HintKind.REGION:
            with self._autocast():
                regions = fixed_rows(self.calls.propose_regions, self.plan.forward_rows, batch.sketch)
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
