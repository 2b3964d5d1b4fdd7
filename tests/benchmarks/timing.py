"""Shared timing helper for benchmarks: best-of-N median per call, in microseconds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def per_call_us(fn: Callable[[], object], *, number: int = 2000, repeat: int = 7) -> float:
    """Median over `repeat` runs of the mean time of one call of `fn`, in µs."""
    fn()  # warm caches
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(runs)
