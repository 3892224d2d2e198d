"""Daily rollups: local Berlin days, exact totals, p95, upserts that can be re-run, late rows."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from metrics.collector import MetricsCollector
from metrics.days import day_bounds
from metrics.models import OperationalMetricsDaily, PromptPerformanceDaily, RollupDay
from metrics.services import DayAlreadyCleaned, rollup_operational_metrics, rollup_prompt_metrics
from metrics.tests.helpers import at, make_version, prompt_call
from metrics.tests.test_aggregates import reference_p95

pytestmark = pytest.mark.django_db

DAY = date(2026, 6, 10)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def daily_rows():
    return list(PromptPerformanceDaily.objects.order_by("prompt_version", "date").values())


def test_a_day_is_rolled_up_per_version_with_exact_totals_and_p95():
    v1, v2 = make_version(1), make_version(2)
    prompt_call(v1, at(DAY, 8), execution_time_ms=100, cost="0.00100001", success=True, confidence=0.9)
    prompt_call(v1, at(DAY, 9), execution_time_ms=300, cost="0.00200002", success=False, confidence=None,
                needs_review=True)
    prompt_call(v1, at(DAY, 23, 59), execution_time_ms=200, cost="0.00000003", confidence=0.5)
    prompt_call(v2, at(DAY, 0, 0), execution_time_ms=50, input_tokens=7, output_tokens=3)

    assert rollup_prompt_metrics(day=DAY) == 2

    first = PromptPerformanceDaily.objects.get(prompt_version=v1, date=DAY)
    assert (first.call_count, first.success_count, first.review_count) == (3, 2, 1)
    assert (first.total_input_tokens, first.total_output_tokens) == (300, 60)
    assert first.total_cost_usd == Decimal("0.00300006")
    assert first.avg_confidence == pytest.approx(0.7)
    assert first.avg_execution_time_ms == pytest.approx(200)
    assert first.p95_execution_time_ms == pytest.approx(reference_p95([100, 300, 200]))
    second = PromptPerformanceDaily.objects.get(prompt_version=v2, date=DAY)
    assert (second.call_count, second.total_input_tokens, second.p95_execution_time_ms) == (1, 7, 50)


def test_rows_of_the_neighbouring_days_are_not_counted():
    version = make_version()
    prompt_call(version, at(DAY) - timedelta(hours=12, microseconds=1))  # 23:59:59.999999 the day before
    prompt_call(version, at(DAY + timedelta(days=1), 0, 0))  # midnight starts the next day
    prompt_call(version, at(DAY, 0, 0))
    rollup_prompt_metrics(day=DAY)
    assert PromptPerformanceDaily.objects.get().call_count == 1


@pytest.mark.parametrize(
    ("day", "first_utc", "last_utc", "hours"),
    [
        # Spring forward: 00:00 CET = 23:00 UTC the day before; the day ends 00:00 CEST = 22:00 UTC.
        (date(2026, 3, 29), utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 21, 59, 59), 23),
        # Fall back: 00:00 CEST = 22:00 UTC the day before; the day ends 00:00 CET = 23:00 UTC.
        (date(2026, 10, 25), utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 22, 59, 59), 25),
    ],
)
def test_a_dst_day_spans_its_local_hours(day, first_utc, last_utc, hours):
    version = make_version()
    inside = [first_utc + timedelta(hours=h) for h in range(hours)] + [last_utc]
    for moment in inside:
        prompt_call(version, moment)
    prompt_call(version, first_utc - timedelta(seconds=1))  # last second of the day before
    prompt_call(version, last_utc + timedelta(seconds=1))  # first second of the day after
    rollup_prompt_metrics(day=day)
    assert PromptPerformanceDaily.objects.get(date=day).call_count == hours + 1


def test_rerunning_a_day_yields_identical_rows():
    v1, v2 = make_version(1), make_version(2)
    for ms in (10, 20, 30, 40):
        prompt_call(v1, at(DAY), execution_time_ms=ms)
    prompt_call(v2, at(DAY), execution_time_ms=99)
    rollup_prompt_metrics(day=DAY)
    before = [{k: v for k, v in row.items() if k != "rolled_up_at"} for row in daily_rows()]
    rollup_prompt_metrics(day=DAY)
    after = [{k: v for k, v in row.items() if k != "rolled_up_at"} for row in daily_rows()]
    assert after == before
    assert RollupDay.objects.get(kind="prompt", day=DAY).source_rows == 5


def test_late_rows_for_a_rolled_up_day_update_it_on_the_next_run():
    version = make_version()
    prompt_call(version, at(DAY, 10), execution_time_ms=100)
    rollup_prompt_metrics(day=DAY)
    prompt_call(version, at(DAY, 23, 30), execution_time_ms=500, success=False)
    rollup_prompt_metrics(day=DAY)
    row = PromptPerformanceDaily.objects.get()
    assert (row.call_count, row.success_count, row.p95_execution_time_ms) == (2, 1, pytest.approx(480))


def test_operational_samples_are_rolled_up_per_type_and_labels():
    collector = MetricsCollector()
    for depth in (1, 5, 9):
        collector.record_queue_depth(queue="emails_waiting", depth=depth, recorded_at=at(DAY, depth))
    collector.record_queue_depth(queue="django_q", depth=2, recorded_at=at(DAY))
    collector.record_error(stage="extraction", error_type="Timeout", recorded_at=at(DAY))
    collector.record_error(stage="extraction", error_type="Timeout", recorded_at=at(DAY, 13))
    collector.record_error(stage="extraction", error_type="Timeout", recorded_at=at(DAY + timedelta(days=1)))

    assert rollup_operational_metrics(day=DAY) == 3

    rows = {
        (row.metric_type, row.labels_key): row
        for row in OperationalMetricsDaily.objects.filter(date=DAY)
    }
    waiting = rows[("queue_depth", "queue=emails_waiting")]
    assert (waiting.sample_count, waiting.sum_value, waiting.avg_value) == (3, 15, 5)
    assert (waiting.min_value, waiting.max_value, waiting.p95_value) == (1, 9, pytest.approx(8.6))
    assert rows[("error_count", "error_type=Timeout,stage=extraction")].sum_value == 2
    assert rows[("queue_depth", "queue=django_q")].sample_count == 1


def test_a_day_whose_raw_rows_were_cleaned_is_not_rolled_up_again():
    version = make_version()
    prompt_call(version, at(DAY))
    rollup_prompt_metrics(day=DAY)
    RollupDay.objects.filter(kind="prompt", day=DAY).update(deleted_rows=1)
    with pytest.raises(DayAlreadyCleaned):
        rollup_prompt_metrics(day=DAY)
    assert PromptPerformanceDaily.objects.get().call_count == 1


@pytest.mark.parametrize(("day", "hours"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (DAY, 24)])
def test_day_bounds_span_the_local_days_real_length(day, hours):
    start, end = day_bounds(day)
    assert end - start == timedelta(hours=hours)
