"""The drawing of a `toon` character (colorbench.data.synthetic.Toon): its semantic parts, their palettes,
the random pose and shapes, and the label map they are rasterised into."""

from __future__ import annotations

from typing import Any

import numpy as np
from skimage.draw import polygon as draw_polygon

TOON_PARTS: tuple[str, ...] = (
    "background",
    "ground",
    "clothes",
    "pants",
    "skin",
    "hair",
    "eyes",
    "mouth",
    "hat",
)
"""Semantic part labels of `Toon.parts` (index = label)."""

# Per-part palettes: disjoint RGB values so every part has its own colours, and several choices per part so
# the colour is ambiguous from the sketch alone (only a hint resolves it). Skin never looks like hair etc.
TOON_PALETTES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "background": (
        (186, 222, 247),
        (250, 240, 190),
        (247, 208, 220),
        (205, 235, 200),
        (222, 210, 245),
        (236, 236, 230),
    ),
    "ground": ((104, 170, 80), (222, 196, 140), (150, 150, 156), (140, 100, 70)),
    "clothes": ((214, 48, 49), (40, 96, 200), (46, 160, 90), (240, 196, 40), (140, 70, 180), (245, 130, 40)),
    "pants": ((36, 48, 96), (70, 70, 76), (110, 76, 50), (80, 120, 170), (30, 30, 34)),
    "skin": ((255, 224, 196), (241, 194, 150), (198, 140, 100), (130, 86, 60)),
    "hair": ((24, 20, 22), (112, 66, 32), (236, 200, 100), (196, 72, 36), (240, 140, 190)),
    "eyes": ((60, 40, 20), (50, 110, 200), (40, 140, 80)),
    "mouth": ((200, 40, 60), (230, 110, 130), (150, 20, 40)),
    "hat": ((250, 250, 252), (200, 30, 90), (20, 130, 140), (250, 220, 0), (90, 60, 140)),
}
_PART = {p: i for i, p in enumerate(TOON_PARTS)}


def _ellipse(
    cx: float, cy: float, rx: float, ry: float, n: int = 24, start: float = 0.0, stop: float = 2 * np.pi
) -> np.ndarray:
    t = np.linspace(start, stop, n, endpoint=stop - start < 2 * np.pi - 1e-9)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _limb(x0: float, y0: float, angle: float, length: float, thick: float) -> np.ndarray:
    """A rectangle from (x0,y0) of `length` along `angle` (radians, 0 = +x, y down)."""
    d = np.array([np.cos(angle), np.sin(angle)])
    n = np.array([-d[1], d[0]]) * thick / 2
    p0 = np.array([x0, y0])
    p1 = p0 + d * length
    return np.stack([p0 + n, p1 + n, p1 - n, p0 - n])


def _toon_shapes(rng: np.random.Generator) -> tuple[list[tuple[int, np.ndarray]], dict[str, Any]]:
    """Draw one character: a list of (part label, polygon [N,2] in character units, y down) in paint order.

    The character stands with its feet at y = 0.5 and head top near y = -0.5; limbs, hair style, hat, tilt
    and proportions vary per sample. Returns the shapes and the placement (scale, centre, tilt, ground).
    """
    P = _PART
    shapes: list[tuple[int, np.ndarray]] = []
    head_r = rng.uniform(0.12, 0.17)
    head_cy = -0.5 + head_r * 1.15 + 0.03
    torso_top = head_cy + head_r * 0.95
    torso_h = rng.uniform(0.26, 0.34)
    torso_bot = torso_top + torso_h
    torso_w = rng.uniform(0.22, 0.32)
    flare = rng.uniform(-0.03, 0.08)  # dress-like or slim torso
    leg_len = 0.5 - torso_bot
    leg_thick = rng.uniform(0.07, 0.10)
    arm_thick = rng.uniform(0.06, 0.085)
    arm_len = rng.uniform(0.26, 0.34)
    hair_style = int(rng.integers(0, 3))  # 0 short, 1 long, 2 spiky
    has_hat = bool(rng.random() < 0.45)
    hat_style = int(rng.integers(0, 2))  # 0 cap, 1 pointed
    arm_angles = (np.pi - rng.uniform(-0.9, 1.2), rng.uniform(-0.9, 1.2))  # left, right: from horizontal
    leg_angles = (np.pi / 2 + rng.uniform(0.0, 0.45), np.pi / 2 - rng.uniform(0.0, 0.45))
    eye_dx = head_r * rng.uniform(0.3, 0.45)
    gaze = rng.uniform(-0.25, 0.25) * head_r  # face turned a bit left/right

    # Legs (pants) with shoes in pants colour: behind the torso.
    for side, ang in zip((-1, 1), leg_angles):
        shapes.append(
            (
                P["pants"],
                _limb(
                    side * torso_w * 0.25, torso_bot - 0.02, ang, leg_len / max(np.sin(ang), 0.5), leg_thick
                ),
            )
        )
    # Long hair hangs behind the head and shoulders.
    if hair_style == 1:
        shapes.append(
            (
                P["hair"],
                np.array(
                    [
                        [-head_r * 1.1, head_cy],
                        [head_r * 1.1, head_cy],
                        [head_r * 1.2, torso_top + torso_h * 0.45],
                        [-head_r * 1.2, torso_top + torso_h * 0.45],
                    ]
                ),
            )
        )
    # Arms: sleeve (clothes) then hand (skin) at the end.
    for side, ang in zip((-1, 1), arm_angles):
        sx, sy = side * torso_w * 0.45, torso_top + 0.04
        shapes.append((P["clothes"], _limb(sx, sy, ang, arm_len * 0.6, arm_thick)))
        shapes.append(
            (
                P["skin"],
                _limb(
                    sx + np.cos(ang) * arm_len * 0.6,
                    sy + np.sin(ang) * arm_len * 0.6,
                    ang,
                    arm_len * 0.4,
                    arm_thick * 0.8,
                ),
            )
        )
        hx, hy = sx + np.cos(ang) * arm_len, sy + np.sin(ang) * arm_len
        shapes.append((P["skin"], _ellipse(hx, hy, arm_thick * 0.7, arm_thick * 0.7, 12)))
    # Torso (clothes) and neck (skin).
    shapes.append((P["skin"], _limb(0, head_cy, np.pi / 2, torso_top - head_cy + 0.02, head_r * 0.6)))
    shapes.append(
        (
            P["clothes"],
            np.array(
                [
                    [-torso_w / 2, torso_top],
                    [torso_w / 2, torso_top],
                    [torso_w / 2 + flare, torso_bot],
                    [-torso_w / 2 - flare, torso_bot],
                ]
            ),
        )
    )
    # Head, then the hair cap over its top.
    shapes.append((P["skin"], _ellipse(0, head_cy, head_r * rng.uniform(0.85, 1.0), head_r)))
    cap_drop = head_r * rng.uniform(0.15, 0.45)  # how far the fringe comes down the forehead
    if hair_style == 2:
        n_spikes = int(rng.integers(4, 7))
        xs = np.linspace(-head_r * 1.05, head_r * 1.05, 2 * n_spikes + 1)
        ys = np.where(np.arange(xs.size) % 2 == 1, head_cy - head_r * 1.45, head_cy - head_r * 0.75)
        top = np.stack([xs, ys], axis=1)
        shapes.append(
            (
                P["hair"],
                np.concatenate(
                    [
                        top,
                        [
                            [head_r * 1.05, head_cy - cap_drop + head_r * 0.2],
                            [-head_r * 1.05, head_cy - cap_drop + head_r * 0.2],
                        ],
                    ]
                ),
            )
        )
    arc = _ellipse(0, head_cy, head_r * 1.08, head_r * 1.1, 20, np.pi, 2 * np.pi)
    shapes.append(
        (
            P["hair"],
            np.concatenate(
                [
                    arc,
                    [
                        [head_r * 1.08, head_cy - cap_drop + head_r * 0.25],
                        [-head_r * 1.08, head_cy - cap_drop + head_r * 0.25],
                    ],
                ]
            ),
        )
    )
    shapes.append(
        (P["hair"], _ellipse(0, head_cy - cap_drop, head_r * 1.0, head_r * 0.55, 20, np.pi, 2 * np.pi))
    )
    # Face: eyes and mouth.
    eye_y = head_cy + head_r * rng.uniform(0.0, 0.2)
    eye_r = head_r * rng.uniform(0.16, 0.24)
    for side in (-1, 1):
        shapes.append((P["eyes"], _ellipse(gaze + side * eye_dx, eye_y, eye_r * 0.8, eye_r, 12)))
    mouth_y = head_cy + head_r * rng.uniform(0.5, 0.65)
    mouth_w = head_r * rng.uniform(0.25, 0.45)
    if rng.random() < 0.5:  # open smile: lower half-ellipse
        shapes.append(
            (P["mouth"], _ellipse(gaze, mouth_y - mouth_w * 0.2, mouth_w, mouth_w * 0.6, 12, 0, np.pi))
        )
    else:
        shapes.append((P["mouth"], _ellipse(gaze, mouth_y, mouth_w, mouth_w * 0.35, 12)))
    if has_hat:
        brim_y = head_cy - head_r * 0.55
        if hat_style == 0:
            shapes.append((P["hat"], _ellipse(0, brim_y, head_r * 1.05, head_r * 0.75, 20, np.pi, 2 * np.pi)))
            shapes.append(
                (
                    P["hat"],
                    np.array(
                        [
                            [-head_r * 1.3, brim_y - head_r * 0.12],
                            [head_r * 1.5, brim_y - head_r * 0.12],
                            [head_r * 1.5, brim_y + head_r * 0.08],
                            [-head_r * 1.3, brim_y + head_r * 0.08],
                        ]
                    ),
                )
            )
        else:
            shapes.append(
                (
                    P["hat"],
                    np.array(
                        [
                            [-head_r * 0.95, brim_y],
                            [head_r * 0.95, brim_y],
                            [head_r * rng.uniform(-0.4, 0.4), brim_y - head_r * 1.6],
                        ]
                    ),
                )
            )
    placement = {
        "scale": rng.uniform(0.5, 0.9),  # character height as a fraction of the image
        "tilt": rng.uniform(-0.3, 0.3),  # radians
        "mirror": bool(rng.random() < 0.5),
        "ground": bool(rng.random() < 0.7),
    }
    s = placement["scale"]
    placement["cx"] = rng.uniform(s * 0.35, 1 - s * 0.35)
    placement["feet"] = (
        rng.uniform(max(0.5 + s * 0.5, 0.72), 0.97)
        if placement["ground"]
        else rng.uniform(0.5 + s * 0.5, 1.0)
    )
    placement["ground_y"] = placement["feet"] - rng.uniform(0.0, 0.06)
    placement["ground_wave"] = (rng.uniform(0.0, 0.03), rng.uniform(1.0, 3.0), rng.uniform(0, 2 * np.pi))
    return shapes, placement


def _toon_colors(rng: np.random.Generator) -> np.ndarray:
    """[n_parts, 3] uint8: one palette colour per part."""
    return np.array(
        [TOON_PALETTES[p][int(rng.integers(len(TOON_PALETTES[p])))] for p in TOON_PARTS], dtype=np.uint8
    )


def render_toon(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels at 2·size [2S,2S] int16, part colours [n_parts,3] uint8) of one character drawn from `rng`."""
    shapes, pl = _toon_shapes(rng)
    colors = _toon_colors(rng)
    hi = 2 * size
    labels = np.zeros((hi, hi), dtype=np.int16)
    if pl["ground"]:
        amp, freq, phase = pl["ground_wave"]
        x = np.linspace(0, 1, 33)
        top = pl["ground_y"] + amp * np.sin(2 * np.pi * freq * x + phase)
        poly = np.concatenate([np.stack([x, top], 1), [[1, 1.01], [0, 1.01]]]) * hi
        rr, cc = draw_polygon(poly[:, 1], poly[:, 0], labels.shape)
        labels[rr, cc] = _PART["ground"]
    # Character units (height 1, feet at y = 0.5) → image pixels: mirror, tilt about the feet, scale, place.
    cos, sin = np.cos(pl["tilt"]), np.sin(pl["tilt"])
    k = pl["scale"] * hi
    for label, pts in shapes:
        x = -pts[:, 0] if pl["mirror"] else pts[:, 0]
        y = pts[:, 1] - 0.5
        xr, yr = cos * x - sin * y, sin * x + cos * y
        rr, cc = draw_polygon(pl["feet"] * hi + yr * k, pl["cx"] * hi + xr * k, labels.shape)
        labels[rr, cc] = label
    return labels, colors
