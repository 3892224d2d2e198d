"""Timing helpers for the benchmarks."""

import statistics
import time


def median_seconds(function, *, repeat, warmup=50):
    """Median wall time of one call of `function`, over `repeat` calls after `warmup` calls."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)
