"""Queue depth: sampled here, where the e-mails are, and recorded through the metrics collector."""

from django.db import transaction
from django_q.brokers import get_broker

from extraction.models import IncomingEmail
from metrics.collector import MetricsCollector

WAITING_STATUSES = (IncomingEmail.Status.RECEIVED, IncomingEmail.Status.QUEUED)


@transaction.atomic
def queue_depths_record():
    """Record both queues' depth: e-mails waiting to be processed, and tasks waiting in the django-q2 broker."""
    collector = MetricsCollector()
    waiting = IncomingEmail.objects.filter(status__in=WAITING_STATUSES).count()
    broker_size = get_broker().queue_size() or 0
    return [
        collector.record_queue_depth(queue="emails_waiting", depth=waiting),
        collector.record_queue_depth(queue="django_q", depth=broker_size),
    ]
