"""Handing e-mails to the worker: one django-q2 task (`extraction.tasks.process_email`) per e-mail."""

from django.db import transaction
from django_q.tasks import async_task

PROCESS_EMAIL_TASK = "extraction.tasks.process_email"


def email_enqueue(email_id):
    """Queue the processing of an e-mail once the current transaction commits.

    After commit, so a worker never looks for a row that is not visible yet (or was rolled back).
    """
    transaction.on_commit(lambda: _enqueue(email_id))


def _enqueue(email_id):
    # django-q2's ORM broker calls close_old_connections() before each enqueue unless it runs in
    # an atomic block; with CONN_MAX_AGE=0 (the SQLite default) that is a reconnect per e-mail,
    # 2 ms of the 5 ms an import took. The enqueue is one INSERT, so its own transaction is free.
    with transaction.atomic():
        async_task(PROCESS_EMAIL_TASK, email_id)
