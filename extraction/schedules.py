"""The IMAP intake's django-q2 schedule: registered by `migrate` when IMAP_URL is set, removed when it is not.

django-q2 runs a schedule once however many clusters there are; the fetch's own lease
(extraction.intake) makes sure a slow run and the next minute's never work on the mailbox together.
"""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django_q.models import Schedule

from metrics.schedules import schedule_register, schedules_table_exists

FETCH_MAIL = "extraction: fetch mail from the IMAP mailbox"


def register_intake_schedule(using=DEFAULT_DB_ALIAS, **kwargs):
    """post_migrate receiver: the fetch every IMAP_FETCH_MINUTES while IMAP_URL is set, else none."""
    if not schedules_table_exists(using):
        return
    if not settings.IMAP_URL:
        Schedule.objects.db_manager(using).filter(name=FETCH_MAIL).delete()
        return
    schedule_register(using=using, spec={
        "name": FETCH_MAIL,
        "func": "extraction.tasks.fetch_mail",
        "schedule_type": Schedule.MINUTES,
        "minutes": max(1, settings.IMAP_FETCH_MINUTES),
    })
