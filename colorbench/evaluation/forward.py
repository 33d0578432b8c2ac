"""Model calls on a fixed number of rows, so that float32 results do not depend on how work was batched.

oneDNN picks its convolution kernel by batch size (and thread count): on this CPU a trained U-Net's outputs
differ by up to ~1e-6 between a batch of 1, of 2-8 and of 16+ rows with one thread — enough to move an output
pixel across an 8-bit level and a PSNR by ~1e-6 dB. A row's result does not depend on the *other* rows of a
batch of fixed size, so every call here sees exactly `rows` rows (the last chunk padded with copies of its
last row): records then do not depend on --batch-size, the image count or the shard a process gets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch


def pad_rows(t: torch.Tensor | None, rows: int) -> torch.Tensor | None:
    """[N,...] → [rows,...] with copies of the last row appended (N <= rows; None stays None)."""
    if t is None or t.shape[0] == rows:
        return t
    return torch.cat([t, t[-1:].expand(rows - t.shape[0], *t.shape[1:])])


def fixed_rows(fn: Callable[..., Any], rows: int, *tensors: torch.Tensor | None) -> Any:
    """fn(*tensors) for [N,...] tensors (None allowed), called on chunks of exactly `rows` rows.

    fn must treat rows independently (eval-mode networks do) and return a tensor or array whose first axis
    is the rows; the result has N rows, in order.
    """
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    n = next(t for t in tensors if t is not None).shape[0]
    parts = []
    for s in range(0, n, rows):
        e = min(n, s + rows)
        chunk = [None if t is None else t[s:e] for t in tensors]
        parts.append(fn(*(pad_rows(t, rows) for t in chunk))[: e - s])
    if len(parts) == 1:
        return parts[0]
    return torch.cat(parts) if isinstance(parts[0], torch.Tensor) else np.concatenate(parts)
