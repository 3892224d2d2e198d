"""Two operators claiming the same e-mail at the same moment, for real: two threads, two connections, one
conditional UPDATE each. PostgreSQL makes the second wait for the first's row lock, then re-checks its WHERE
on the updated row: exactly one of them gets the e-mail."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from extraction.models import IncomingEmail
from extraction.selectors import review_queue
from extraction.services import email_review_claim
from extraction.tests.reviewing import make_reviewer, queue_email

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
Status = IncomingEmail.Status


def at_once(work, operators):
    """Run work(operator) in one thread per operator, all released together; their results by username."""
    barrier = threading.Barrier(len(operators))
    outcomes = {}

    def run(operator):
        try:
            outcomes[operator.username] = work(operator, barrier)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(operator,)) for operator in operators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_of_two_operators_claiming_the_oldest_e_mail_at_once_only_one_gets_it():
    oldest = queue_email(status=Status.MANUAL_REVIEW, minutes_ago=60)
    operators = [make_reviewer(name) for name in ("anna", "ben", "cleo")]

    def claim(operator, barrier):
        # Each saw the e-mail free (the read before the claim), then all claim in the same instant.
        assert review_queue().next_email_id(operator=operator) == oldest.pk
        barrier.wait()
        return email_review_claim(email_id=oldest.pk, operator=operator)

    outcomes = at_once(claim, operators)
    winners = [name for name, got in outcomes.items() if got]
    assert len(outcomes) == 3 and len(winners) == 1, outcomes
    oldest.refresh_from_db()
    assert oldest.review_claimed_by.username == winners[0]


def test_two_operators_pressing_next_at_once_are_sent_different_e_mails():
    emails = [queue_email(status=Status.MANUAL_REVIEW, minutes_ago=minutes) for minutes in (60, 50, 40)]
    operators = [make_reviewer(name) for name in ("anna", "ben")]

    def press_next(operator, barrier):
        browser = Client()
        browser.force_login(operator)
        barrier.wait()
        return browser.get(reverse("admin:extraction_incomingemail_review_next")).url

    outcomes = at_once(press_next, operators)
    sent = {name: int(url.rstrip("/").split("/")[-2]) for name, url in outcomes.items()}
    assert len(set(sent.values())) == 2, outcomes
    assert set(sent.values()) == {emails[0].pk, emails[1].pk}
    holders = dict(IncomingEmail.objects.filter(pk__in=sent.values()).values_list("pk", "review_claimed_by__username"))
    assert holders == {pk: name for name, pk in sent.items()}
