"""Scale-out: three `qcluster` processes on one PostgreSQL database, with the ORM broker and with Redis.

Each e-mail is processed by exactly one of them (one claim, one result set, one set of metrics), the
work is spread over all three, and each nightly schedule runs once, not once per cluster.
"""

import re
import time
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone
from django_q.models import Schedule, Task

from devtools.clusters import enqueueing_for
from extraction import schedules as extraction_schedules
from extraction.models import ExtractionResult, IncomingEmail
from extraction.tests.clusters import all_final, ingest_copies, wait_until
from metrics import schedules as metrics_schedules
from metrics.collector import MetricsCollector
from metrics.days import local_day
from metrics.models import PromptPerformanceMetrics, RollupDay
from metrics.tests.helpers import at, make_version, prompt_call

SCHEDULES = metrics_schedules.SCHEDULES + extraction_schedules.SCHEDULES
pytestmark = [
    pytest.mark.slow, pytest.mark.postgres_only, pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CLUSTERS = 3
PLAIN_EMAILS, PDF_EMAILS = 150, 50  # a body-only answer is 2 LLM calls, one with a PDF 3
# django-q2's guard loop runs the scheduler once ~30 s after a cluster starts, then every ~30 s.
SCHEDULER_CYCLE_SECONDS = 30


def make_every_schedule_due_with_work_for_last_night():
    """Every registered schedule is due now, and yesterday has raw metrics waiting to be rolled up."""
    Schedule.objects.filter(name__in=[spec["name"] for spec in SCHEDULES]).update(
        next_run=timezone.now() - timedelta(seconds=1)
    )
    yesterday = local_day(timezone.now()) - timedelta(days=1)
    prompt_call(make_version(), at(yesterday, hour=9))
    MetricsCollector().record_queue_depth(queue="emails_waiting", depth=3, recorded_at=at(yesterday, hour=9))
    return yesterday


@pytest.mark.parametrize("broker", ["orm", "redis"])
def test_three_clusters_process_each_email_once_and_run_each_nightly_schedule_once(
    broker, fake_api_server, worker_env, start_cluster
):
    # The assertions read django-q2's log lines, which it writes in the product's language: English here.
    env = worker_env(f"scale-{broker}", broker=broker, LANGUAGE_CODE="en")
    yesterday = make_every_schedule_due_with_work_for_last_night()

    clusters = [start_cluster(env, f"cluster-{n}") for n in range(CLUSTERS)]
    wait_until(lambda: all(c.is_up() for c in clusters), timeout=60, what="clusters up", clusters=clusters)
    started = time.monotonic()
    with enqueueing_for(env):
        ids = ingest_copies(PLAIN_EMAILS, prefix=f"plain-{broker}")
        ids += ingest_copies(PDF_EMAILS, template="statement_with_pdf.eml", prefix=f"pdf-{broker}")
    wait_until(lambda: all_final(ids), timeout=120, what="all e-mails processed", clusters=clusters)
    processing_seconds = time.monotonic() - started
    # Every cluster's scheduler has looked at the schedules at least once before we count.
    time.sleep(max(0.0, started + SCHEDULER_CYCLE_SECONDS + 5 - time.monotonic()))
    nightly = [spec["func"] for spec in SCHEDULES]
    wait_until(
        lambda: Task.objects.filter(func__in=nightly).count() >= len(nightly),
        timeout=30, what="the scheduled tasks to finish", clusters=clusters,
    )
    for cluster in clusters:
        cluster.kill()
    logs = [c.log() for c in clusters]

    # Each e-mail: processed once, by one claim, with one result set and the metrics of one run.
    emails = IncomingEmail.objects.filter(pk__in=ids)
    assert set(emails.values_list("status", flat=True)) == {IncomingEmail.Status.EXTRACTED}
    assert set(emails.values_list("attempts", flat=True)) == {1}
    results = ExtractionResult.objects.filter(email__in=ids).values("email").annotate(n=Count("pk"))
    assert sorted({r["n"] for r in results}) == [2, 3]  # body + merged, or body + pdf + merged
    assert sum(r["n"] for r in results) == PLAIN_EMAILS * 2 + PDF_EMAILS * 3
    calls = PromptPerformanceMetrics.objects.filter(email_id__in=ids).count()
    assert calls == len(fake_api_server.requests) == PLAIN_EMAILS * 2 + PDF_EMAILS * 3
    # ... and the work was spread over all three clusters.
    per_cluster = [len(re.findall(r"Processed 'extraction\.tasks\.process_email'", log)) for log in logs]
    assert sum(per_cluster) == len(ids) and all(per_cluster), per_cluster

    # Each schedule: one task, created by one of the three schedulers, and its next run moved on once.
    for spec in SCHEDULES:
        created = sum(log.count(f"from schedule [{spec['name']}]") for log in logs)
        assert created == 1, f"{spec['name']}: {created} tasks created by {CLUSTERS} clusters"
        assert Task.objects.filter(func=spec["func"], success=True).count() == 1
        assert Schedule.objects.get(name=spec["name"]).next_run > timezone.now()
    assert RollupDay.objects.filter(day=yesterday).count() == 2  # prompt and operational ledger rows
    print(f"\n{broker}: {len(ids)} e-mails by {CLUSTERS} clusters in {processing_seconds:.1f} s, "
          f"per cluster {per_cluster}")
