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


def median_request_seconds(client, url, *, repeat):
    """(median time of `repeat` GETs of `url` after a warm-up GET that must answer 200, that response)."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return median_seconds(lambda: client.get(url), repeat=repeat, warmup=0), response
