"""The operations page's numbers: daily rollups by the collector's labels, plus today from the raw samples."""

import pytest

from dashboard import pages, ranges
from dashboard.tests.conftest import days_ago
from metrics.collector import MetricsCollector
from metrics.models import OperationalMetricsDaily, canonical_labels_key

pytestmark = pytest.mark.django_db


def rollup(metric_type, day, labels, *, count=1, total=1.0, maximum=1.0, p95=1.0):
    OperationalMetricsDaily.objects.create(
        metric_type=metric_type, date=day, labels_key=canonical_labels_key(labels), sample_count=count,
        sum_value=total, avg_value=total / count, min_value=0.0, max_value=maximum, p95_value=p95,
    )


def chart(result, chart_id):
    found = next(c for c in result["chart_data"]["charts"] if c["id"] == chart_id)
    return {dataset["label"]: dataset["data"] for dataset in found["datasets"]}


def test_daily_rollups_are_charted_per_queue_stage_and_operation(today):
    yesterday = days_ago(today, 1)
    rollup("queue_depth", yesterday, {"queue": "emails_waiting"}, count=1440, total=2880, maximum=17)
    rollup("processing_time_ms", yesterday, {"stage": "classify"}, p95=950.0)
    rollup("error_count", yesterday, {"stage": "classify", "error_type": "APITimeoutError"}, count=2, total=2)
    rollup("error_count", yesterday, {"stage": "classify", "error_type": "unusable_answer"}, count=3, total=3)
    rollup("token_usage", yesterday, {"model": "claude-haiku-4-5", "operation": "classify"}, total=1200)
    rollup("token_usage", yesterday, {"model": "claude-sonnet-4-6", "operation": "classify"}, total=800)
    result = pages.operations(day_range=ranges.day_range(today=today, days=7))
    assert chart(result, "queue_depth") == {"emails_waiting": [None] * 5 + [17.0, None]}
    assert chart(result, "processing_time")["classify"][5] == 950.0
    assert chart(result, "errors") == {"classify": [None] * 5 + [5.0, None]}  # error types of a stage add up
    assert chart(result, "tokens") == {"classify": [None] * 5 + [2000.0, None]}  # models of an operation add up
    line = result["totals"][1]
    assert (line["day"], line["queue_peak"], line["slowest_stage_p95_ms"], line["errors"], line["tokens"]) == (
        yesterday, 17, 950.0, 5, 2000
    )


def test_today_so_far_comes_from_the_raw_samples(today):
    collector = MetricsCollector()
    collector.record_queue_depth(queue="emails_waiting", depth=4)
    collector.record_queue_depth(queue="emails_waiting", depth=9)
    collector.record_error(stage="pipeline", error_type="KeyError")
    collector.record_token_usage(model="claude-haiku-4-5", operation="extract_body", tokens=321)
    collector.record_processing_time(stage="pipeline", duration_ms=1200)
    result = pages.operations(day_range=ranges.day_range(today=today, days=7))
    assert result["chart_data"]["partial_index"] == 6
    assert chart(result, "queue_depth") == {"emails_waiting": [None] * 6 + [9.0]}
    assert chart(result, "errors") == {"pipeline": [None] * 6 + [1.0]}
    assert chart(result, "tokens") == {"extract_body": [None] * 6 + [321.0]}
    assert result["totals"][0]["day"] == today
    assert result["totals"][0]["slowest_stage_p95_ms"] == 1200.0


def test_a_day_with_samples_but_no_errors_counts_zero_errors_and_a_day_without_samples_is_a_gap(today):
    rollup("error_count", days_ago(today, 2), {"stage": "classify", "error_type": "APITimeoutError"}, total=3)
    rollup("queue_depth", days_ago(today, 1), {"queue": "emails_waiting"}, maximum=4)
    result = pages.operations(day_range=ranges.day_range(today=today, days=7))
    assert chart(result, "errors") == {"classify": [None] * 4 + [3.0, 0, None]}


def test_no_samples_in_the_range_points_to_the_last_day_with_a_rollup(today):
    rollup("queue_depth", days_ago(today, 200), {"queue": "emails_waiting"})
    result = pages.operations(day_range=ranges.day_range(today=today, days=30))
    assert result["has_data"] is False
    assert result["last_day_with_data"] == days_ago(today, 200)
