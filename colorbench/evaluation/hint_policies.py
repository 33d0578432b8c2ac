"""The "policies" record modes: the same kind of hints given in other orders and places, so the hint_policy
protocol can tell how much a model's guidance is worth (what order / placement buys over random, and how far
it is from an oracle user).

Region models (hint kind REGION: GuidingPainter, plugins with `propose_regions`) keep their own regions S,
and g always sees S as the model proposed it; only *which* regions are hinted at step n changes:
  policies/area      largest region first (ties: the model's order)
  policies/learned   the network's own channel order, when the model's priority differs from it
                     (`ColorizerModel.learned_order`, e.g. GuidingPainter trained with region_order "area")
  policies/random/k  k = 0..K-1: a seeded permutation of the non-empty regions (empty ones last)
  policies/oracle    at each step the unhinted region holding the largest error mass Σ_{p∈S_i} ‖Ŷ(p)−Y(p)‖²
                     of the current output (one forward per step); with `policy_oracle="exact"` the region
                     whose hint gives the highest PSNR, found by trying every unhinted one (one forward per
                     candidate: small region sets only)
Point and stroke models: policies/oracle places the next hint of the model's own kind (a P×P patch, P drawn
as the simulated user draws it / the 4×4 stroke cell) at the centre of the largest error blob of the current
output, with the ground-truth mean colour under it. Their simulated user is the "native" mode and the guided
policy the "equalized" mode (hints inside GuidingPainter's regions in its order), which the engine also
writes when "policies" is asked for.

Every row's output depends only on its own image (the engine's fixed-row forwards), and every random draw on
image_seed(dataset, image id, tag): records do not depend on batch size, workers or shards. Levels whose hint
set equals the previous level's (an empty region was "hinted", or the error is already 0) copy that level's
values, and a region model's levels whose hint set equals the native level n's take the native values, instead
of calling the model (the same inputs give the same bits).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from scipy import ndimage

from colorbench.api import HintKind, Hints
from colorbench.color.lab import signed_to_lab
from colorbench.errors import UsageError
from colorbench.evaluation.forward import pad_rows
from colorbench.evaluation.records import POLICIES, policy_mode
from colorbench.hint_counts import image_seed
from colorbench.hints import HintSequence, lab_means_to_signed

if TYPE_CHECKING:
    from colorbench.evaluation.batches import Batch
    from colorbench.evaluation.engine import Evaluator

MODE = POLICIES  # the --modes entry; its record modes are records.policy_mode(policy)
ORACLES = ("mass", "exact")
BLOB_ERROR = 3 * 16**2  # a blob pixel's squared error summed over RGB (8-bit): an RMS channel error above 16
PATCH_SIZES = tuple(range(1, 10))  # the simulated RTUG user's patch sizes (hints.point_sequence)
STROKE_CELL = 4  # the simulated AlacGAN user's cell (hints.stroke_sequence)


# ---------------------------------------------------------------------------------------------
# Orders and picks (pure functions: what the tests check)
# ---------------------------------------------------------------------------------------------
def area_order(nonempty_area: torch.Tensor) -> torch.Tensor:
    """Region areas [B,K] → hint order [B,K] int64 (indices into the model's regions), largest first,
    ties in the model's order."""
    return torch.sort(nonempty_area, dim=1, descending=True, stable=True).indices


def random_order(nonempty: torch.Tensor, seeds: Sequence[int]) -> torch.Tensor:
    """[B,K] bool (region i of image b is non-empty) → [B,K] int64: image b's non-empty regions in the order
    of a permutation drawn from seeds[b], then its empty regions in the model's order."""
    out = []
    for row, seed in zip(nonempty.cpu().numpy(), seeds):
        rng = np.random.Generator(np.random.PCG64(seed))
        full = np.flatnonzero(row)
        out.append(np.concatenate([full[rng.permutation(len(full))], np.flatnonzero(~row)]))
    return torch.as_tensor(np.stack(out), dtype=torch.int64, device=nonempty.device)


def oracle_pick(mass: torch.Tensor, hinted: torch.Tensor, nonempty: torch.Tensor) -> torch.Tensor:
    """The oracle's next region [B] int64: among regions not yet hinted, the non-empty one with the largest
    error mass (ties: the model's order); when every non-empty region is hinted, the first unhinted (empty)
    one. mass [B,K] float, hinted / nonempty [B,K] bool; needs one unhinted region per image."""
    if bool(hinted.all(dim=1).any()):
        raise ValueError("oracle_pick: an image has no unhinted region left")
    k = mass.shape[1]
    # Scores: unhinted non-empty regions by mass (≥ 0), then unhinted empty ones, hinted ones never.
    score = torch.where(nonempty & ~hinted, mass.double(), torch.full_like(mass, -1.0, dtype=torch.float64))
    score = torch.where(hinted, torch.full_like(score, -2.0), score)
    # argmax takes the first maximum: equal masses go to the earlier region.
    best = score.max(dim=1, keepdim=True).values
    first = torch.arange(k, device=mass.device).expand_as(score).masked_fill(score != best, k)
    return first.min(dim=1).values


def error_map(out_u8: torch.Tensor, gt_u8: torch.Tensor) -> torch.Tensor:
    """Per-pixel squared error summed over RGB [B,H,W] int64 of uint8 images [B,3,H,W] (PSNR's MSE, unsummed)."""
    d = out_u8.to(torch.int32) - gt_u8.to(torch.int32)
    return (d * d).sum(dim=1, dtype=torch.int64)


def region_mass(err: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Error mass of every region [B,K] float64: Σ over S_i of err. err [B,H,W], regions [B,K,H,W] in {0,1}."""
    return torch.einsum("bhw,bkhw->bk", err.double(), (regions > 0.5).double())


def blob_centre(err: np.ndarray, exclude: np.ndarray) -> tuple[int, int] | None:
    """Where the oracle user puts the next point/stroke hint: (y, x) deep inside the 8-connected blob of
    pixels with error above BLOB_ERROR holding the largest error mass (ties: the lowest label), at the
    pixel farthest from its border (first in raster order). Without such pixels, the blobs of any non-zero
    error; None when the output is exact outside `exclude` (already hinted pixels, never hinted again).
    err [H,W] int, exclude [H,W] bool."""
    err = np.where(exclude, 0, err)
    for floor in (BLOB_ERROR, 0):
        labels, n = ndimage.label(err > floor, structure=np.ones((3, 3), dtype=bool))
        if n:
            break
    else:
        return None
    mass = ndimage.sum(err.astype(np.float64), labels, np.arange(1, n + 1))
    blob = labels == int(np.argmax(mass)) + 1
    depth = ndimage.distance_transform_edt(np.pad(blob, 1))[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return int(y), int(x)


def hint_box(kind: HintKind, centre: tuple[int, int], size: int, h: int, w: int) -> tuple[int, int, int, int]:
    """(top, left, height, width) of a hint at `centre`: a size×size patch centred there (points, clipped
    inside the image as the simulated user's) or the STROKE_CELL cell holding it (strokes)."""
    y, x = centre
    if kind is HintKind.STROKE:
        cy, cx = min(y // STROKE_CELL, h // STROKE_CELL - 1), min(x // STROKE_CELL, w // STROKE_CELL - 1)
        return cy * STROKE_CELL, cx * STROKE_CELL, STROKE_CELL, STROKE_CELL
    p = min(size, h, w)
    return int(np.clip(y - p // 2, 0, h - p)), int(np.clip(x - p // 2, 0, w - p)), p, p


# ---------------------------------------------------------------------------------------------
# The records
# ---------------------------------------------------------------------------------------------
class PolicyRows:
    """Writes the policy modes of one batch through an Evaluator's forwards and record blocks."""

    def __init__(self, ev: Evaluator, batch: Batch, rows: list, base: dict[str, Any], native: torch.Tensor,
                 native_out: torch.Tensor) -> None:
        """native: the native metrics [(Nc+1)·B, C] level-major; native_out: its outputs [Nc+1,B,3,H,W] uint8
        (level 0 has no hints under any policy, so every policy starts from them)."""
        self.ev, self.batch, self.rows, self.base = ev, batch, rows, base
        self.b = len(batch.ids)
        self.nc = ev.plan.nc
        self.native, self.native_out = native, native_out
        self.level0 = native[: self.b]
        self.out0 = native_out[0]
        # Hint colours are means over the hinted pixels in the run's hint space (Lab for grayscale runs).
        self.lab = signed_to_lab(batch.color.float()) if ev.hint_space == "lab" else None

    def emit(self, policy: str, per_level: list[torch.Tensor]) -> None:
        """per_level: Nc+1 tensors [B, C] (level n's metrics) → one record block of mode policies/<policy>."""
        self.ev._emit(self.rows, self.base, self.batch, policy_mode(policy), list(range(self.nc + 1)),
                      torch.cat(per_level))

    def forward(self, idx: torch.Tensor, color: torch.Tensor, mask: torch.Tensor,
                regions: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs [R,3,H,W] uint8 and metrics [R,C] of rows (image idx[r], hints color[r], mask[r]);
        `regions` [B,K,H,W] (the batch's, gathered per chunk) or None."""
        gathered = None if regions is None else (lambda s, e: regions[idx[s:e]])
        out, metrics = self.ev._forward(self.batch.sketch[idx], Hints(color, mask), gathered,
                                        gt=self.batch.gt_u8[idx])
        assert metrics is not None
        return out, metrics

    # -- region models ---------------------------------------------------------------------
    def ordered(self, policy: str, seq: HintSequence, order: torch.Tensor) -> None:
        """Hint seq's regions in `order` [B,K] (indices into them): level n reveals order[:, :n]. Only the
        levels that add a non-empty region, giving a hint set the native level n does not have, call the
        model, all in one stacked forward."""
        b, k = seq.masks.shape[:2]
        nonempty = seq.masks.flatten(2).any(dim=2)
        ar = torch.arange(b, device=order.device)
        hinted = torch.zeros(b, k, dtype=torch.bool, device=order.device)
        color = torch.zeros_like(self.batch.color)
        mask = torch.zeros_like(self.batch.color[:, :1])
        changed: list[tuple[int, int]] = []  # (level, image) whose hint set grew
        colors, masks, computed_rows = [], [], []
        for n in range(1, min(k, self.nc) + 1):
            pick = order[:, n - 1]
            hinted[ar, pick] = True
            same = self._native_set(hinted & nonempty, nonempty, n)
            for j in nonempty[ar, pick].nonzero().flatten().tolist():
                changed.append((n, j))
                where = seq.masks[j, pick[j]]
                color[j] = torch.where(where, seq.colors[j, pick[j]][:, None, None], color[j])
                mask[j, 0] = torch.where(where, 1.0, mask[j, 0])
                if not same[j]:
                    colors.append(color[j].clone())
                    masks.append(mask[j].clone())
                    computed_rows.append((n, j))
        computed: dict[tuple[int, int], torch.Tensor] = {}
        if computed_rows:
            idx = torch.as_tensor([j for _, j in computed_rows], device=self.batch.sketch.device)
            _, values = self.forward(idx, torch.stack(colors), torch.stack(masks), seq.regions)
            computed = dict(zip(computed_rows, values))
        by_level: dict[int, list[int]] = {}
        for n, j in changed:
            by_level.setdefault(n, []).append(j)
        per_level, current = [self.level0], self.level0
        for n in range(1, self.nc + 1):
            current = current.clone()
            for j in by_level.get(n, []):
                current[j] = computed[(n, j)] if (n, j) in computed else self.native_row(n, j)
            per_level.append(current)
        self.emit(policy, per_level)

    def _native_set(self, hinted: torch.Tensor, nonempty: torch.Tensor, n: int) -> torch.Tensor:
        """[B] bool: image b's hinted non-empty regions are exactly those of the native level n (its first n
        regions), so its row is the native row, computed once already."""
        first = torch.arange(hinted.shape[1], device=hinted.device) < n
        return (hinted == (nonempty & first)).all(dim=1)

    def native_row(self, n: int, j: int) -> torch.Tensor:
        """The native metrics [C] of image j at level n."""
        return self.native[n * self.b + j]

    def region_oracle(self, seq: HintSequence, exact: bool = False) -> None:
        """policies/oracle of a region model: seq's regions in the oracle's order (the module docstring gives
        the two variants)."""
        b, k = seq.masks.shape[:2]
        dev = seq.masks.device
        nonempty = seq.masks.flatten(2).any(dim=2)
        hinted = torch.zeros(b, k, dtype=torch.bool, device=dev)
        color = torch.zeros_like(self.batch.color)
        mask = torch.zeros_like(self.batch.color[:, :1])
        out = self.out0.clone()
        current = self.level0.clone()
        per_level = [self.level0]
        for t in range(min(k, self.nc)):
            if exact:
                pick = self._exact_pick(seq, hinted, nonempty, color, mask)
            else:
                pick = oracle_pick(region_mass(self._err(out), seq.regions), hinted, nonempty)
            hinted[torch.arange(b, device=dev), pick] = True
            current = current.clone()
            same = self._native_set(hinted & nonempty, nonempty, t + 1)
            adds = []
            for j in (j for j in range(b) if bool(nonempty[j, pick[j]])):
                where = seq.masks[j, pick[j]]
                color[j] = torch.where(where, seq.colors[j, pick[j]][:, None, None], color[j])
                mask[j, 0] = torch.where(where, 1.0, mask[j, 0])
                if same[j]:  # the native level t+1's hint set: its output and values, computed already
                    out[j] = self.native_out[t + 1, j]
                    current[j] = self.native_row(t + 1, j)
                else:
                    adds.append(j)
            if adds:
                idx = torch.as_tensor(adds, device=dev)
                new_out, metrics = self.forward(idx, color[idx], mask[idx], seq.regions)
                out[idx] = new_out
                current[idx] = metrics
            per_level.append(current)
        per_level += [current] * (self.nc + 1 - len(per_level))  # Nc > K: nothing left to hint
        self.emit("oracle", per_level)

    def _exact_pick(self, seq: HintSequence, hinted: torch.Tensor, nonempty: torch.Tensor, color: torch.Tensor,
                    mask: torch.Tensor) -> torch.Tensor:
        """The exact oracle's next region [B]: every unhinted non-empty region tried (one forward each), the
        highest PSNR kept (ties: the model's order); images with none left take oracle_pick's empty region."""
        cand = (nonempty & ~hinted).nonzero().tolist()  # (image, region) pairs
        pick = oracle_pick(torch.zeros_like(hinted, dtype=torch.float64), hinted, nonempty)
        if not cand:
            return pick
        colors, masks = [], []
        for j, i in cand:
            where = seq.masks[j, i]
            colors.append(torch.where(where, seq.colors[j, i][:, None, None], color[j]))
            masks.append(torch.where(where[None], 1.0, mask[j]))
        idx = torch.as_tensor([j for j, _ in cand], device=hinted.device)
        _, metrics = self.forward(idx, torch.stack(colors), torch.stack(masks), seq.regions)
        best: dict[int, tuple[float, int]] = {}
        for (j, i), psnr in zip(cand, metrics[:, 0].tolist()):
            if j not in best or psnr > best[j][0]:  # candidates come in region order: ties keep the first
                best[j] = (psnr, i)
        for j, (_, i) in best.items():
            pick[j] = i
        return pick

    # -- point and stroke models -----------------------------------------------------------
    def blob_oracle(self, kind: HintKind) -> None:
        """policies/oracle of a point/stroke model (the module docstring)."""
        b = self.b
        _, _, h, w = self.batch.color.shape
        dev = self.batch.color.device
        rngs = [np.random.Generator(np.random.PCG64(image_seed(self.ev.dataset.name, i, "policy-oracle")))
                for i in self.batch.ids]
        color = torch.zeros_like(self.batch.color)
        mask = torch.zeros_like(self.batch.color[:, :1])
        out = self.out0.clone()
        current = self.level0.clone()
        per_level = [self.level0]
        for _ in range(self.nc):
            err = self._err(out).cpu().numpy()
            hinted = (mask[:, 0] > 0.5).cpu().numpy()
            adds = []
            for j in range(b):
                size = int(rngs[j].choice(np.asarray(PATCH_SIZES)))  # drawn every step: a fixed sequence
                centre = blob_centre(err[j], hinted[j])
                if centre is None:
                    continue
                top, left, ph, pw = hint_box(kind, centre, size, h, w)
                color[j, :, top : top + ph, left : left + pw] = self._mean_colour(j, top, left, ph, pw)[:, None, None]
                mask[j, :, top : top + ph, left : left + pw] = 1.0
                adds.append(j)
            current = current.clone()
            if adds:
                idx = torch.as_tensor(adds, device=dev)
                new_out, metrics = self.forward(idx, color[idx], mask[idx], None)
                out[idx] = new_out
                current[idx] = metrics
            per_level.append(current)
        self.emit("oracle", per_level)

    def _mean_colour(self, j: int, top: int, left: int, ph: int, pw: int) -> torch.Tensor:
        """The ground truth's mean colour [3] in [-1,1] over a box, averaged in the run's hint space."""
        if self.lab is None:
            return self.batch.color[j, :, top : top + ph, left : left + pw].float().mean(dim=(1, 2))
        lab = self.lab[j, :, top : top + ph, left : left + pw].mean(dim=(1, 2))
        return lab_means_to_signed(lab[None])[0].to(self.batch.color.device)

    def _err(self, out: torch.Tensor) -> torch.Tensor:
        return error_map(out, self.batch.gt_u8)


def learned_order(ev: Evaluator, sketch: torch.Tensor) -> torch.Tensor | None:
    """The model's `learned_order` [B,K] int64 over fixed-row chunks (as every model call), or None when the
    model has none or its priority already is that order."""
    fn = getattr(ev.model, "learned_order", None)
    if fn is None:
        return None
    parts = []
    rows = ev.plan.forward_rows
    for s in range(0, sketch.shape[0], rows):
        e = min(sketch.shape[0], s + rows)
        with ev._autocast():
            order = fn(pad_rows(sketch[s:e], rows))
        if order is None:
            return None
        parts.append(order[: e - s])
    return torch.cat(parts)


def policy_rows(ev: Evaluator, batch: Batch, rows: list, base: dict[str, Any], seq: HintSequence,
                native: torch.Tensor, native_out: torch.Tensor) -> None:
    """Append the policy record blocks of one batch (the engine calls this for the "policies" mode).

    seq: the native hint sequence (for a region model its regions in the model's order, seq.regions = S);
    native / native_out: the native metrics and outputs at n = 0..Nc (`PolicyRows`)."""
    if ev.plan.policy_oracle not in ORACLES or int(ev.plan.policy_perms) < 1:
        raise UsageError(f"--policy-oracle must be one of {', '.join(ORACLES)} (got {ev.plan.policy_oracle!r}) and "
                         f"--policy-perms at least 1 (got {ev.plan.policy_perms})")
    pr = PolicyRows(ev, batch, rows, base, native, native_out)
    if ev.kind is HintKind.REGION:
        assert seq.regions is not None
        area = seq.masks.flatten(2).sum(dim=2)
        pr.ordered("area", seq, area_order(area))
        order = learned_order(ev, batch.sketch)
        if order is not None:
            pr.ordered("learned", seq, order.to(seq.masks.device))
        nonempty = area > 0
        for k in range(int(ev.plan.policy_perms)):
            seeds = [image_seed(ev.dataset.name, i, f"policy-random|{k}") for i in batch.ids]
            pr.ordered(f"random/{k}", seq, random_order(nonempty, seeds))
        pr.region_oracle(seq, exact=ev.plan.policy_oracle == "exact")
    elif ev.kind in (HintKind.POINT, HintKind.STROKE):
        pr.blob_oracle(ev.kind)
