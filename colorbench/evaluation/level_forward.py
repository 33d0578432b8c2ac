"""The forward of stacked hint rows (level-major: row r is image r mod B): the model on chunks of exactly
forward_rows rows, a chunk that repeats the one before it copied, outputs turned into 8 bits and scored."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch

from colorbench.api import Hints
from colorbench.evaluation.forward import fixed_rows
from colorbench.metrics.psnr import to_uint8

# Regions per row range: the B per-image tensors (sliced per chunk), a function (start, stop) → those rows'
# regions, or None.
Regions = torch.Tensor | Callable[[int, int], torch.Tensor] | None

_BLOCK = 1 << 17  # values per metric call: keeps the float64 temporaries in cache — one 32-image call at 128 px
                  # took 14× longer than the same work in blocks of 2 images (benchmarks/README.md)


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal values and equal signs of zero (torch.equal alone takes -0.0 for 0.0)."""
    return torch.equal(a, b) and torch.equal(torch.signbit(a), torch.signbit(b))


def _spare_core(device: torch.device) -> bool:
    """True when torch's CPU forwards use fewer threads than this process may run on (a core is idle)."""
    if device.type != "cpu":
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return torch.get_num_threads() < cores


def _run_now(fn: Callable[..., Any], *args: Any) -> Future:
    """fn(*args) run at once, as a completed Future (the inline stand-in for a worker's submit)."""
    future: Future = Future()
    try:
        future.set_result(fn(*args))
    except BaseException as exc:  # noqa: BLE001 — re-raised by future.result(), as a worker's would be
        future.set_exception(exc)
    return future


def tiled_rows(per_image: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Rows start..stop-1 of `per_image` [B,...] tiled level-major (row r = image r mod B), without tiling:
    a view when the rows are consecutive images, else one small gather."""
    b = per_image.shape[0]
    first = start % b
    if first + (stop - start) <= b:
        return per_image[first : first + stop - start]
    return per_image[torch.arange(start, stop, device=per_image.device) % b]


def _per_image(fn: Callable[..., torch.Tensor], *tensors: torch.Tensor) -> torch.Tensor:
    """fn(*tensors) → [B] for a per-image fn, computed over blocks of images (results are identical)."""
    n = tensors[0].shape[0]
    k = max(1, _BLOCK // max(1, tensors[0][0].numel()))
    if k >= n:
        return fn(*tensors)
    return torch.cat([fn(*(t[s : s + k] for t in tensors)) for s in range(0, n, k)])


def repeated_chunks(hints: Hints, rows: int, reusable: bool) -> list[bool]:
    """Per chunk of `rows` rows: True when it is full and its hints repeat, bit for bit, the chunk before it."""
    n = hints.color.shape[0]
    return [reusable and s >= rows and s + rows <= n
            and same_bits(hints.color[s : s + rows], hints.color[s - rows : s])
            and same_bits(hints.mask[s : s + rows], hints.mask[s - rows : s]) for s in range(0, n, rows)]


class RowResults:
    """The uint8 outputs [N,3,H,W] and per-row metrics [N,K] float64 (None without a metric) of N hint rows,
    filled chunk by chunk. `finish` and `copy` may run in a worker thread; `out` is allocated by the caller's
    thread at the first chunk, `metrics` by `finish` once the metric's width is known — read either only
    after the last `finish` / `copy` has completed."""

    def __init__(self, hints: Hints, rows: int, metric: Callable[..., torch.Tensor] | None,
                 refs: tuple[torch.Tensor, ...], check: Callable[[torch.Tensor], None]) -> None:
        self.hints, self.rows, self.metric, self.refs, self.check = hints, rows, metric, refs, check
        self.n = hints.color.shape[0]
        self.out: torch.Tensor | None = None
        self.metrics: torch.Tensor | None = None

    def allocate(self, y: torch.Tensor) -> None:
        if self.out is None:
            self.out = torch.empty((self.n, *y.shape[1:]), dtype=torch.uint8, device=y.device)

    @torch.inference_mode()  # thread-local: a worker thread needs its own
    def finish(self, y: torch.Tensor, s: int, e: int) -> None:
        """Rows s:e from the model's float outputs `y` [e-s,3,H,W]: checked, in 8 bits, scored."""
        assert self.out is not None
        self.check(y)
        # Converted in cache-sized blocks (5× faster at 128 px); element-wise, so the same bytes.
        k = max(1, _BLOCK // max(1, y[0].numel()))
        for i in range(0, e - s, k):
            self.out[s + i : s + min(i + k, e - s)] = to_uint8(y[i : i + k])
        if self.metric is not None:
            h = self.hints
            values = _per_image(self.metric, self.out[s:e], h.color[s:e], h.mask[s:e],
                                *(tiled_rows(r, s, e) for r in self.refs))
            if self.metrics is None:
                self.metrics = torch.empty((self.n, values.shape[1]), dtype=torch.float64, device=values.device)
            self.metrics[s:e] = values

    @torch.inference_mode()
    def copy(self, prev: Future, s: int, e: int) -> None:
        """Rows s:e repeat the chunk before them: its outputs and metrics, once `prev` has written them."""
        assert self.out is not None
        prev.result()  # re-raises the earlier chunk's error (a NaN output) instead of copying past it
        self.out[s:e] = self.out[s - self.rows : e - self.rows]
        if self.metrics is not None:
            self.metrics[s:e] = self.metrics[s - self.rows : e - self.rows]


def _chunk_regions(hints: Hints, regions: Regions, s: int, e: int) -> torch.Tensor | None:
    if hints.regions is not None:
        return hints.regions[s:e]
    if callable(regions):
        return regions(s, e)
    return None if regions is None else tiled_rows(regions, s, e)


def forward_rows(colorize: Callable[..., torch.Tensor], sketch: torch.Tensor, regions: Regions,
                 results: RowResults,
                 autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext) -> None:
    """Fill `results` (its N = len(hints.color) rows) with colorize(sketch, hints, regions) over chunks of exactly
    results.rows rows. `sketch` [B,1,H,W] and `regions` hold the B images the rows cycle over.

    Never computed twice: a full chunk whose hints repeat, bit for bit, those one chunk earlier (same images at
    the same positions, since the chunk size is a multiple of B) has identical inputs, so it is copied. Region
    models hit this at every level past their last non-empty region (zoo v2's GuidingPainter fills about 5 of
    its 30 regions per toon image, so most of the 31 levels are copies).

    When the model leaves a CPU core idle (`_spare_core`), everything but the model call runs in one worker
    thread, a chunk behind the model: the repeat check, the NaN check, the uint8 conversion and the metrics of
    chunk k overlap the forward of chunk k + 1 (torch releases the GIL in its kernels). Otherwise it runs inline:
    a second thread's torch ops would compete with the model's own threads (12.8 → 14.4 s for `colorbench run
    --models all --limit 64` on 2 cores at 2 threads). Values never depend on it: rows are independent.
    """
    hints, rows, n = results.hints, results.rows, results.n
    reusable = hints.regions is None and not callable(regions) and rows % sketch.shape[0] == 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="colorbench-outputs") as pool:
        submit = pool.submit if _spare_core(sketch.device) else _run_now
        repeat = submit(repeated_chunks, hints, rows, reusable)
        behind: Future | None = None  # the previous chunk's `finish` or `copy`
        for ci, s in enumerate(range(0, n, rows)):
            e = min(n, s + rows)
            if behind is not None and repeat.result()[ci]:
                # Queued behind the previous chunk's `finish` (one worker, FIFO) rather than waited for here:
                # waiting would idle the model once per repeat (0.1 s a chunk at 128 px).
                behind = submit(results.copy, behind, s, e)
                continue
            with autocast():
                y = fixed_rows(colorize, rows, tiled_rows(sketch, s, e), hints.color[s:e], hints.mask[s:e],
                               _chunk_regions(hints, regions, s, e))
            results.allocate(y)
            if behind is not None:
                behind.result()  # one chunk in flight: an error surfaces at once, memory stays bounded
            behind = submit(results.finish, y, s, e)
        if behind is not None:
            behind.result()
