"""Small timing helpers shared by the benchmarks."""

from __future__ import annotations

import time

import numpy as np


def best_of(fn, repeats: int = 5, warmup: int = 1, min_time: float = 0.0) -> float:
    """Best wall time of `fn()` in seconds over `repeats` runs (after `warmup` runs)."""
    for _ in range(warmup):
        fn()
    times = []
    t_end = time.perf_counter() + min_time
    while len(times) < repeats or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def best_of_interleaved(fns: dict, rounds: int = 5, warmup: int = 1) -> dict:
    """Best wall time (s) of each of several functions, run in turns so that a burst of load from
    elsewhere on the machine hits every variant alike rather than whichever ran during it."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def percentiles(values_ms, ps=(50, 95, 99)) -> dict:
    if len(values_ms) == 0:
        return {f"p{p}": None for p in ps}
    a = np.asarray(values_ms, dtype=np.float64)
    return {f"p{p}": round(float(np.percentile(a, p)), 2) for p in ps}
