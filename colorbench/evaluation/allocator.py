"""Process-wide allocator policy of `colorbench run`: keep freed memory for reuse, so repeated forwards do not
page-fault their activations back in every time (training does not set it: it measured no gain there).
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters (malloc.h)
_RETAINING: list[bool] = []  # set once per process


def retain_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed blocks for reuse instead of handing them back to the kernel.

    Every forward allocates and frees the same 10-100 MB of activations; given back (large blocks are
    mmap'd, the heap top is trimmed), each reuse page-faults them in again. `benchmarks/allocator.py`
    (fresh processes with and without this, 2026-12-06, 2 shared cores, one torch thread, median of 3-5 pairs)
    measured: evaluation of ours + rtug on 32 toon images at 64 px 235 k → 41 k minor faults and 5-12 % less
    time; GuidingPainter training steps at 64 px about 1 % (within the noise). Peak memory is unchanged; the
    process just keeps it until exit. Linux/glibc only; returns whether it applies.
    """
    if not _RETAINING:
        ok = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL("libc.so.6")
                # 1 GiB where glibc allows it (≥ 2.35), else its documented 64-bit maximum of 32 MiB.
                ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30) or libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20))
                ok = ok and bool(libc.mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1))
            except (OSError, AttributeError):  # not glibc (musl, …): keep its defaults
                ok = False
        _RETAINING.append(ok)
    return _RETAINING[0]
