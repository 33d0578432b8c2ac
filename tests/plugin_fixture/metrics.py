"""A third-party metric, registered the way a plugin package would: `@register_metric` in a module that a
`colorbench.metrics` entry point names (colorbench_test_metrics-0.1.dist-info beside this file)."""

from __future__ import annotations

import torch

from colorbench.metrics.registry import register_metric


@register_metric("meanabs", higher_is_better=False, headers=("MAE",), description="mean |pred − gt|, 8-bit units")
def meanabs(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference [B] float64 of uint8 [B,3,H,W] images, 0..255."""
    return (pred.double() - gt.double()).abs().flatten(1).mean(dim=1)
