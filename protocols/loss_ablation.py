"""Table 3 (paper §4.6): GuidingPainter checkpoints trained with loss sets (a) L_rec, (b) +L_adv, (c) +L_tv,
(d) +L_smth, each evaluated like Table 1's conditional block (E_G[PSNR], FID under G, NRI).

Checkpoints are told apart by their tag: `--checkpoint ours@rec=… --checkpoint ours@rec+adv=…`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from colorbench.protocols.base import Protocol, ProtocolContext
from colorbench.protocols.cells import conditional_cells
from colorbench.protocols.levels import variants_present
from colorbench.protocols.options import resolve_options
from colorbench.protocols.paper_rows import TABLE3, requested_dataset, table3_rows
from colorbench.protocols.selection import (
    LOSS_TERMS,
    display_name,
    is_conditional,
    loss_set,
    ordered_variants,
    variant_tag,
)

PAPER_SETS = {losses: label for label, losses, _ in TABLE3}  # ('rec',) → "(a)" …


class LossAblation(Protocol):
    name = "loss_ablation"
    title = "Table 3: loss ablation (E over Nh ~ G)"
    modes = ("native",)
    tables = ("colorbench.reports.table_specs:table3_spec",)
    table_order = 20

    def compute(self, records: pd.DataFrame, ctx: ProtocolContext) -> dict[str, Any]:
        opts = resolve_options(ctx.options)
        tagged = []
        present = variants_present(records)
        for v in ordered_variants(ctx.variants):
            losses = loss_set(variant_tag(v, ctx.variants[v]))
            if losses is not None and is_conditional(ctx.variants[v]) and v in present:
                tagged.append((v, losses))
        paper_key = requested_dataset(opts["paper_rows"], str(ctx.dataset.get("name", "")))
        base = {
            "dataset": ctx.dataset.get("name"),
            "terms": list(LOSS_TERMS),
            "nri_threshold": ctx.nri_threshold,
            "paper_dataset": paper_key,
            "paper_rows": table3_rows(paper_key) if paper_key else [],
        }
        if not tagged:
            return base | {
                "rows": [],
                "skipped": (
                    "no variant is tagged with a loss set; evaluate ablation checkpoints with "
                    "--checkpoint ours@rec=PATH --checkpoint ours@rec+adv=PATH …"
                ),
            }
        # Paper rows (a)-(d) first in their order, other combinations after, by number of terms.
        order = list(PAPER_SETS)
        tagged.sort(key=lambda t: (order.index(t[1]) if t[1] in PAPER_SETS else len(order), len(t[1]), t[0]))
        rows = []
        for v, losses in tagged:
            rows.append(
                {
                    "variant": v,
                    "name": display_name(v, ctx.variants[v]),
                    "label": PAPER_SETS.get(losses, "+".join(losses)),
                    "losses": list(losses),
                    **conditional_cells(records, ctx, v, opts),
                }
            )
        return base | {"rows": rows}
