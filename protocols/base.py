"""What a protocol is: a named computation over a run's records (never over models).

A protocol declares which record modes it needs (the engine's evaluation plan is their union), turns
records (+ cached Inception features) into a JSON-able result, and names the tables reports render from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from colorbench.evaluation.records import FeatureStore, load_samples
from colorbench.hint_counts import BoundedGeometric


@dataclass
class ProtocolContext:
    """Everything a protocol may read. `run` is the parsed run.json of the run directory."""

    run_dir: Path
    run: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)  # CLI options: nri_threshold, compare, seed …

    @property
    def law(self) -> BoundedGeometric:
        """The hint-count law G of the run (Eq. 3), from run.json "protocol"."""
        p = self.run["protocol"]
        return BoundedGeometric(nc=int(p["nc"]), p=float(p["p"]))

    @property
    def dataset(self) -> dict[str, Any]:
        return self.run["dataset"]

    @property
    def variants(self) -> dict[str, dict[str, Any]]:
        """variant → {"model", "display_name", "hint_kind", "conditional", "labels", "checkpoint", ...}."""
        return self.run["variants"]

    @property
    def nri_threshold(self) -> float:
        return float(self.options.get("nri_threshold") or self.dataset["nri_threshold"])

    @property
    def fid(self) -> dict[str, Any]:
        """{"available": bool, "reason": str|None, "weights_sha256": str|None, "standard": bool}."""
        return self.run.get("fid", {"available": False, "reason": "FID was not requested"})

    def features(self, variant: str) -> FeatureStore | None:
        path = self.run_dir / "features" / f"{variant}.npz"
        return FeatureStore.load(path) if path.exists() else None

    def samples(self, variant: str) -> dict[str, np.ndarray] | None:
        path = self.run_dir / "samples" / f"{variant}.npz"
        return load_samples(path) if path.exists() else None


# A table builder: (this protocol's result, resolved report options) → a colorbench.reports.tables.TableSpec,
# a list of them, or None (nothing to show). Given as the function or as "module:function": protocols sit
# below reports, so the built-in ones name their builders in colorbench.reports.table_specs by reference.
TableBuilder = Callable[[Any, Any], Any] | str


class Protocol:
    """Subclass, set `name` and `modes`, implement `compute`; list `tables` to have reports render them."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    modes: ClassVar[tuple[str, ...]] = ("native",)  # record modes the engine must produce for this
    needs_fid: ClassVar[bool] = False
    tables: ClassVar[tuple[TableBuilder, ...]] = ()  # written to tables/<spec.name>.md|tex|csv and report.md
    table_order: ClassVar[int] = 100  # report.md lists tables by (table_order, protocol name)

    def compute(self, records: pd.DataFrame, ctx: ProtocolContext) -> dict[str, Any]:
        raise NotImplementedError
