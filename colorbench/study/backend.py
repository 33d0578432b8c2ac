"""The models behind the study page: load the run's checkpoints, turn a participant's hints into Hints, colorize.

Models come from `colorbench.evaluation.variants.resolve_variants` (shipped zoo or `--checkpoint`), images from
`colorbench.data.open_dataset`, the guided regions from the model's own `propose_regions` and the hint tensors
from `colorbench.hints.HintSequence` (a later hint overwrites an earlier one), exactly as `colorbench run`.
Images cross the wire as PNG bytes: uint8 [H,W,3].
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from colorbench.api import HintKind, Hints
from colorbench.data import open_dataset
from colorbench.errors import UsageError
from colorbench.evaluation.variants import resolve_variants
from colorbench.hints import HintSequence, image_seed, perturb_colors, simulate
from colorbench.metrics.psnr import to_uint8
from colorbench.model import ColorizerModel
from colorbench.registry import MODELS

# The page offers these hint kinds; a stroke model (AlacGAN) takes the point page's hints.
PAGE_OF = {HintKind.REGION: "guided", HintKind.POINT: "point", HintKind.STROKE: "point"}
HIGHLIGHT = np.array([255, 0, 200], dtype=np.float32)  # the guided region's tint: far from any toon colour
MAX_RANK_HINTS = 7  # supplement E.2: "up to seven hints"
PERTURB = 64.0  # E.2: each RGB value of the hint ± U(-64, 64)
MAX_BOXES = 4  # outlines per guided region: its largest pieces
MIN_BOX = 0.06  # an outline is at least this fraction of the image wide and high (4 px at 64 px)


def png(image: np.ndarray) -> bytes:
    """uint8 [H,W,3] (or [H,W]) → PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def _hwc(t: torch.Tensor) -> np.ndarray:
    """[1,3,H,W] in [-1,1] → uint8 [H,W,3], the benchmark's own quantisation (metrics.to_uint8)."""
    return to_uint8(t)[0].permute(1, 2, 0).cpu().numpy()


@dataclass
class StudyImage:
    """One test image: sketch [1,1,H,W] and colour [1,3,H,W] in [-1,1]; regions per region model."""

    sketch: torch.Tensor
    color: torch.Tensor
    regions: dict[str, torch.Tensor]  # label → S [1,Nc,H,W] in {0,1}, priority order

    def sketch_rgb(self) -> np.ndarray:
        return _hwc(self.sketch.expand(-1, 3, -1, -1))


class StudyModels:
    """The loaded variants of a study and its images; forwards are serialized (one CPU, one request at a time)."""

    def __init__(self, models: list[str], dataset: str, checkpoints: list[str] | None = None, size: int = 64,
                 limit: int | None = 12, data_root: str | None = None, rank_models: list[str] | None = None,
                 device: str = "cpu") -> None:
        names = [MODELS.canonical(m) for m in models]
        rank_names = [MODELS.canonical(m) for m in (models if rank_models is None else rank_models)]
        variants = resolve_variants(list(dict.fromkeys(names + rank_names)), list(checkpoints or []), dataset)
        self.kinds: dict[str, HintKind] = {v.label: MODELS.get(v.model).hint_kind for v in variants}
        self.interactive = [v.label for v in variants if v.model in names or v.label in names]
        self.rankable = [v.label for v in variants if v.model in rank_names or v.label in rank_names]
        for label in self.interactive:
            if self.kinds[label] not in PAGE_OF:
                raise UsageError(f"study: {label} takes no hints ({self.kinds[label].value}); the study page needs a "
                                 "region or point model (ours, rtug, alacgan)")
        for label in self.rankable:
            if self.kinds[label] is HintKind.NONE:
                raise UsageError(f"study: {label} takes no hints, so it cannot be ranked on how it follows them")
        self.models: dict[str, ColorizerModel] = {v.label: v.load(device) for v in variants}
        self.checkpoints = {v.label: v.describe()["checkpoint_sha256"] for v in variants}  # stored per session
        self.dataset = open_dataset(dataset, "test", size=size, root=data_root, limit=limit)
        self.image_ids = self.dataset.ids()
        if not self.image_ids:
            raise UsageError(f"dataset {dataset!r} has no test images")
        self.size = self.dataset.size
        self.point_size = max(1, self.size // 21)  # 3 px at 64 px: inside RTUG's trained patch sizes 1-9
        self._images: dict[str, StudyImage] = {}
        self._lock = threading.Lock()

    def page(self, label: str) -> str:
        return PAGE_OF[self.kinds[label]]

    # -- images ---------------------------------------------------------------------------------
    def image(self, image_id: str) -> StudyImage:
        """The image (KeyError for an id not in the study), regions computed once per region model."""
        if image_id not in self.image_ids:
            raise KeyError(image_id)
        with self._lock:
            if image_id not in self._images:
                item = self.dataset.get(image_id)
                sketch, color = item["sketch"][None], item["color"][None]
                with torch.inference_mode():
                    regions = {label: m.propose_regions(sketch) for label, m in self.models.items()
                               if self.kinds[label] is HintKind.REGION}
                self._images[image_id] = StudyImage(sketch, color, regions)
            return self._images[image_id]

    def region_order(self, label: str, image_id: str) -> list[int]:
        """Indices of the model's non-empty regions, in the order it asks for them (S_1 first)."""
        s = self.image(image_id).regions[label][0]
        return [int(i) for i in torch.nonzero(s.sum(dim=(1, 2)) > 0).flatten()]

    # -- hints ----------------------------------------------------------------------------------
    def _sequence(self, label: str, img: StudyImage, hints: list[dict[str, Any]]) -> HintSequence:
        """The latest hint of each slot, in slot order → HintSequence [1,K,...]."""
        latest: dict[int, dict[str, Any]] = {}
        for h in hints:
            latest[int(h["slot"])] = h["hint"]
        h_, w_ = img.sketch.shape[-2:]
        masks = torch.zeros(1, len(latest), h_, w_, dtype=torch.bool)
        colors = torch.zeros(1, len(latest), 3)
        for j, slot in enumerate(sorted(latest)):
            hint = latest[slot]
            if hint["kind"] == "region":
                masks[0, j] = img.regions[label][0, hint["region"]] > 0.5
            else:
                p, x, y = int(hint["size"]), int(hint["x"]), int(hint["y"])
                top, left = min(max(y - p // 2, 0), h_ - p), min(max(x - p // 2, 0), w_ - p)
                masks[0, j, top : top + p, left : left + p] = True
            colors[0, j] = torch.tensor(hint["color"], dtype=torch.float32) / 127.5 - 1.0
        regions = img.regions.get(label)
        return HintSequence(masks, colors, regions)

    def colorize(self, label: str, image_id: str, hints: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """The model's output for these interactions (rows of Store.hints) → (output, hint map), uint8 [H,W,3]."""
        img = self.image(image_id)
        seq = self._sequence(label, img, hints)
        u = seq.at(seq.length)
        with self._lock, torch.inference_mode():
            out = self.models[label].colorize(img.sketch, u)
        return _hwc(out), self.hint_map(img, u)

    def hint_map(self, img: StudyImage, u: Hints, highlight: torch.Tensor | None = None) -> np.ndarray:
        """The sketch with the hint colours multiplied in (lines stay visible); `highlight` [H,W] bool tinted."""
        base = img.sketch_rgb().astype(np.float32)
        mask = u.mask[0, 0].cpu().numpy() > 0.5
        colour = _hwc(u.color).astype(np.float32)
        base[mask] = base[mask] * colour[mask] / 255.0
        if highlight is not None:
            sel = highlight.cpu().numpy()
            base[sel] = 0.45 * base[sel] + 0.55 * HIGHLIGHT
        return base.round().clip(0, 255).astype(np.uint8)

    def region_boxes(self, label: str, image_id: str, region: int | None) -> list[list[float]]:
        """[left, top, right, bottom] per connected piece of the region (largest first, at most MAX_BOXES), as
        fractions of the image, each at least MIN_BOX wide and high: the page outlines them, so a region of a
        few pixels is still found at a glance and a scattered one is not boxed as the whole image."""
        if region is None:
            return []
        sel = (self.image(image_id).regions[label][0, region] > 0.5).cpu().numpy()
        h, w = sel.shape
        pieces, _ = ndimage.label(sel, structure=np.ones((3, 3)))  # 8-connected
        slices = ndimage.find_objects(pieces)
        sizes = ndimage.sum_labels(sel, pieces, index=range(1, len(slices) + 1))
        boxes = []
        for i in np.argsort(-np.asarray(sizes, dtype=np.float64), kind="stable")[:MAX_BOXES]:
            ys, xs = slices[i]
            box = [xs.start / w, ys.start / h, xs.stop / w, ys.stop / h]
            for lo, hi in ((0, 2), (1, 3)):  # grow a tiny piece around its centre
                if box[hi] - box[lo] < MIN_BOX:
                    mid = (box[lo] + box[hi]) / 2
                    box[lo], box[hi] = max(0.0, mid - MIN_BOX / 2), min(1.0, mid + MIN_BOX / 2)
            boxes.append(box)
        return boxes

    def guide(self, label: str, image_id: str, hints: list[dict[str, Any]], region: int | None) -> np.ndarray:
        """The left image of the guided page: hints so far, region `region` highlighted."""
        img = self.image(image_id)
        u = self._sequence(label, img, hints).at(len({h["slot"] for h in hints}))
        sel = None if region is None else img.regions[label][0, region] > 0.5
        return self.hint_map(img, u, sel)

    # -- the ranking task (Table 6, supplement E.2) -----------------------------------------------
    def _rank_sequence(self, image_id: str, n: int) -> HintSequence:
        img = self.image(image_id)
        seed = image_seed(self.dataset.name, image_id, "study-rank")
        placing = next(iter(img.regions.values()), None)
        seq = simulate(HintKind.POINT, img.color, [seed], regions=placing, k=n, equalized=placing is not None)
        return perturb_colors(seq, [image_seed(self.dataset.name, image_id, "study-rank-colour")], PERTURB)

    def rank_hints(self, image_id: str, n: int) -> tuple[Hints, int]:
        """n point hints placed inside the first region model's guided regions (E.2: the same positions for
        every model), colours perturbed by ±64 per channel; seeded by the image id only. → (hints, how many
        are not empty: a hint meant for a region the image does not have is dropped, as in the engine)."""
        seq = self._rank_sequence(image_id, n)
        return seq.at(n), int(seq.masks[0, :n].flatten(1).any(dim=1).sum())

    def rank_markers(self, image_id: str, n: int) -> list[dict[str, Any]]:
        """The given hints of `rank_hints` as the page draws them on the enlarged reference: centre (fractions of
        the image), half-size (fraction) and '#rrggbb' colour."""
        seq = self._rank_sequence(image_id, n)
        h, w = seq.masks.shape[-2:]
        out = []
        for mask, color in zip(seq.masks[0, :n], seq.colors[0, :n]):
            ys, xs = torch.nonzero(mask, as_tuple=True)
            if len(xs) == 0:
                continue
            rgb = ((color.clamp(-1, 1) + 1) * 127.5).round().int().tolist()
            out.append({"x": (float(xs.min()) + float(xs.max()) + 1) / 2 / w,
                        "y": (float(ys.min()) + float(ys.max()) + 1) / 2 / h,
                        "half": (float(xs.max()) - float(xs.min()) + 1) / 2 / w,
                        "color": "#" + "".join(f"{c:02x}" for c in rgb)})
        return out

    def rank_outputs(self, image_id: str, n: int) -> tuple[np.ndarray, dict[str, np.ndarray], int]:
        """(hint map, {label: output}, hints given) of every rankable model for the same hints, uint8 [H,W,3]."""
        img = self.image(image_id)
        u, given = self.rank_hints(image_id, n)
        outs = {}
        with self._lock, torch.inference_mode():
            for label in self.rankable:
                outs[label] = _hwc(self.models[label].colorize(img.sketch, Hints(u.color, u.mask)))
        return self.hint_map(img, u), outs, given
