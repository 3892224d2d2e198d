"""Two operators claiming the same e-mail at the same moment, for real: two threads, two connections, one
conditional UPDATE each. PostgreSQL makes the second wait for the first's row lock, then re-checks its WHERE
on the updated row: exactly one of them gets the e-mail."""

import pytest
from django.test import Client
from django.urls import reverse

from extraction.models import IncomingEmail
from extraction.selectors import review_queue
from extraction.services import email_review_claim
from extraction.tests.reviewing import make_reviewer, queue_email
from prompts.tests.factories import outcomes_at_once

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
Status = IncomingEmail.Status


def test_of_two_operators_claiming_the_oldest_e_mail_at_once_only_one_gets_it():
    oldest = queue_email(status=Status.MANUAL_REVIEW, minutes_ago=60)
    operators = [make_reviewer(name) for name in ("anna", "ben", "cleo")]

    # Each is sent the e-mail by the queue (the read before the claim), then all claim it in the same instant.
    assert {review_queue().next_email_id(operator=operator) for operator in operators} == {oldest.pk}

    def claim(operator):
        return operator.username, email_review_claim(email_id=oldest.pk, operator=operator)

    outcomes = dict(outcomes_at_once(claim, operators))
    winners = [name for name, got in outcomes.items() if got]
    assert len(outcomes) == 3 and len(winners) == 1, outcomes
    oldest.refresh_from_db()
    assert oldest.review_claimed_by.username == winners[0]


def test_two_operators_pressing_next_at_once_are_sent_different_e_mails():
    emails = [queue_email(status=Status.MANUAL_REVIEW, minutes_ago=minutes) for minutes in (60, 50, 40)]
    operators = [make_reviewer(name) for name in ("anna", "ben")]

    browsers = []
    for operator in operators:
        browsers.append(Client())
        browsers[-1].force_login(operator)

    def press_next(operator_and_browser):
        operator, browser = operator_and_browser
        return operator.username, browser.get(reverse("admin:extraction_incomingemail_review_next")).url

    outcomes = dict(outcomes_at_once(press_next, list(zip(operators, browsers, strict=True))))
    sent = {name: int(url.rstrip("/").split("/")[-2]) for name, url in outcomes.items()}
    assert len(set(sent.values())) == 2, outcomes
    assert set(sent.values()) == {emails[0].pk, emails[1].pk}
    holders = dict(IncomingEmail.objects.filter(pk__in=sent.values()).values_list("pk", "review_claimed_by__username"))
    assert holders == {pk: name for name, pk in sent.items()}
