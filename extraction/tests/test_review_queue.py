"""The review queue: every e-mail in manual review oldest first, then the unreviewed QA sample oldest first."""

import pytest

from extraction import selectors
from extraction.models import IncomingEmail
from extraction.selectors import review_queue, review_queue_part
from extraction.tests.reviewing import queue_email

pytestmark = pytest.mark.django_db
Status = IncomingEmail.Status


@pytest.fixture
def waiting():
    """E-mails in and out of the queue, created in an order unlike the queue's."""
    return {
        "sample_old": queue_email(status=Status.EXTRACTED, review_sample=True, minutes_ago=90),
        "manual_new": queue_email(status=Status.MANUAL_REVIEW, minutes_ago=10),
        "sample_classified": queue_email(status=Status.CLASSIFIED, review_sample=True, minutes_ago=50),
        "manual_old": queue_email(status=Status.MANUAL_REVIEW, minutes_ago=60),
        # Not waiting: reviewed already (sampled or not), finished without a sample draw, not finished.
        "sample_reviewed": queue_email(status=Status.REVIEWED, review_sample=True, minutes_ago=120),
        "reviewed": queue_email(status=Status.REVIEWED, minutes_ago=100),
        "extracted": queue_email(status=Status.EXTRACTED, minutes_ago=80),
        "failed": queue_email(status=Status.FAILED, review_sample=True, minutes_ago=70),
        "queued": queue_email(status=Status.QUEUED, minutes_ago=5),
    }


def worked_in_order():
    """The ids the queue hands out one after another, as if each were reviewed in turn."""
    queue, order = review_queue(), []
    while (email_id := queue.next_email_id(leaving_out=order)) is not None:
        order.append(email_id)
    return order


def test_manual_review_comes_first_oldest_first_then_the_qa_sample_oldest_first(waiting):
    assert worked_in_order() == [
        waiting["manual_old"].pk, waiting["manual_new"].pk, waiting["sample_old"].pk, waiting["sample_classified"].pk,
    ]


def test_e_mails_arrived_in_the_same_instant_are_taken_by_id(waiting):
    IncomingEmail.objects.filter(status=Status.MANUAL_REVIEW).update(created_at=waiting["manual_new"].created_at)
    assert worked_in_order()[:2] == sorted([waiting["manual_old"].pk, waiting["manual_new"].pk])


def test_a_reviewed_e_mail_leaves_the_queue(waiting):
    IncomingEmail.objects.filter(pk=waiting["manual_old"].pk).update(status=Status.REVIEWED)
    IncomingEmail.objects.filter(pk=waiting["sample_old"].pk).update(status=Status.REVIEWED)
    assert worked_in_order() == [waiting["manual_new"].pk, waiting["sample_classified"].pk]


def test_the_queue_counts_both_parts(waiting):
    counts = review_queue().counts()
    assert {part: str(count) for part, count in counts.items()} == {"manual_review": "2", "sample": "2", "total": "4"}


def test_an_empty_queue_has_no_next_e_mail():
    queue_email(status=Status.EXTRACTED, minutes_ago=1)
    assert review_queue().next_email_id() is None
    assert not review_queue().counts()["total"]


def test_each_e_mail_knows_which_part_of_the_queue_it_waits_in(waiting):
    parts = {name: review_queue_part(email) for name, email in waiting.items()}
    assert parts == {
        "sample_old": "sample", "manual_new": "manual_review", "sample_classified": "sample",
        "manual_old": "manual_review", "sample_reviewed": "", "reviewed": "", "extracted": "", "failed": "",
        "queued": "",
    }


def test_the_queue_counts_stop_at_the_cap_and_say_more_than(monkeypatch):
    """Like the e-mail list, the index page never counts the whole backlog: above the cap it says "more than"."""
    monkeypatch.setattr(selectors, "REVIEW_COUNT_UP_TO", 3)
    for minutes in range(4):
        queue_email(status=Status.MANUAL_REVIEW, minutes_ago=minutes)
    for minutes in range(2):
        queue_email(status=Status.EXTRACTED, review_sample=True, minutes_ago=minutes)
    counts = review_queue().counts()
    assert {part: str(count) for part, count in counts.items()} == {
        "manual_review": "more than 3", "sample": "2", "total": "more than 3",
    }


def test_two_parts_under_the_cap_make_a_total_over_it(monkeypatch):
    monkeypatch.setattr(selectors, "REVIEW_COUNT_UP_TO", 3)
    for minutes in range(2):
        queue_email(status=Status.MANUAL_REVIEW, minutes_ago=minutes)
        queue_email(status=Status.CLASSIFIED, review_sample=True, minutes_ago=minutes)
    counts = review_queue().counts()
    assert [str(counts[part]) for part in ("manual_review", "sample", "total")] == ["2", "2", "more than 3"]


def test_the_queue_counts_read_at_most_the_cap_plus_one_rows_per_part(monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(selectors, "REVIEW_COUNT_UP_TO", 3)
    with django_assert_num_queries(2) as captured:
        review_queue().counts()
    assert all("LIMIT 4" in query["sql"] for query in captured.captured_queries)
