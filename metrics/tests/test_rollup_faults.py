"""The nightly rollup with the database unreachable: nothing is deleted that is not rolled up, and the
next run (the next night, or the same night once the database is back) catches up completely.

The outage is injected where the product meets the database: every statement after the N-th raises
OperationalError, as a dropped connection does. N walks over every point of a nightly run.
"""

from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.db.models import Count
from django.test.utils import override_settings
from django.utils import timezone
from django_q.models import Schedule
from django_q.scheduler import scheduler

from metrics.collector import MetricsCollector
from metrics.models import OperationalMetrics, PromptPerformanceDaily, PromptPerformanceMetrics, RollupDay
from metrics.schedules import SCHEDULES
from metrics.services import run_nightly_metrics
from metrics.tests.helpers import at, calls_per_day, days_before, make_version

# Real transactions: an outage inside a rollup rolls back that rollup, as it would in production.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

KINDS = (RollupDay.Kind.PROMPT, RollupDay.Kind.OPERATIONAL)
PER_DAY = 3
DAYS = 8
RETENTION_DAYS = 3


class DatabaseGoesAway:
    """execute_wrapper: the first `after` statements run, every later one fails like a lost connection."""

    def __init__(self, after):
        self.after = after
        self.executed = 0

    def __call__(self, execute, sql, params, many, context):
        if self.executed >= self.after:
            raise OperationalError("server closed the connection unexpectedly")
        self.executed += 1
        return execute(sql, params, many, context)


@pytest.fixture
def week_of_metrics():
    """Raw prompt and operational rows for the DAYS days before `today`; nothing rolled up yet."""
    today = timezone.localdate()
    days = days_before(today, DAYS)
    calls_per_day(make_version(), days, per_day=PER_DAY)
    collector = MetricsCollector()
    for day in days:
        for hour in range(PER_DAY):
            collector.record_queue_depth(queue="emails_waiting", depth=hour, recorded_at=at(day, hour=8 + hour))
    return days


def raw_rows_per_day(kind):
    model = PromptPerformanceMetrics if kind == RollupDay.Kind.PROMPT else OperationalMetrics
    counts = {}
    for row in model.objects.only("recorded_at"):
        day = timezone.localdate(row.recorded_at)
        counts[day] = counts.get(day, 0) + 1
    return counts


def assert_nothing_lost(days):
    """Every raw row of every day is either still there or counted in a final (cleaned) daily rollup."""
    prompt_daily = dict(PromptPerformanceDaily.objects.values_list("date", "call_count"))
    for kind in KINDS:
        raw = raw_rows_per_day(kind)
        ledger = {entry.day: entry for entry in RollupDay.objects.filter(kind=kind)}
        for day in days:
            if raw.get(day, 0) == PER_DAY:
                continue
            entry = ledger.get(day)
            assert entry is not None and entry.source_rows == PER_DAY, f"{kind} {day}: raw rows lost"
            assert entry.deleted_rows + raw.get(day, 0) == PER_DAY
            if kind == RollupDay.Kind.PROMPT:
                assert prompt_daily[day] == PER_DAY


def assert_caught_up(days):
    # expired_days(): every day up to the one before (today - retention) is cleaned.
    expired = [day for day in days if day <= timezone.localdate() - timedelta(days=RETENTION_DAYS + 1)]
    for kind in KINDS:
        assert set(RollupDay.objects.filter(kind=kind).values_list("day", flat=True)) == set(days)
        raw = raw_rows_per_day(kind)
        assert all(raw.get(day, 0) == 0 for day in expired) and expired
        assert all(raw[day] == PER_DAY for day in days if day not in expired)
    assert dict(PromptPerformanceDaily.objects.values_list("date", "call_count")) == dict.fromkeys(days, PER_DAY)


def nightly_with_outage_after(statements):
    """Both nightly jobs, as the two schedules run them; True if they completed."""
    outage = DatabaseGoesAway(after=statements)
    try:
        with connection.execute_wrapper(outage):
            for kind in KINDS:
                run_nightly_metrics(kind=kind)
    except OperationalError:
        return False
    return True


@override_settings(METRICS_RAW_RETENTION_DAYS=RETENTION_DAYS, METRICS_CLEANUP_BATCH_SIZE=2)
def test_the_database_dropping_at_any_point_of_the_nightly_run_loses_nothing_and_the_next_run_catches_up(
    week_of_metrics,
):
    outages = 0
    # Each run gets one statement further before the database goes away, until one gets through.
    for statements in range(0, 2000):
        if nightly_with_outage_after(statements):
            break
        outages += 1
        assert_nothing_lost(week_of_metrics)
    else:
        pytest.fail("the nightly run never completed")
    assert outages > 50  # every stage was interrupted: catch-up, each day's rollup, each cleanup batch
    assert_nothing_lost(week_of_metrics)
    assert_caught_up(week_of_metrics)


@override_settings(METRICS_RAW_RETENTION_DAYS=RETENTION_DAYS)
def test_a_night_with_the_database_unreachable_is_caught_up_by_the_next_night(week_of_metrics):
    assert not nightly_with_outage_after(0)  # unreachable from the first statement: nothing happens
    assert not RollupDay.objects.exists() and not PromptPerformanceDaily.objects.exists()
    assert raw_rows_per_day(RollupDay.Kind.PROMPT) == dict.fromkeys(week_of_metrics, PER_DAY)

    assert nightly_with_outage_after(10**6)  # the next night
    assert_caught_up(week_of_metrics)


def test_a_schedule_due_while_the_database_is_unreachable_runs_once_when_it_is_back(week_of_metrics):
    names = [spec["name"] for spec in SCHEDULES if spec["func"].startswith("metrics.tasks.nightly_")]
    Schedule.objects.filter(name__in=names).update(next_run=timezone.now() - timedelta(minutes=1))
    with connection.execute_wrapper(DatabaseGoesAway(after=0)):
        scheduler()  # the cluster's scheduler cycle at 01:00 cannot read the schedules; it logs and goes on
    assert not RollupDay.objects.exists()
    assert all(s.next_run < timezone.now() for s in Schedule.objects.filter(name__in=names))  # still due

    scheduler()  # ~30 s later, the database is back (Q_CLUSTER sync=True runs the tasks inline)
    assert set(RollupDay.objects.values_list("kind").annotate(n=Count("pk"))) == {(k, DAYS) for k in KINDS}
    assert all(s.next_run > timezone.now() for s in Schedule.objects.filter(name__in=names))
