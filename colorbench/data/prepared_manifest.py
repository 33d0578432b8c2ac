"""The manifest.json of a prepared dataset: how it was made (resize, sketches, split rule, NRI threshold,
versions), its images and skipped files, and what the walk of the source folder saw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colorbench.data.folder import DEFAULT_NRI_THRESHOLD, KNOWN_THRESHOLDS, MANIFEST_FORMAT
from colorbench.data.walk import Walk, printable
from colorbench.data.xdog import EPSILON, KAPPA, SIGMAS, TAU


def build_manifest(
    key: str,
    src: Path,
    size: int,
    sketch_dir: Path | None,
    seed: int,
    nri_threshold: float | None,
    counts: dict[str, int],
    images: dict[str, dict[str, Any]],
    skipped: list[tuple[str, str]],
    xdog_params: dict[str, float] | None = None,
) -> dict[str, Any]:
    """manifest.json of dataset `key` as prepared from `src` (without the sections `prepare_dataset` adds after:
    duplicates, walk, input, sketch_quality)."""
    import PIL

    from colorbench.versions import versions

    threshold = KNOWN_THRESHOLDS.get(key, nri_threshold if nri_threshold is not None else DEFAULT_NRI_THRESHOLD)
    if key in KNOWN_THRESHOLDS:
        note = "paper's threshold for this dataset (Table 1)"
    elif nri_threshold is not None:
        note = "given with --nri-threshold"
    else:
        note = "default (yumi's value), not calibrated for this data: pass --nri-threshold to set one"
    sketch: dict[str, Any] = (
        {"method": "xdog", "spec": "docs/protocol.md E1.3", "sigmas": list(SIGMAS), "kappa": KAPPA, "tau": TAU,
         "epsilon": EPSILON, "gray": "BT.601 on [0,1] float32", "blur": "OpenCV-equivalent Gaussian, REFLECT_101"}
        if sketch_dir is None
        else {"method": "given", "dir": printable(sketch_dir.resolve()), "gray": "BT.601, resized like the colour"}
    )  # fmt: skip
    if sketch_dir is None and xdog_params:  # --xdog-*: E1.3 with these values instead
        sketch |= {"spec": "docs/protocol.md E1.3 with " + ", ".join(f"{k}={v}" for k, v in sorted(xdog_params.items())),
                   **{k: v for k, v in xdog_params.items() if k != "sigma"}}
        if "sigma" in xdog_params:
            sketch["sigmas"] = [xdog_params["sigma"]]
    return {
        "format": MANIFEST_FORMAT,
        "name": key,
        "size": size,
        "source": {"dir": printable(src.resolve())},
        "resize": "Pillow BOX (area) on shrinking axes, BILINEAR on growing ones; aspect ratio not kept (E1.1)",
        "sketch": sketch,
        "split": {"rule": "sha256('colorbench|split|NAME|id') ascending; floor(.81N) train, floor(.09N) val, "
                  "rest test (E1.2); images with identical content (\"duplicates\") all take the split of the "
                  "first-ranked of them", "seed": seed, "counts": counts},
        "nri_threshold": threshold,
        "nri_threshold_note": note,
        "versions": {**versions(), "pillow": PIL.__version__},
        "images": images,
        "skipped": [{"path": p, "reason": r} for p, r in skipped],
    }


def walk_section(seen: Walk) -> dict[str, Any]:
    """The manifest's account of the source folder: hidden entries, folder links followed and not followed."""
    return {
        "entries_seen": seen.n_seen,
        "hidden": [printable(p) for p in seen.hidden],
        "linked_folders": [{"link": printable(a), "target": printable(b)} for a, b in seen.linked],
        "links_not_read_again": [{"link": printable(a), "target": printable(b)} for a, b in seen.repeated],
    }
