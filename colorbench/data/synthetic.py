"""Synthetic datasets generated on the fly from hashed seeds: `toon` (flat-coloured cartoon characters)
and `snail` (the Dark Snail of paper §4.5 / Fig. 4). No files, any size that is a multiple of 16.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from colorbench.data.base import SPLITS, ColorDataset, DatasetError

LINE_RGB = (0, 0, 0)  # outline colour in the colour image; the sketch uses the same black


@dataclass(frozen=True)
class Rendered:
    """One generated sample. sketch [H,W] uint8 {0,255}; color [H,W,3] uint8; labels/instances [H,W] int64."""

    sketch: np.ndarray
    color: np.ndarray
    labels: np.ndarray  # semantic part (toon) or object index (snail)
    instances: np.ndarray  # one id per drawn shape: the outlines are drawn between instances


def sample_rng(dataset: str, split: str, index: int) -> np.random.Generator:
    """The generator of one sample: PCG64 seeded by 128 bits of sha256("colorbench|synthetic|...")."""
    digest = hashlib.sha256(f"colorbench|synthetic|{dataset}|{split}|{index}".encode()).hexdigest()
    return np.random.Generator(np.random.PCG64(int(digest[:32], 16)))


def line_width(size: int) -> int:
    """Outline width in pixels: 1 px at 64 px, growing with the image size."""
    return max(1, round(size / 64))


def outlines(instances: np.ndarray, width: int) -> np.ndarray:
    """Boolean [H,W]: True on instance boundaries, `width` px thick.

    One-sided (a pixel is a line if its right or lower neighbour belongs to another instance) so a
    boundary gives a line exactly `width` px wide instead of 2·width; nothing is drawn on the frame.
    """
    line = np.zeros(instances.shape, dtype=bool)
    line[:, :-1] |= instances[:, :-1] != instances[:, 1:]
    line[:-1, :] |= instances[:-1, :] != instances[1:, :]
    if width > 1:
        thick = line.copy()
        for dy in range(width):
            for dx in range(width):
                if dy or dx:
                    thick[dy:, dx:] |= line[: line.shape[0] - dy, : line.shape[1] - dx]
        line = thick
    return line


def sketch_from_lines(line: np.ndarray) -> np.ndarray:
    """Black lines on white paper: uint8 [H,W] in {0,255}."""
    return np.where(line, 0, 255).astype(np.uint8)


class _Synthetic(ColorDataset):
    """Shared plumbing: per-split counts, ids "split-000123", seeds, a small render cache."""

    counts: ClassVar[dict[str, int]] = {}
    generator_version: ClassVar[str] = ""
    _CACHE_SIZE = 16

    def __init__(
        self,
        split: str = "test",
        size: int = 64,
        root: str | None = None,
        limit: int | None = None,
        n_train: int | None = None,
        n_val: int | None = None,
        n_test: int | None = None,
        **kw: Any,
    ) -> None:
        if kw:
            raise DatasetError(
                f"dataset {self.name!r} does not take {', '.join(sorted(kw))}; "
                "it accepts split, size, limit, n_train, n_val, n_test"
            )
        super().__init__(split=split, size=size, root=root, limit=limit)
        given = {"train": n_train, "val": n_val, "test": n_test}
        self.split_counts = {s: int(given[s]) if given[s] is not None else self.counts[s] for s in SPLITS}
        for s, n in self.split_counts.items():
            if n < 0:
                raise DatasetError(f"dataset {self.name!r}: n_{s} must be >= 0, got {n}")
        self._cache: OrderedDict[str, Rendered] = OrderedDict()

    def all_ids(self) -> list[str]:
        return [f"{self.split}-{i:06d}" for i in range(self.split_counts[self.split])]

    def describe(self) -> dict[str, Any]:
        return {"generator": self.generator_version, "counts": dict(self.split_counts)}

    def parse_id(self, image_id: str) -> tuple[str, int]:
        """'test-000123' → ('test', 123); raises DatasetError for ids this dataset does not have."""
        split, _, number = image_id.partition("-")
        if split not in SPLITS or not number.isdigit():
            raise DatasetError(f"{image_id!r} is not a {self.name} id; ids look like 'test-000123'")
        index = int(number)
        if index >= self.split_counts[split]:
            raise DatasetError(
                f"{self.name} {split} has {self.split_counts[split]} images; {image_id!r} is out of range"
            )
        return split, index

    def render(self, image_id: str) -> Rendered:
        """The sample `image_id` at `self.size` (cached; treat the arrays as read-only)."""
        hit = self._cache.get(image_id)
        if hit is not None:
            self._cache.move_to_end(image_id)
            return hit
        split, index = self.parse_id(image_id)
        out = self._draw(sample_rng(self.name, split, index))
        for array in (out.sketch, out.color, out.labels, out.instances):
            array.flags.writeable = False
        self._cache[image_id] = out
        if len(self._cache) > self._CACHE_SIZE:
            self._cache.popitem(last=False)
        return out

    def load(self, image_id: str) -> tuple[np.ndarray, np.ndarray]:
        r = self.render(image_id)
        return r.sketch.copy(), r.color.copy()

    def _draw(self, rng: np.random.Generator) -> Rendered:
        raise NotImplementedError


# =============================================================================================
# toon
# =============================================================================================
PART_NAMES: tuple[str, ...] = (
    "background", "ground", "shirt", "pants", "skin", "hair", "eyes", "mouth", "shoes", "hat",
)  # fmt: skip
_P = {name: i for i, name in enumerate(PART_NAMES)}

# Per-part palettes (3-6 colours). Disjoint across parts, so a colour names its part, but within a part
# the colour is a coin toss: the sketch cannot tell a red shirt from a blue one.
PALETTES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "background": ((170, 210, 240), (250, 240, 200), (250, 215, 225), (200, 240, 215), (220, 210, 245),
                   (225, 225, 225)),
    "ground": ((110, 170, 80), (160, 120, 80), (140, 140, 150), (220, 190, 130)),
    "shirt": ((210, 50, 50), (50, 90, 200), (240, 200, 40), (40, 150, 70), (140, 70, 170), (240, 130, 30)),
    "pants": ((30, 40, 90), (70, 110, 160), (45, 45, 50), (190, 170, 120), (110, 70, 40)),
    "skin": ((255, 220, 190), (240, 190, 150), (200, 140, 100), (140, 95, 65)),
    "hair": ((30, 25, 25), (100, 60, 30), (240, 210, 110), (190, 70, 30), (240, 130, 180), (60, 170, 170)),
    "eyes": ((70, 40, 20), (40, 100, 210), (60, 140, 60), (120, 60, 150)),
    "mouth": ((200, 60, 70), (230, 110, 120), (150, 40, 50)),
    "shoes": ((90, 50, 30), (30, 30, 30), (235, 235, 235), (180, 30, 60)),
    "hat": ((230, 200, 120), (190, 30, 40), (30, 60, 150), (30, 110, 60), (60, 60, 60)),
}  # fmt: skip


class _Canvas:
    """Label and instance maps at 2× resolution, painted shape by shape (painter's algorithm)."""

    def __init__(self, size2: int) -> None:
        c = (np.arange(size2, dtype=np.float32) + 0.5) / size2  # pixel centres in [0,1]
        self.u = np.broadcast_to(c[None, :], (size2, size2))  # x, rightwards
        self.v = np.broadcast_to(c[:, None], (size2, size2))  # y, downwards
        self.labels = np.zeros((size2, size2), dtype=np.int64)
        self.instances = np.zeros((size2, size2), dtype=np.int64)
        self._next = 1

    def paint(self, mask: np.ndarray, part: str, instance: int | None = None) -> int:
        """Paint `mask` with `part`; returns the instance id used (pass it again to join shapes)."""
        if instance is None:
            instance = self._next
            self._next += 1
        self.labels[mask] = _P[part]
        self.instances[mask] = instance
        return instance


def _ellipse(x: np.ndarray, y: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0


def _rounded_box(x: np.ndarray, y: np.ndarray, cx: float, cy: float, ax: float, ay: float) -> np.ndarray:
    """Superellipse |dx/ax|⁴ + |dy/ay|⁴ ≤ 1: a box with rounded corners."""
    dx = ((x - cx) / ax) ** 2
    dy = ((y - cy) / ay) ** 2
    return dx * dx + dy * dy <= 1.0


def _capsule(x: np.ndarray, y: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], r: float) -> np.ndarray:
    """Points within r of the segment p0-p1 (a limb)."""
    ex, ey = p1[0] - p0[0], p1[1] - p0[1]
    t = np.clip(((x - p0[0]) * ex + (y - p0[1]) * ey) / (ex * ex + ey * ey + 1e-12), 0.0, 1.0)
    return (x - p0[0] - t * ex) ** 2 + (y - p0[1] - t * ey) ** 2 <= r * r


def _area_downsample(image: np.ndarray) -> np.ndarray:
    """[2H,2W,C] float → [H,W,C] mean of each 2×2 block."""
    h, w = image.shape[0] // 2, image.shape[1] // 2
    return image.reshape(h, 2, w, 2, -1).mean(axis=(1, 3))


class Toon(_Synthetic):
    """`toon`: cartoon characters of flat-coloured semantic parts with black outlines (DESIGN §6).

    Parts (`PART_NAMES`, label index = position): background, ground, shirt (torso and arms), pants
    (legs), skin (head, hands), hair, eyes, mouth, shoes, hat. Pose, scale, position, tilt, facing,
    hair style and hat vary per sample so that the segmentation is not a fixed template; each part's
    colour is drawn from its own palette (`PALETTES`), so without hints the colour is ambiguous while
    the parts stay semantically consistent. Shapes are painted at 2× resolution, the colour image is
    area-downsampled (clean edges) and both images get the same black outlines, derived from the
    shape (instance) map at output resolution, so the sketch is binary and carries no colour.

    nri_threshold = 22.0 dB. Calibrated against an oracle that knows the exact parts, paints every
    part it has no hint for with its palette's mean colour and receives hints for the largest
    parts first: on the test split at 64 px it reaches 22 dB with about three hints (median), i.e.
    after background, shirt/ground and one more part. A good region-hint model should get there in a
    handful of hints, a point-hint model needs noticeably more, and an automatic model does not get
    there (the oracle itself starts near 13 dB at n = 0). `benchmarks`-style re-calibration:
    `toon_oracle_nri()` in tests/test_data_synthetic.py recomputes the figure.
    """

    name: ClassVar[str] = "toon"
    nri_threshold: ClassVar[float] = 22.0
    counts: ClassVar[dict[str, int]] = {"train": 4096, "val": 64, "test": 256}
    generator_version: ClassVar[str] = "toon-v1"
    PART_NAMES: ClassVar[tuple[str, ...]] = PART_NAMES
    PALETTES: ClassVar[dict[str, tuple[tuple[int, int, int], ...]]] = PALETTES

    def parts(self, image_id: str) -> np.ndarray:
        """Part label map [H,W] int64, values index `PART_NAMES` (lines keep the label underneath)."""
        return self.render(image_id).labels.copy()

    def _draw(self, rng: np.random.Generator) -> Rendered:
        size = self.size
        canvas = _Canvas(2 * size)
        u, v = canvas.u, canvas.v
        colors = {part: np.array(pal[rng.integers(len(pal))], dtype=np.float32) for part, pal in PALETTES.items()}

        # --- scene: background, optional ground strip with a slight slope
        canvas.paint(np.ones_like(u, dtype=bool), "background")
        has_ground = rng.random() < 0.75
        if has_ground:
            top = rng.uniform(0.72, 0.9)
            slope = rng.uniform(-0.12, 0.12)
            canvas.paint(v >= top + slope * (u - 0.5), "ground")
            feet = top + rng.uniform(0.0, 0.07)
        else:
            feet = rng.uniform(0.84, 0.98)
        height = rng.uniform(0.45, 0.8)  # character height as a fraction of the image
        cx = rng.uniform(0.25, 0.75)
        tilt = rng.uniform(-0.2, 0.2)
        facing = 1.0 if rng.random() < 0.5 else -1.0
        # Character-local coordinates: origin between the feet, x along `facing`, y up, unit = height.
        cos, sin = np.cos(tilt), np.sin(tilt)
        du, dv = (u - cx) / height, (v - feet) / height
        x = facing * (du * cos + dv * sin)
        y = -(-du * sin + dv * cos)
        self._draw_character(canvas, x, y, rng)

        # --- images: colour by area-downsampling the 2× paint; maps subsampled; outlines from instances
        lut = np.stack([colors[p] for p in PART_NAMES])  # [P,3]
        color = _area_downsample(lut[canvas.labels])
        labels = canvas.labels[::2, ::2].copy()
        instances = canvas.instances[::2, ::2].copy()
        line = outlines(instances, line_width(size))
        color[line] = LINE_RGB
        color8 = np.clip(np.rint(color), 0, 255).astype(np.uint8)
        return Rendered(sketch_from_lines(line), color8, labels, instances)

    @staticmethod
    def _draw_character(canvas: _Canvas, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
        # Proportions in units of the character's height (chibi: big head), all varied per sample.
        leg_len = rng.uniform(0.24, 0.32)
        leg_r = rng.uniform(0.045, 0.065)
        torso_h = rng.uniform(0.24, 0.32)
        torso_w = rng.uniform(0.11, 0.16)
        head_r = rng.uniform(0.15, 0.21)
        head_rx = head_r * rng.uniform(0.9, 1.1)
        hip_y = leg_len
        torso_cy = hip_y + torso_h / 2
        head_cy = hip_y + torso_h + head_r * 0.85
        hair_style = rng.integers(3)  # 0 short, 1 long (down the back), 2 bob

        # back hair first so that torso and head cover it
        hair = canvas.paint(
            _ellipse(x, y, 0.0, head_cy + 0.02, head_rx * 1.15, head_r * 1.12) & (y > head_cy - 0.3 * head_r),
            "hair",
        )
        if hair_style == 1:
            drop = head_r * rng.uniform(1.0, 1.8)
            canvas.paint(_rounded_box(x, y, 0.0, head_cy - drop / 2, head_rx * 1.12, drop / 2 + 0.02), "hair", hair)
        elif hair_style == 2:
            canvas.paint(_rounded_box(x, y, 0.0, head_cy - 0.2 * head_r, head_rx * 1.2, head_r * 0.75), "hair", hair)

        # legs and shoes
        for side in (-1.0, 1.0):
            spread = rng.uniform(0.05, 0.45)
            hip = (side * torso_w * 0.5, hip_y)
            foot = (hip[0] + side * leg_len * np.sin(spread), hip_y - leg_len * np.cos(spread))
            canvas.paint(_capsule(x, y, hip, foot, leg_r), "pants")
            canvas.paint(_ellipse(x, y, foot[0] + leg_r * 0.5, foot[1], leg_r * 1.6, leg_r * 1.0), "shoes")

        canvas.paint(_rounded_box(x, y, 0.0, torso_cy, torso_w, torso_h / 2), "shirt")

        # arms: angle from hanging down (0) to raised (≈150°), each arm on its own
        arm_len = rng.uniform(0.2, 0.28)
        arm_r = rng.uniform(0.033, 0.048)
        for side in (-1.0, 1.0):
            angle = rng.uniform(-0.3, 2.6)
            shoulder = (side * (torso_w - 0.02), hip_y + torso_h - 0.05)
            hand = (shoulder[0] + side * arm_len * np.sin(angle), shoulder[1] - arm_len * np.cos(angle))
            canvas.paint(_capsule(x, y, shoulder, hand, arm_r), "shirt")
            canvas.paint(_ellipse(x, y, hand[0], hand[1], arm_r * 1.45, arm_r * 1.45), "skin")

        # head, fringe (slanted parting), eyes and mouth, looking a little to one side
        head = _ellipse(x, y, 0.0, head_cy, head_rx, head_r)
        canvas.paint(head, "skin")
        fringe_at = rng.uniform(0.3, 0.55)
        slant = rng.uniform(-0.15, 0.15)
        canvas.paint(head & (y > head_cy + head_r * (fringe_at + slant * x / head_rx)), "hair", hair)
        look = rng.uniform(-0.25, 0.25) * head_r
        eye_sep = rng.uniform(0.3, 0.45) * head_r
        eye_rx = rng.uniform(0.12, 0.18) * head_r
        eye_ry = eye_rx * rng.uniform(1.1, 1.5)
        for side in (-1.0, 1.0):
            canvas.paint(_ellipse(x, y, look + side * eye_sep, head_cy - 0.12 * head_r, eye_rx, eye_ry), "eyes")
        mouth_cy = head_cy - 0.5 * head_r
        mouth_ry = rng.uniform(0.06, 0.12) * head_r
        mouth = _ellipse(x, y, 0.8 * look, mouth_cy, rng.uniform(0.14, 0.25) * head_r, mouth_ry)
        if rng.random() < 0.5:  # a smile: the lower half only
            mouth &= y < mouth_cy + 0.3 * mouth_ry
        canvas.paint(mouth, "mouth")

        if rng.random() < 0.45:  # hat: brim + crown on top of the head
            brim_y = head_cy + head_r * rng.uniform(0.6, 0.8)
            crown_h = head_r * rng.uniform(0.5, 1.0)
            hat = canvas.paint(_rounded_box(x, y, 0.0, brim_y, head_rx * rng.uniform(1.2, 1.6), 0.03), "hat")
            crown = _rounded_box(x, y, 0.0, brim_y + crown_h / 2, head_rx * rng.uniform(0.7, 1.0), crown_h / 2)
            canvas.paint(crown & (y >= brim_y), "hat", hat)


# =============================================================================================
# snail
# =============================================================================================
SNAIL_COLORS: tuple[tuple[int, int, int], ...] = ((255, 0, 0), (0, 255, 0), (0, 0, 255))


def snail_layout(size: int, pieces: int) -> np.ndarray:
    """Object map [size,size] int64 of the Dark Snail: object k has half the area of object k-1.

    Start from the whole image and cut the remaining rectangle in halves, taking the left, top,
    right, bottom half in turn (clockwise); each cut halves the long side, since the sequence
    alternates. The last object is what remains after `pieces`-1 cuts, so the last two are equal.
    Exact on the pixel grid while 2^ceil((pieces-1)/2) divides `size`.
    """
    out = np.full((size, size), -1, dtype=np.int64)
    top, left, bottom, right = 0, 0, size, size
    for k in range(pieces - 1):
        side = k % 4  # 0 left, 1 top, 2 right, 3 bottom
        if side in (0, 2):
            mid = (left + right) // 2
            if side == 0:
                out[top:bottom, left:mid], left = k, mid
            else:
                out[top:bottom, mid:right], right = k, mid
        else:
            mid = (top + bottom) // 2
            if side == 1:
                out[top:mid, left:right], top = k, mid
            else:
                out[mid:bottom, left:right], bottom = k, mid
    out[top:bottom, left:right] = pieces - 1
    return out


class Snail(_Synthetic):
    """`snail`: Dark Snail (paper §4.5, Fig. 4): rectangles placed clockwise, each half the previous one.

    The layout is fixed (`snail_layout`); only the colours change: each piece is red, green or blue,
    drawn uniformly and independently per sample, so no model can know a piece's colour without a
    hint for it, and asking for the largest piece first is the optimal query order. The sketch is
    the piece outlines; the colour image carries the same black outlines. `objects(id)` gives the
    object index map (0 = largest).

    nri_threshold = 24.0 dB. A model that knows the pieces and paints every unhinted piece grey
    (85, 85, 85), the MSE-optimal guess for a uniform R/G/B colour, gets PSNR(n) ≈ 6.5 + 3.0·n dB
    when hinted in decreasing size (each hint halves the unknown area); 24 dB is then reached at
    n = 6, while hinting in random order needs far more. So NRI directly measures the query order
    the experiment is about.
    """

    name: ClassVar[str] = "snail"
    nri_threshold: ClassVar[float] = 24.0
    counts: ClassVar[dict[str, int]] = {"train": 4096, "val": 32, "test": 64}
    generator_version: ClassVar[str] = "snail-v1"
    PIECES: ClassVar[int] = 8
    COLORS: ClassVar[tuple[tuple[int, int, int], ...]] = SNAIL_COLORS

    def __init__(self, *args: Any, pieces: int | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.pieces = self.PIECES if pieces is None else int(pieces)
        if not 2 <= self.pieces <= 12:
            raise DatasetError(f"snail: pieces must be in 2..12, got {self.pieces}")
        self._layout = snail_layout(self.size, self.pieces)
        self._line = outlines(self._layout, line_width(self.size))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "pieces": self.pieces}

    def objects(self, image_id: str) -> np.ndarray:
        """Object index map [H,W] int64: 0..K-1 in decreasing size (the layout is the same for every id)."""
        return self.render(image_id).labels.copy()

    def _draw(self, rng: np.random.Generator) -> Rendered:
        choice = rng.integers(0, len(SNAIL_COLORS), size=self.pieces)
        lut = np.asarray(SNAIL_COLORS, dtype=np.uint8)[choice]
        color = lut[self._layout]
        color[self._line] = LINE_RGB
        return Rendered(sketch_from_lines(self._line), color, self._layout.copy(), self._layout.copy())
