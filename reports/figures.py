"""Paper-style plots from protocol results: Fig. 12 (PSNR and FID against the number of hints, one column
per dataset) and Fig. 5 (PSNR when only the i-th guided region is hinted). matplotlib Agg, no pyplot state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from colorbench.atomic import atomic_write

# One colour per model in every figure (paper-ish: ours red, RTUG blue, AlacGAN green).
MODEL_COLORS = {
    "guidingpainter": "#d62728",
    "rtug": "#1f77b4",
    "alacgan": "#2ca02c",
    "pix2pix": "#ff7f0e",
    "cic": "#9467bd",
}
EXTRA_COLORS = ["#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
PNG_META = {"Software": None}  # no library version in the file: re-rendering gives identical bytes
# zlib level 1 instead of 6: encoding is ~2× faster for 1.2-1.7× the bytes (report rendering is on the clock).
PNG_COMPRESS = {"compress_level": 1}


def variant_colors(models: Sequence[str | None]) -> list[str]:
    """One colour per line: a model's first line gets its fixed colour, further checkpoints of the same
    model (ours@rec, …) and unknown models get the extra colours in turn, so no two lines share one."""
    out, used, extra = [], set(), 0
    for model in models:
        color = MODEL_COLORS.get(str(model))
        if color is None or color in used:
            color = EXTRA_COLORS[extra % len(EXTRA_COLORS)]
            extra += 1
        used.add(color)
        out.append(color)
    return out


def save(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write a figure as PNG (parents created), atomically: a run killed mid-report leaves no truncated figure."""
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, metadata=PNG_META,
                                               pil_kwargs=dict(PNG_COMPRESS)))
    return path


def fig12_hint_sweep(columns: Sequence[tuple[str, Mapping[str, Any]]], path: str | Path) -> Path:
    """Fig. 12: row 1 PSNR↑, row 2 FID↓ against n; one column per (dataset, hint_sweep result).

    Conditional models are lines with markers (PSNR with its bootstrap band); automatic ones are dashed
    horizontal lines at their n = 0 value, as the paper draws them. Without any FID value the FID row
    would be empty panels: only the PSNR row is drawn and the reason goes under its axis (and the
    figure renders in half the time).
    """
    if not columns:
        raise ValueError("fig12_hint_sweep needs at least one (dataset, hint_sweep result)")
    has_fid = any(c.get("value") is not None for _, r in columns for v in r["variants"].values() for c in v["fid"])
    fig = Figure(figsize=(4.2 * len(columns), 6.4 if has_fid else 3.9), layout="constrained")
    axes = fig.subplots(2 if has_fid else 1, len(columns), squeeze=False)
    handles: dict[str, Any] = {}
    for col, (dataset, result) in enumerate(columns):
        levels = list(result["sweep"])
        ax_p = axes[0][col]
        ax_f = axes[1][col] if has_fid else None
        any_fid = False
        colors = variant_colors([v.get("model") for v in result["variants"].values()])
        for v, color in zip(result["variants"].values(), colors):
            psnr = np.array([c["value"] for c in v["psnr"]], dtype=float)
            fid = np.array([np.nan if c["value"] is None else c["value"] for c in v["fid"]], dtype=float)
            style = {"color": color, "label": v["name"]}
            if v["constant"]:
                handles.setdefault(v["name"], ax_p.axhline(psnr[0], ls="--", lw=1.4, **style))
                if ax_f is not None and np.isfinite(fid[0]):
                    ax_f.axhline(fid[0], ls="--", lw=1.4, **style)
            else:
                lo = np.array([c["low"] for c in v["psnr"]], dtype=float)
                hi = np.array([c["high"] for c in v["psnr"]], dtype=float)
                handles.setdefault(v["name"], ax_p.plot(levels, psnr, marker="o", lw=1.8, **style)[0])
                ax_p.fill_between(levels, lo, hi, color=color, alpha=0.15, lw=0)
                if ax_f is not None and np.isfinite(fid).any():
                    ax_f.plot(levels, fid, marker="s", lw=1.8, **style)
            any_fid |= bool(np.isfinite(fid).any())
        ax_p.set_title(str(dataset), fontsize=12)
        ax_p.set_ylabel("PSNR (dB) ↑")
        counts = sorted(
            {c["n"] for v in result["variants"].values() for c in v["fid"] if c.get("value") is not None}
        )
        for ax in (ax_p, ax_f) if ax_f is not None else (ax_p,):
            ax.set_xticks(levels)
            ax.grid(alpha=0.3)
        reason = next(
            (c.get("reason") for v in result["variants"].values() for c in v["fid"] if c.get("reason")),
            "not computed",
        )
        # The full reason (with paths) is in the table notes and results.json; a figure gets its gist.
        reason = reason.split(":")[0].strip() + " (see results.json)"
        if ax_f is None:
            ax_p.set_xlabel("number of hints n\n" + _wrap(f"(FID n/a: {reason})", 56), fontsize=9)
            continue
        ax_f.set_ylabel("FID ↓" + (f"  (N = {counts[0]})" if len(counts) == 1 else ""))
        ax_f.set_xlabel("number of hints n")
        if not any_fid:
            ax_f.text(
                0.5,
                0.5,
                _wrap(f"FID n/a: {reason}", 48),
                ha="center",
                va="center",
                transform=ax_f.transAxes,
                fontsize=8,
                color="#555555",
            )
            ax_f.set_yticks([])
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="outside lower center",
        ncol=max(1, min(len(handles), 3 * len(columns))),
        fontsize=9,
        frameon=False,
    )
    return save(fig, path)


def fig5_segment_ablation(result: Mapping[str, Any], path: str | Path, dataset: str | None = None) -> Path:
    """Fig. 5: PSNR when only region S_i (moved to the front) is hinted, against i, with its bootstrap band;
    below, the fraction of images whose S_i is empty (they get no hint at all)."""
    variants = result.get("variants") or {}
    if not variants:
        raise ValueError("segment ablation result has no variants to plot")
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    ax, ax_e = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    colors = variant_colors([v.get("model", name.split("@")[0]) for name, v in variants.items()])
    for k, ((name, v), color) in enumerate(zip(variants.items(), colors)):
        i = np.asarray(v["i"], dtype=float)
        ax.plot(i, v["psnr"], marker="o", ms=3.5, lw=1.6, color=color, label=v.get("name", name))
        if v.get("ci_low") is not None and v.get("ci_high") is not None:
            ax.fill_between(i, v["ci_low"], v["ci_high"], color=color, alpha=0.18, lw=0)
        if v.get("empty_frac") is not None:
            width = 0.8 / len(variants)
            ax_e.bar(
                i + (k - (len(variants) - 1) / 2) * width,
                v["empty_frac"],
                width=width,
                color=color,
                alpha=0.7,
            )
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"PSNR with a hint only at region S_i{f' — {dataset}' if dataset else ''}", fontsize=11)
    ax.grid(alpha=0.3)
    if len(variants) > 1:
        ax.legend(fontsize=8)
    ax_e.set_ylabel("empty S_i")
    ax_e.set_ylim(0, 1)
    ax_e.set_xlabel("region index i (priority order)")
    ax_e.grid(alpha=0.3)
    return save(fig, path)


def _wrap(text: str, width: int) -> str:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if len(cur) + len(w) + 1 > width and cur:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    return "\n".join(lines + [cur])
