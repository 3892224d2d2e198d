"""Reads for the performance charts."""

from datetime import date
from decimal import Decimal

import pytest

from metrics.selectors import prompt_performance_series
from metrics.services import rollup_prompt_metrics
from metrics.tests.helpers import at, make_version, prompt_call

pytestmark = pytest.mark.django_db


def test_performance_series_compares_the_versions_of_one_prompt_day_by_day():
    v1, v2 = make_version(1), make_version(2)
    other = make_version(1, name="another_prompt")
    days = [date(2026, 5, 1), date(2026, 5, 2)]
    for day in days:
        prompt_call(v1, at(day), success=True, cost="0.002")
        prompt_call(v1, at(day), success=False, needs_review=True, cost="0.004")
        prompt_call(other, at(day))
    prompt_call(v2, at(days[1]), execution_time_ms=700, confidence=0.5)
    for day in days:
        rollup_prompt_metrics(day=day)

    series = prompt_performance_series(task_type="validation", name="metrics_probe", first_day=days[1])

    assert list(series) == [1, 2]
    first = series[1][0]
    assert (first["date"], first["calls"], first["success_rate"], first["review_rate"]) == (days[1], 2, 0.5, 0.5)
    assert first["cost_per_call_usd"] == Decimal("0.003")
    assert (series[2][0]["p95_ms"], series[2][0]["avg_confidence"]) == (700, 0.5)
