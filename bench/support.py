"""Shared helpers for benchmarks: a throw-away database and a median timer."""

import contextlib
import statistics
import time

from django.test.utils import setup_databases, teardown_databases


@contextlib.contextmanager
def throwaway_database():
    """A fresh, migrated test database (in-memory SQLite, or test_<name> on PostgreSQL), dropped afterwards."""
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        yield
    finally:
        teardown_databases(old_config, verbosity=0)


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
