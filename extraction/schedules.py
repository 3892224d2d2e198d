"""The extraction app's django-q2 schedules, registered (idempotently) after every `migrate`.

The IMAP fetch is registered while IMAP_URL is set and removed when it is not. django-q2 runs a
schedule once however many clusters there are; the fetch's own lease (extraction.intake) makes sure
a slow run and the next minute's never work on the mailbox together.
"""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django_q.models import Schedule

from metrics.schedules import register

FETCH_MAIL = "extraction: fetch mail from the IMAP mailbox"

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


def intake_schedules():
    """The fetch every IMAP_FETCH_MINUTES while IMAP_URL is set; none without it."""
    if not settings.IMAP_URL:
        return []
    return [{
        "name": FETCH_MAIL,
        "func": "extraction.tasks.fetch_mail",  # reads IMAP_URL itself: the password is never a task argument
        "schedule_type": Schedule.MINUTES,
        "minutes": max(1, settings.IMAP_FETCH_MINUTES),
    }]


def register_schedules(using=DEFAULT_DB_ALIAS, **kwargs):
    """post_migrate receiver of the extraction app."""
    register([*SCHEDULES, *intake_schedules()], using=using)
    if not settings.IMAP_URL and Schedule._meta.db_table in connections[using].introspection.table_names():
        Schedule.objects.db_manager(using).filter(name=FETCH_MAIL).delete()
