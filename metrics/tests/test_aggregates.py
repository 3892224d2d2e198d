"""Percentile and exact decimal sum run in the database and match references computed in Python."""

import random
import statistics
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Q

from metrics.aggregates import ExactDecimalSum, Percentile, percentile_cont
from metrics.models import PromptPerformanceMetrics
from metrics.tests.helpers import at, make_version, prompt_call

pytestmark = pytest.mark.django_db

DAY = date(2026, 6, 10)


def reference_p95(values):
    """Linear interpolation between closest ranks, the definition percentile_cont uses."""
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def test_python_percentile_matches_the_statistics_module():
    values = [random.Random(seed).randint(1, 10_000) for seed in range(101)]
    assert percentile_cont(values, 0.95) == pytest.approx(reference_p95(values))
    assert percentile_cont([42], 0.95) == 42
    assert percentile_cont([], 0.95) is None


def test_p95_per_group_equals_the_python_reference():
    rng = random.Random(7)
    versions = [make_version(n) for n in (1, 2, 3)]
    expected = {}
    for version, size in zip(versions, (1, 2, 157), strict=True):
        times = [rng.randint(50, 5000) for _ in range(size)]
        expected[version.pk] = reference_p95(times)
        for ms in times:
            prompt_call(version, at(DAY, hour=rng.randint(0, 23)), execution_time_ms=ms)
    result = dict(
        PromptPerformanceMetrics.objects.values("prompt_version")
        .annotate(p95=Percentile("execution_time_ms", 0.95))
        .values_list("prompt_version", "p95")
    )
    assert result == pytest.approx(expected)


def test_p95_with_a_filter_uses_only_the_matching_rows():
    version = make_version()
    for ms, success in [(10, True), (20, True), (30, True), (10_000, False)]:
        prompt_call(version, at(DAY), execution_time_ms=ms, success=success)
    successful_p95 = Percentile("execution_time_ms", 0.95, filter=Q(success=True))
    result = PromptPerformanceMetrics.objects.aggregate(p95=successful_p95)
    assert result["p95"] == pytest.approx(reference_p95([10, 20, 30]))


def test_p95_of_no_rows_is_none():
    assert PromptPerformanceMetrics.objects.aggregate(p95=Percentile("execution_time_ms", 0.95))["p95"] is None


def test_a_fraction_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError):
        Percentile("execution_time_ms", 95)


def test_decimal_sum_is_exact_to_the_last_place():
    version = make_version()
    costs = ["0.00000001", "0.10000001", "12.34567891", "0.00012345"] * 50
    for cost in costs:
        prompt_call(version, at(DAY), cost=cost)
    total = PromptPerformanceMetrics.objects.aggregate(total=ExactDecimalSum("cost_usd", decimal_places=8))["total"]
    assert total == sum(Decimal(cost) for cost in costs)
