"""Retention never loses data: raw rows go only for rolled-up days, after any outage, in batches."""

from datetime import date, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext, override_settings

from metrics.collector import MetricsCollector
from metrics.models import (
    OperationalMetrics,
    OperationalMetricsDaily,
    PromptPerformanceDaily,
    PromptPerformanceMetrics,
    RollupDay,
)
from metrics.services import cleanup_raw_metrics, rollup_prompt_metrics, run_nightly_metrics
from metrics.tests.helpers import BERLIN, at, calls_per_day, days_before, make_version, prompt_call

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 20)
NIGHTLY = at(TODAY, 1, 0)  # the 01:00 schedule


def local_date(moment):
    return moment.astimezone(BERLIN).date()


def add_up(totals, key, *values):
    totals[key] = tuple(a + b for a, b in zip(totals.get(key, (0,) * len(values)), values, strict=True))


def raw_totals_by_day():
    """Calls, tokens and exact cost per local day, added up in Python from the stored raw rows."""
    totals = {}
    for row in PromptPerformanceMetrics.objects.all():
        add_up(totals, local_date(row.recorded_at), 1, row.input_tokens, row.cost_usd)
    return totals


def daily_totals_by_day():
    totals = {}
    for row in PromptPerformanceDaily.objects.all():
        add_up(totals, row.date, row.call_count, row.total_input_tokens, row.total_cost_usd)
    return totals


def test_after_a_40_day_outage_every_day_is_rolled_up_and_only_expired_days_are_deleted():
    v1, v2 = make_version(1), make_version(2)
    outage = days_before(TODAY, 40)
    calls_per_day(v1, outage, per_day=3)
    calls_per_day(v2, outage, per_day=2)
    for day in outage:
        MetricsCollector().record_queue_depth(queue="emails_waiting", depth=4, recorded_at=at(day, 6))

    raw_before = raw_totals_by_day()

    result = run_nightly_metrics(kind="prompt", now=NIGHTLY)

    assert result.rolled_up_days == outage
    assert set(RollupDay.objects.filter(kind="prompt").values_list("day", flat=True)) == set(outage)
    # Retention 30 days at 01:00 on the 20th: days up to the 20th - 31 = Oct 20 are fully expired.
    expired = [day for day in outage if day <= TODAY - timedelta(days=31)]
    assert len(expired) == 10
    assert set(raw_totals_by_day()) == set(outage) - set(expired)
    assert result.deleted_rows == 5 * len(expired)
    # Nothing is lost: every day's daily totals equal the raw totals they replaced.
    assert daily_totals_by_day() == raw_before
    # The operational job has its own schedule; prompt cleanup never touches operational rows.
    assert OperationalMetrics.objects.count() == 40


def test_the_operational_nightly_job_catches_up_and_cleans_its_own_table():
    for day in days_before(TODAY, 40):
        MetricsCollector().record_error(stage="extraction", error_type="Timeout", recorded_at=at(day, 6))
    result = run_nightly_metrics(kind="operational", now=at(TODAY, 1, 30))
    assert len(result.rolled_up_days) == 40
    assert result.deleted_rows == 10
    assert OperationalMetricsDaily.objects.aggregate(total=Sum("sum_value"))["total"] == 40
    assert OperationalMetrics.objects.count() == 30


def test_cleanup_keeps_raw_rows_of_days_that_were_never_rolled_up():
    version = make_version()
    old_days = days_before(TODAY - timedelta(days=35), 5)
    calls_per_day(version, old_days)
    rollup_prompt_metrics(day=old_days[0])

    counts = cleanup_raw_metrics(now=NIGHTLY)

    assert counts == {"prompt": 3, "operational": 0, "accuracy": 0}
    assert PromptPerformanceMetrics.objects.count() == 3 * 4
    assert RollupDay.objects.get(day=old_days[0]).cleaned_at is not None


def test_raw_rows_within_the_retention_period_are_kept_even_when_rolled_up():
    version = make_version()
    recent = days_before(TODAY, 30)
    calls_per_day(version, recent)
    for day in recent:
        rollup_prompt_metrics(day=day)
    assert cleanup_raw_metrics(now=NIGHTLY) == {"prompt": 0, "operational": 0, "accuracy": 0}
    assert PromptPerformanceMetrics.objects.count() == 90


@override_settings(METRICS_CLEANUP_BATCH_SIZE=4)
def test_cleanup_deletes_in_bounded_batches():
    version = make_version()
    day = TODAY - timedelta(days=40)
    calls_per_day(version, [day], per_day=10)
    rollup_prompt_metrics(day=day)
    with CaptureQueriesContext(connection) as queries:
        counts = cleanup_raw_metrics(now=NIGHTLY)
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert counts["prompt"] == 10
    assert len(deletes) == 3  # 4 + 4 + 2 rows
    assert RollupDay.objects.get(day=day).deleted_rows == 10


def test_rows_that_arrive_after_the_rollup_are_folded_in_before_their_day_is_cleaned():
    version = make_version()
    day = TODAY - timedelta(days=40)
    prompt_call(version, at(day, 9), execution_time_ms=100)
    rollup_prompt_metrics(day=day)
    prompt_call(version, at(day, 22), execution_time_ms=300)  # a late row, long after the nightly run

    assert cleanup_raw_metrics(now=NIGHTLY)["prompt"] == 2
    assert PromptPerformanceDaily.objects.get(date=day).call_count == 2


def test_an_interrupted_cleanup_resumes_without_touching_rows_it_did_not_roll_up():
    version = make_version()
    day = TODAY - timedelta(days=40)
    calls_per_day(version, [day], per_day=6)
    rollup_prompt_metrics(day=day)
    entry = RollupDay.objects.get(day=day)
    # The worker died after the first batch of 2 rows.
    first_two = PromptPerformanceMetrics.objects.order_by("pk").values_list("pk", flat=True)[:2]
    PromptPerformanceMetrics.objects.filter(pk__in=list(first_two)).delete()
    RollupDay.objects.filter(pk=entry.pk).update(deleted_rows=2)
    late = prompt_call(version, at(day, 23))  # arrives while the day is half cleaned

    assert cleanup_raw_metrics(now=NIGHTLY)["prompt"] == 4
    assert list(PromptPerformanceMetrics.objects.values_list("pk", flat=True)) == [late.pk]
    assert PromptPerformanceDaily.objects.get(date=day).call_count == 6


def test_the_nightly_job_re_aggregates_recent_days_for_late_rows():
    version = make_version()
    yesterday = TODAY - timedelta(days=1)
    two_days_ago = TODAY - timedelta(days=2)
    calls_per_day(version, [two_days_ago, yesterday], per_day=1)
    run_nightly_metrics(kind="prompt", now=at(yesterday, 1))
    prompt_call(version, at(two_days_ago, 23, 59))  # committed after that night's run
    run_nightly_metrics(kind="prompt", now=NIGHTLY)
    assert dict(PromptPerformanceDaily.objects.values_list("date", "call_count")) == {two_days_ago: 2, yesterday: 1}


def test_a_day_rolled_up_before_it_ended_is_rolled_up_again_by_the_catch_up():
    version = make_version()
    old = TODAY - timedelta(days=10)  # outside the re-aggregation window
    prompt_call(version, at(old, 9))
    with mock.patch("django.utils.timezone.now", return_value=at(old, 10)):
        rollup_prompt_metrics(day=old)
    prompt_call(version, at(old, 20))
    run_nightly_metrics(kind="prompt", now=NIGHTLY)
    assert PromptPerformanceDaily.objects.get(date=old).call_count == 2
    assert PromptPerformanceDaily.objects.values("date").annotate(n=Count("pk")).count() == 1
