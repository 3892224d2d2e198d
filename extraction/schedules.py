"""The extraction app's django-q2 schedules, registered (idempotently) after every `migrate`."""

from django.db import DEFAULT_DB_ALIAS
from django_q.models import Schedule

from metrics.schedules import register

SCHEDULES = [
    {
        "name": "extraction: sample queue depth",
        # Sampled by the metrics app until the e-mail queries moved here; such a row is renamed.
        "previous_names": ["metrics: sample queue depth"],
        "func": "extraction.tasks.sample_queue_depth",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
    {
        # The Redis broker forgets tasks a killed worker had fetched; this finds their e-mails.
        "name": "extraction: re-queue e-mails stranded by a killed worker",
        "func": "extraction.tasks.recover_stranded_emails",
        "schedule_type": Schedule.MINUTES,
        "minutes": 5,
    },
]


def register_schedules(using=DEFAULT_DB_ALIAS, **kwargs):
    """post_migrate receiver of the extraction app."""
    register(SCHEDULES, using=using)
