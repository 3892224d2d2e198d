"""Two operators saving the same e-mail at the same moment, for real: two threads, two connections, PostgreSQL
row locks. The second save waits for the first, sees its revision and is refused: no silent overwrite."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from extraction import tasks
from extraction.models import EmailReview
from extraction.review import ReviewConflict, merged_answer
from extraction.services import email_review, ingest_message
from extraction.tests.conftest import raw_email
from metrics.models import PromptAccuracyMetrics

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_of_two_operators_saving_one_email_at_once_the_second_gets_a_conflict(api, queued, django_user_model):
    email = ingest_message(raw_email("acceptance_utf8_qp.eml"))  # committed; `queued` keeps its task from running
    tasks.process_email(email.pk, client=api.client())
    facts = merged_answer(email)["facts"]
    operators = [django_user_model.objects.create_user(name, password="pw", is_staff=True) for name in ("anna", "ben")]
    barrier = threading.Barrier(len(operators))
    outcomes = {}

    def save(operator, total):
        try:
            barrier.wait()
            outcomes[operator.username] = email_review(
                email=email, reviewed_by=operator, intent="payment_plan", facts=facts | {"total_claim": total},
                expected_revision=0,
            )
        except ReviewConflict as conflict:
            outcomes[operator.username] = conflict
        finally:
            connection.close()

    threads = [
        threading.Thread(target=save, args=(operator, Decimal(total)))
        for operator, total in zip(operators, ("1000.00", "2000.00"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    saved = [outcome for outcome in outcomes.values() if isinstance(outcome, EmailReview)]
    refused = [outcome for outcome in outcomes.values() if isinstance(outcome, ReviewConflict)]
    assert len(saved) == 1 and len(refused) == 1, outcomes
    winner = saved[0]
    assert f"{winner.reviewed_by.username} saved a review of this e-mail" in str(refused[0])
    stored = EmailReview.objects.get()
    assert (stored.revision, stored.reviewed_by_id, stored.total_claim) == (
        1, winner.reviewed_by_id, winner.total_claim
    )
    # Only the winner's scores were recorded.
    assert PromptAccuracyMetrics.objects.filter(review_id=stored.pk).count() == len(stored.scores) == 2
