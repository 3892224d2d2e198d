"""The performance page's numbers: per-version totals, weighted means, today so far, markers, empty ranges."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from dashboard import pages, ranges
from dashboard.charts import chart_tables
from dashboard.tests.conftest import daily, days_ago
from metrics.collector import MetricsCollector
from metrics.days import day_bounds
from prompts.models import PromptActivation, PromptRollout
from prompts.services import MONITOR, prompt_activate, rollout_promote, rollout_roll_back, rollout_start

pytestmark = pytest.mark.django_db


def performance(today, days=7, last=None):
    day_range = ranges.day_range(today=today, days=days, last=last)
    return pages.prompt_performance(task_type="classification", name="email_intent", day_range=day_range)


def comparison_of(result, version):
    return next(row["figures"] for row in result["comparison"] if row["version"].version == version)


def test_rates_over_the_range_are_ratios_of_the_summed_counts_not_means_of_daily_rates(intent_v1, today):
    daily(intent_v1, days_ago(today, 1), calls=10, successes=10, reviews=0)
    daily(intent_v1, days_ago(today, 2), calls=90, successes=45, reviews=30)
    figures = comparison_of(performance(today), 1)
    assert figures.call_count == 100
    assert figures.success_rate == 0.55  # (10 + 45) / 100, not the mean of 100 % and 50 %
    assert figures.review_rate == 0.30


def test_cost_per_call_is_an_exact_decimal_division_of_the_total_cost(intent_v1, today):
    daily(intent_v1, days_ago(today, 1), calls=3, cost="0.00000001")
    daily(intent_v1, days_ago(today, 2), calls=4, cost="0.10000000")
    figures = comparison_of(performance(today), 1)
    assert figures.total_cost_usd == Decimal("0.10000001")
    assert figures.cost_per_call_usd == Decimal("0.10000001") / 7
    assert isinstance(figures.cost_per_call_usd, Decimal)


def test_p95_and_confidence_over_the_range_are_call_weighted_means_of_the_daily_values(intent_v1, today):
    daily(intent_v1, days_ago(today, 1), calls=1, confidence=0.5, p95=4000.0)
    daily(intent_v1, days_ago(today, 2), calls=3, confidence=0.9, p95=1000.0)
    daily(intent_v1, days_ago(today, 3), calls=2, confidence=None, p95=1000.0)
    figures = comparison_of(performance(today), 1)
    assert figures.avg_confidence == pytest.approx((0.5 * 1 + 0.9 * 3) / 4)  # days without a confidence left out
    assert figures.mean_daily_p95_ms == pytest.approx((4000 * 1 + 1000 * 3 + 1000 * 2) / 6)
    assert figures.worst_daily_p95_ms == 4000.0


def test_today_so_far_comes_from_the_raw_calls_and_is_marked_partial(intent_v1, today):
    daily(intent_v1, days_ago(today, 1), calls=10)
    collector = MetricsCollector()
    for success in (True, True, False):
        collector.record_prompt_call(
            prompt_version=intent_v1, input_tokens=10, output_tokens=5, cost_usd=Decimal("0.001"), success=success,
            confidence=0.8, execution_time_ms=100,
        )
    result = performance(today)
    chart_data = result["chart_data"]
    assert chart_data["labels"][-1] == today.isoformat()
    assert chart_data["partial_index"] == 6
    success = next(chart for chart in chart_data["charts"] if chart["id"] == "success_rate")
    assert success["datasets"][0]["data"][-1] == pytest.approx(66.67)
    assert comparison_of(result, 1).call_count == 13


def test_raw_calls_of_today_win_over_a_rollup_of_today_run_by_hand(intent_v1, today):
    daily(intent_v1, today, calls=50)
    MetricsCollector().record_prompt_call(
        prompt_version=intent_v1, input_tokens=10, output_tokens=5, cost_usd=Decimal("0.001"), success=True,
        execution_time_ms=100,
    )
    assert comparison_of(performance(today), 1).call_count == 1


def test_every_dataset_has_one_point_per_day_and_days_without_calls_are_gaps(intent_v1, intent_v2, today):
    daily(intent_v1, days_ago(today, 6), calls=10)
    daily(intent_v1, days_ago(today, 5), calls=10)
    daily(intent_v2, days_ago(today, 1), calls=10, successes=5)
    charts = performance(today)["chart_data"]["charts"]
    assert [chart["id"] for chart in charts] == [
        "success_rate", "cost_per_call", "p95_latency", "avg_confidence", "review_rate"
    ]
    for chart in charts:
        assert [dataset["version"] for dataset in chart["datasets"]] == [1, 2]
        assert all(len(dataset["data"]) == 7 for dataset in chart["datasets"])
    success = charts[0]["datasets"]
    assert success[0]["data"] == [90.0, 90.0, None, None, None, None, None]
    assert success[1]["data"] == [None, None, None, None, None, 50.0, None]


def test_the_range_is_the_chosen_number_of_days_ending_on_the_chosen_day(intent_v1, today):
    last = days_ago(today, 40)
    daily(intent_v1, last - timedelta(days=30), calls=1)  # one day too early for a 30-day range
    daily(intent_v1, last - timedelta(days=29), calls=2)
    daily(intent_v1, last + timedelta(days=1), calls=4)  # one day too late
    result = performance(today, days=30, last=last)
    assert len(result["chart_data"]["labels"]) == 30
    assert result["chart_data"]["partial_index"] is None
    assert comparison_of(result, 1).call_count == 2


def test_activations_in_the_range_are_markers_labelled_with_version_and_operator(intent_v1, intent_v2, today):
    activation = prompt_activate(template=intent_v2, activated_by="erika")
    markers = performance(today)["chart_data"]["markers"]
    # The seeding of v1 (by the migration) is not an operator's decision and is not marked.
    assert markers == [{
        "day": today.isoformat(), "index": 6, "label": "v2 by erika", "kind": "activation",
        "at": activation.activated_at.isoformat(), "stack": 0,
    }]


def test_a_canary_is_marked_where_it_started_and_where_the_monitor_rolled_it_back(intent_v1, intent_v2, today):
    rollout = rollout_start(candidate=intent_v2, percent=20, started_by="erika")
    PromptRollout.objects.filter(pk=rollout.pk).update(started_at=day_bounds(days_ago(today, 2))[0])
    rollout_roll_back(rollout=rollout, reason="failure rate regression", figures={})
    markers = performance(today)["chart_data"]["markers"]
    assert [(m["index"], m["kind"], m["label"]) for m in markers] == [
        (4, "canary", "canary v2 at 20 % by erika"),
        (6, "canary_end", "canary v2 rolled back by canary monitor"),
    ]


def test_a_promoted_canary_is_marked_once_as_its_activation(intent_v1, intent_v2, today):
    rollout_promote(rollout=rollout_start(candidate=intent_v2, percent=10, started_by="erika"), promoted_by=MONITOR)
    markers = performance(today)["chart_data"]["markers"]
    assert [(m["kind"], m["label"]) for m in markers] == [
        ("canary", "canary v2 at 10 % by erika"), ("activation", "v2 by canary monitor (canary promoted)"),
    ]


def test_activations_outside_the_range_are_not_marked(intent_v1, intent_v2, today):
    activation = prompt_activate(template=intent_v2, activated_by="erika")
    PromptActivation.objects.filter(pk=activation.pk).update(activated_at=day_bounds(days_ago(today, 8))[0])
    assert performance(today)["chart_data"]["markers"] == []
    assert [m["label"] for m in performance(today, days=30)["chart_data"]["markers"]] == ["v2 by erika"]


def test_an_empty_range_points_to_the_last_day_that_has_figures(intent_v1, today):
    daily(intent_v1, days_ago(today, 100), calls=1)
    daily(intent_v1, days_ago(today, 120), calls=1)
    result = performance(today)
    assert result["has_data"] is False
    assert result["last_day_with_data"] == days_ago(today, 100)


def test_the_active_version_is_the_one_marked_active(intent_v1, intent_v2, today):
    prompt_activate(template=intent_v2, activated_by="erika")
    result = performance(today)
    assert result["active_version"].version == 2
    assert result["versions"][0].version == 1


def test_chart_tables_list_days_with_figures_newest_first_with_today_marked(intent_v1, today):
    daily(intent_v1, days_ago(today, 3), calls=10, successes=10)
    MetricsCollector().record_prompt_call(
        prompt_version=intent_v1, input_tokens=10, output_tokens=5, cost_usd=Decimal("0.001"), success=False,
        execution_time_ms=100, recorded_at=timezone.now(),
    )
    table = chart_tables(performance(today)["chart_data"])[0]
    assert table["columns"] == ["v1 (active)"]
    assert [(row["day"], row["partial"]) for row in table["rows"]] == [(today, True), (days_ago(today, 3), False)]
    assert [row["values"] for row in table["rows"]] == [[0.0], [100.0]]
