"""Two workers running the nightly job at once (two clusters, a retry) leave the same result as one."""

import threading
from datetime import date, timedelta

import pytest
from django.db import connections

from metrics.models import PromptPerformanceDaily, PromptPerformanceMetrics, RollupDay
from metrics.services import run_nightly_metrics
from metrics.tests.helpers import at, calls_per_day, days_before, make_version

TODAY = date(2026, 11, 20)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_nightly_jobs_at_once_roll_up_and_clean_each_day_exactly_once():
    version = make_version()
    outage = days_before(TODAY, 35)
    calls_per_day(version, outage, per_day=4)
    errors = []
    barrier = threading.Barrier(2)

    def nightly():
        try:
            barrier.wait()
            run_nightly_metrics(kind="prompt", now=at(TODAY, 1))
        except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=nightly) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert RollupDay.objects.filter(kind="prompt").count() == 35
    assert sum(PromptPerformanceDaily.objects.values_list("call_count", flat=True)) == 4 * 35
    expired = [day for day in outage if day <= TODAY - timedelta(days=31)]
    assert PromptPerformanceMetrics.objects.count() == 4 * (35 - len(expired))
    assert sum(RollupDay.objects.values_list("deleted_rows", flat=True)) == 4 * len(expired)
