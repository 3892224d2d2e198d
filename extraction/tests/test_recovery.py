"""Runs a killed worker left behind are found by the database's clock, with one threshold (the worker's
time limit), and an e-mail gets max_attempts runs, whether the recovery schedule or a claim meets it."""

import datetime

import pytest
from django.utils import timezone

from extraction import recovery, services, tasks
from extraction.models import IncomingEmail
from extraction.services import ingest_message
from extraction.tests.conftest import raw_email
from metrics.models import MetricType, OperationalMetrics

pytestmark = pytest.mark.django_db
Status = IncomingEmail.Status


@pytest.fixture
def time_limit(settings):
    return datetime.timedelta(seconds=settings.Q_CLUSTER["timeout"])


@pytest.fixture
def max_attempts(settings):
    return settings.Q_CLUSTER["max_attempts"]


def email(n, status, *, started_ago=None, queued_ago=datetime.timedelta(0), attempts=1):
    """An e-mail as a worker left it: its run started (and it was last queued) that long ago."""
    now = timezone.now()
    row = IncomingEmail.objects.create(
        message_id=f"<stranded-{n}@test>", sender="glaeubiger@example.de", status=status, attempts=attempts,
        processing_started_at=now - started_ago if started_ago is not None else None,
    )
    IncomingEmail.objects.filter(pk=row.pk).update(updated_at=now - queued_ago)
    return row.pk


def statuses():
    return dict(IncomingEmail.objects.values_list("pk", "status"))


def test_a_run_older_than_the_workers_time_limit_is_requeued_and_a_younger_one_is_left_running(
    time_limit, queued, django_capture_on_commit_callbacks
):
    minute = datetime.timedelta(minutes=1)
    dead = email(1, Status.PROCESSING, started_ago=time_limit + minute)
    running = email(2, Status.PROCESSING, started_ago=time_limit - minute)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.emails_recover_stranded() == {"requeued": 1, "failed": 0}
    assert statuses() == {dead: Status.QUEUED, running: Status.PROCESSING}
    assert queued == [dead]


def test_an_email_queued_that_long_while_the_queue_is_empty_lost_its_task_and_is_requeued(
    time_limit, queued, django_capture_on_commit_callbacks, monkeypatch
):
    minute = datetime.timedelta(minutes=1)
    lost = email(1, Status.QUEUED, queued_ago=time_limit + minute)
    just_queued = email(2, Status.QUEUED, queued_ago=time_limit - minute)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.emails_recover_stranded() == {"requeued": 1, "failed": 0}
    assert queued == [lost] and statuses()[just_queued] == Status.QUEUED

    class BusyBroker:
        def queue_size(self):
            return 7  # tasks still waiting: a queued e-mail may simply not have had its turn

    monkeypatch.setattr(recovery, "get_broker", BusyBroker)
    IncomingEmail.objects.filter(pk=lost).update(updated_at=timezone.now() - time_limit - minute)
    assert services.emails_recover_stranded() == {"requeued": 0, "failed": 0}


def test_an_email_whose_runs_were_started_max_attempts_times_is_failed_by_the_recovery(time_limit, max_attempts):
    poison = email(1, Status.PROCESSING, started_ago=time_limit * 2, attempts=max_attempts)
    assert services.emails_recover_stranded() == {"requeued": 0, "failed": 1}
    failed = IncomingEmail.objects.get(pk=poison)
    assert failed.status == Status.FAILED
    assert failed.error == (
        "processing was started 3 times and never finished (worker killed or lost, database unreachable); "
        "re-queue it by hand"
    )
    error = OperationalMetrics.objects.get(email_id=failed.pk, metric_type=MetricType.ERROR_COUNT)
    assert error.labels == {"stage": "worker", "error_type": "interrupted"}


def test_a_redelivered_task_for_an_email_out_of_attempts_fails_it_instead_of_running_it(api, time_limit, max_attempts):
    # A dead third run, handed out again by the broker before the recovery schedule saw it.
    poison = email(1, Status.PROCESSING, started_ago=time_limit * 2, attempts=max_attempts)
    assert tasks.process_email(poison, client=api.client()) is None
    assert api.requests == []
    failed = IncomingEmail.objects.get(pk=poison)
    assert (failed.status, failed.attempts) == (Status.FAILED, max_attempts)
    assert failed.error.startswith("processing was started 3 times and never finished")


def test_a_queued_email_out_of_attempts_is_failed_by_its_claim_too(api, max_attempts):
    poison = email(1, Status.QUEUED, attempts=max_attempts)
    assert services.email_claim(email_id=poison) is None
    assert statuses()[poison] == Status.FAILED


def test_a_workers_clock_running_an_hour_ahead_takes_over_no_live_run(api, monkeypatch, queued):
    live = ingest_message(raw_email("acceptance_utf8_qp.eml"))
    assert services.email_claim(email_id=live.pk) is not None
    an_hour_ahead = timezone.now() + datetime.timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: an_hour_ahead)
    assert services.email_claim(email_id=live.pk) is None
    assert services.emails_recover_stranded() == {"requeued": 0, "failed": 0}
    live.refresh_from_db()
    assert (live.status, live.attempts) == (Status.PROCESSING, 1)


def test_a_requeue_by_hand_gives_the_email_a_fresh_count_of_attempts(api, max_attempts):
    failed = email(1, Status.FAILED, attempts=max_attempts)
    assert services.email_requeue(email=IncomingEmail.objects.get(pk=failed))
    assert IncomingEmail.objects.get(pk=failed).attempts == 0
    assert services.email_claim(email_id=failed).attempts == 1
