"""The review queue's QA sample: a share (REVIEW_SAMPLE_RATE) of the e-mails that finish automatically is
drawn for review, so accuracy is measured on confident answers too. Drawing never holds an e-mail back."""

import random

import pytest

from extraction.checks import review_sample_rate_check
from extraction.models import IncomingEmail
from extraction.processing import email_finish
from extraction.tests.test_process_email import process

pytestmark = pytest.mark.django_db
Status = IncomingEmail.Status
SEED = 20261202


def finished(count, *, intent_confidence):
    """`count` classified-only e-mails (no facts to extract) finished by the pipeline's last step."""
    emails = IncomingEmail.objects.bulk_create(
        IncomingEmail(message_id=f"<sample-{i}@example.org>", sender="x@example.org", status=Status.PROCESSING,
                      intent="auto_reply", intent_confidence=intent_confidence)
        for i in range(count)
    )
    return [email_finish(email=email, results=[], review_reasons=[], duration_ms=5) for email in emails]


@pytest.mark.parametrize(("rate", "low", "high"), [(0.05, 16, 64), (0.2, 115, 205)])
def test_the_share_drawn_matches_the_sample_rate(settings, rate, low, high):
    settings.REVIEW_SAMPLE_RATE = rate
    random.seed(SEED)
    emails = finished(800, intent_confidence=0.95)
    drawn = sum(email.review_sample for email in emails)
    # Binomial(800, rate): the bounds are the mean ± 4 standard deviations (40 ± 24 and 160 ± 45).
    assert low <= drawn <= high
    # Drawn or not, each e-mail kept its automatic status: nothing is held back.
    assert {email.status for email in emails} == {Status.CLASSIFIED}
    assert IncomingEmail.objects.filter(review_sample=True).count() == drawn


def test_the_same_seed_draws_the_same_emails(settings):
    settings.REVIEW_SAMPLE_RATE = 0.3
    random.seed(SEED)
    first = [email.review_sample for email in finished(50, intent_confidence=0.95)]
    IncomingEmail.objects.all().delete()
    random.seed(SEED)
    assert [email.review_sample for email in finished(50, intent_confidence=0.95)] == first


def test_emails_in_manual_review_are_never_drawn(settings):
    settings.REVIEW_SAMPLE_RATE = 1.0
    emails = finished(20, intent_confidence=0.3)
    assert {(email.status, email.review_sample) for email in emails} == {(Status.MANUAL_REVIEW, False)}


def test_a_drawn_extracted_email_keeps_its_status_and_results(api, settings):
    settings.REVIEW_SAMPLE_RATE = 1.0
    email = process(api, "acceptance_utf8_qp.eml", classify={"intent": "payment_plan", "confidence": 0.96})
    assert (email.status, email.review_sample) == (Status.EXTRACTED, True)
    assert email.results.count() == 2  # the body's and the merged result


def test_with_a_rate_of_zero_nothing_is_drawn(api, settings):
    settings.REVIEW_SAMPLE_RATE = 0.0
    email = process(api, "acceptance_utf8_qp.eml", classify={"intent": "payment_plan", "confidence": 0.96})
    assert (email.status, email.review_sample) == (Status.EXTRACTED, False)


def test_the_classification_version_is_kept_on_the_email(api):
    email = process(api, "acceptance_utf8_qp.eml", classify={"intent": "payment_plan", "confidence": 0.96})
    assert email.intent_prompt_version.key == "classification.email_intent"


@pytest.mark.parametrize(("rate", "errors"), [(0.05, []), (0.0, []), (1.0, []), (1.5, ["extraction.E002"]),
                                              (-0.1, ["extraction.E002"])])
def test_a_sample_rate_that_is_not_a_probability_is_a_startup_error(settings, rate, errors):
    settings.REVIEW_SAMPLE_RATE = rate
    assert [error.id for error in review_sample_rate_check(None)] == errors
