"""Getting e-mails processed again: re-queueing by hand, and recovering runs a killed worker left behind."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.brokers import get_broker

from extraction import queueing
from extraction.models import IncomingEmail
from metrics.collector import MetricsCollector

logger = logging.getLogger(__name__)

Status = IncomingEmail.Status
# Every status but "processing": a running e-mail is never queued a second time.
REQUEUEABLE = (Status.FAILED, Status.MANUAL_REVIEW, Status.CLASSIFIED, Status.EXTRACTED, Status.RECEIVED, Status.QUEUED)


@transaction.atomic
def email_requeue(*, email):
    """Queue an e-mail for processing again (e.g. after a failure); False if it is being processed."""
    updated = IncomingEmail.objects.filter(pk=email.pk, status__in=REQUEUEABLE).update(
        status=Status.QUEUED, error="", updated_at=timezone.now()
    )
    if updated:
        queueing.email_enqueue(email.pk)
    return bool(updated)


def emails_recover_stranded(*, now=None):
    """Re-queue e-mails whose task died with a killed worker; returns {"requeued": n, "failed": n}.

    A run still "processing" Q_CLUSTER["retry"] seconds after its claim was killed (kill -9, OOM, a
    lost machine): a live run is stopped at the shorter timeout. An e-mail "queued" that long while
    the broker's queue is empty lost its task: the Redis broker has no acknowledgements, so tasks a
    killed cluster had fetched are gone. A duplicate task is harmless (email_claim lets one run have
    the e-mail). After max_attempts interrupted runs the e-mail is failed, so it cannot loop forever.
    """
    now = now or timezone.now()
    stranded_before = now - timedelta(seconds=settings.Q_CLUSTER.get("retry", 360))
    max_attempts = settings.Q_CLUSTER.get("max_attempts") or 3
    stranded = Q(status=Status.PROCESSING, processing_started_at__lt=stranded_before)
    if not get_broker().queue_size():
        stranded |= Q(status=Status.QUEUED, updated_at__lt=stranded_before)
    counts = {"requeued": 0, "failed": 0}
    for email in IncomingEmail.objects.filter(stranded).order_by("pk").iterator():
        with transaction.atomic():
            still_stranded = IncomingEmail.objects.filter(stranded, pk=email.pk)
            if email.status == Status.PROCESSING and email.attempts >= max_attempts:
                reason = (
                    f"processing was interrupted {email.attempts} times (worker killed or lost, database "
                    "unreachable); "
                    "re-queue it by hand"
                )
                if still_stranded.update(status=Status.FAILED, error=reason, updated_at=now):
                    MetricsCollector().record_error(stage="worker", error_type="interrupted", email=email)
                    counts["failed"] += 1
            elif still_stranded.update(status=Status.QUEUED, updated_at=now):
                queueing.email_enqueue(email.pk)
                counts["requeued"] += 1
    if any(counts.values()):
        logger.warning("Stranded e-mails: %(requeued)d re-queued, %(failed)d failed", counts)
    return counts
