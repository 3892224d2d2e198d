"""Getting e-mails processed again: re-queueing by hand, and recovering runs a killed worker left behind.

Staleness is measured with the database's clock (`Now()` in the query), never a worker's: workers on
several machines, with clocks that drift, agree on which runs are dead. One threshold serves the
claim and the recovery schedule: the worker's time limit (Q_TIMEOUT). django-q2 stops a live run at
that limit and the pipeline marks its e-mail failed, so a run still "processing" after it is dead.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django_q.brokers import get_broker

from extraction import queueing
from extraction.models import IncomingEmail
from metrics.collector import MetricsCollector

logger = logging.getLogger(__name__)

Status = IncomingEmail.Status
# Every status but "processing": a running e-mail is never queued a second time.
REQUEUEABLE = (Status.FAILED, Status.MANUAL_REVIEW, Status.CLASSIFIED, Status.EXTRACTED, Status.RECEIVED, Status.QUEUED)


def max_attempts():
    """How many runs an e-mail gets (since it was ingested or re-queued by hand) before it is failed."""
    return settings.Q_CLUSTER.get("max_attempts") or 3


def stale_since():
    """The database moment before which a run that started is dead (Q_TIMEOUT ago)."""
    return Now() - timedelta(seconds=settings.Q_CLUSTER.get("timeout", 300))


def stale_run():
    """Q for e-mails whose run is dead: still "processing" longer than the worker's time limit."""
    return Q(status=Status.PROCESSING, processing_started_at__lt=stale_since())


@transaction.atomic
def email_requeue(*, email):
    """Queue an e-mail for processing again, with a fresh count of attempts; False if it is being processed."""
    updated = IncomingEmail.objects.filter(pk=email.pk, status__in=REQUEUEABLE).update(
        status=Status.QUEUED, error="", attempts=0, updated_at=Now()
    )
    if updated:
        queueing.email_enqueue(email.pk)
    return bool(updated)


@transaction.atomic
def email_fail_exhausted(*, email_id, condition):
    """Fail the e-mail if it matches `condition` (a Q) and has used up its attempts; True if it was failed.

    Its runs were started max_attempts times and none finished: whatever kills the worker on it
    (a 2 GB attachment, a crash in a library) would kill it again, so it waits for an operator.
    """
    attempts = max_attempts()
    failed = IncomingEmail.objects.filter(condition, pk=email_id, attempts__gte=attempts).update(
        status=Status.FAILED, updated_at=Now(),
        error=f"processing was started {attempts} times and never finished (worker killed or lost, database "
              "unreachable); re-queue it by hand",
    )
    if failed:
        MetricsCollector().record_error(stage="worker", error_type="interrupted", email_id=email_id)
    return bool(failed)


def emails_recover_stranded():
    """Re-queue e-mails whose task died with a killed worker; returns {"requeued": n, "failed": n}.

    A run that is stale (see stale_run) was killed: kill -9, OOM, a lost machine. An e-mail "queued"
    that long while the broker's queue is empty lost its task: the Redis broker has no
    acknowledgements, so tasks a killed cluster had fetched are gone. A duplicate task is harmless
    (the claim lets one run have the e-mail). An e-mail out of attempts is failed instead.
    """
    stranded = stale_run()
    if not get_broker().queue_size():
        stranded |= Q(status=Status.QUEUED, updated_at__lt=stale_since())
    counts = {"requeued": 0, "failed": 0}
    for email_id in IncomingEmail.objects.filter(stranded).order_by("pk").values_list("pk", flat=True).iterator():
        with transaction.atomic():
            if email_fail_exhausted(email_id=email_id, condition=stranded):
                counts["failed"] += 1
            elif IncomingEmail.objects.filter(stranded, pk=email_id).update(status=Status.QUEUED, updated_at=Now()):
                queueing.email_enqueue(email_id)
                counts["requeued"] += 1
    if any(counts.values()):
        logger.warning("Stranded e-mails: %(requeued)d re-queued, %(failed)d failed", counts)
    return counts
