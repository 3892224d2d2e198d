"""Handing e-mails to the worker: one django-q2 task (`extraction.tasks.process_email`) per e-mail."""

from django.db import DEFAULT_DB_ALIAS, transaction
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.tasks import async_task

PROCESS_EMAIL_TASK = "extraction.tasks.process_email"


def email_enqueue(email_id):
    """Queue the processing of an e-mail with the current transaction: the worker sees both or neither."""
    enqueue_with_transaction(PROCESS_EMAIL_TASK, email_id)


def enqueue_with_transaction(func, *args):
    """Queue task `func(*args)` with the current transaction: the worker sees the task and the rows or neither.

    With the ORM broker in this database (the embedded default) the task is a row written in the
    transaction itself: it commits with the rows, costs no second commit, and no crash can come
    between the two. Any other broker (Redis), or tasks run inline (Q_SYNC), is handed the task once
    the transaction commits, so a worker never looks for a row that is not visible yet or was
    rolled back.
    """
    if isinstance(get_broker(), ORM) and Conf.ORM == DEFAULT_DB_ALIAS and not Conf.SYNC:
        # Outside an atomic block the ORM broker would reconnect (close_old_connections) first.
        with transaction.atomic(savepoint=False):
            async_task(func, *args)
    else:
        transaction.on_commit(lambda: async_task(func, *args))
