"""Two operators working the review queue at once: the e-mail one has open is held for them for
REVIEW_CLAIM_MINUTES; "next in queue" passes it by; the other sees who holds it, reads it, or takes it over;
saving or skipping releases it."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from extraction.models import IncomingEmail
from extraction.review import merged_answer
from extraction.selectors import review_queue
from extraction.services import email_review, email_review_claim, email_review_release
from extraction.tests.reviewing import make_reviewer, queue_email

pytestmark = pytest.mark.django_db
Status = IncomingEmail.Status
NEXT_URL = reverse("admin:extraction_incomingemail_review_next")


def review_url(email):
    return reverse("admin:extraction_incomingemail_review", args=[email.pk])


def holder(email):
    email.refresh_from_db()
    return email.review_claimed_by


@pytest.fixture
def anna():
    return make_reviewer("anna")


@pytest.fixture
def ben():
    return make_reviewer("ben")


@pytest.fixture
def oldest():
    """Two e-mails in manual review; the queue hands out `oldest` first."""
    email = queue_email(status=Status.MANUAL_REVIEW, minutes_ago=60)
    queue_email(status=Status.MANUAL_REVIEW, minutes_ago=30)
    return email


def claimed_minutes_ago(email, operator, minutes):
    IncomingEmail.objects.filter(pk=email.pk).update(
        review_claimed_by=operator, review_claimed_at=timezone.now() - datetime.timedelta(minutes=minutes)
    )


# The claim itself ---------------------------------------------------------------------------------------

def test_a_claim_is_refused_while_another_operator_holds_the_e_mail(oldest, anna, ben):
    assert email_review_claim(email_id=oldest.pk, operator=anna)
    assert not email_review_claim(email_id=oldest.pk, operator=ben)
    assert holder(oldest) == anna


def test_the_holder_claims_again_and_the_claim_runs_from_then(oldest, anna):
    claimed_minutes_ago(oldest, anna, 9)
    assert email_review_claim(email_id=oldest.pk, operator=anna)
    oldest.refresh_from_db()
    assert timezone.now() - oldest.review_claimed_at < datetime.timedelta(seconds=30)


def test_a_claim_lapses_after_review_claim_minutes(oldest, anna, ben, settings):
    settings.REVIEW_CLAIM_MINUTES = 10
    claimed_minutes_ago(oldest, anna, 9)
    assert not email_review_claim(email_id=oldest.pk, operator=ben)
    claimed_minutes_ago(oldest, anna, 11)
    assert email_review_claim(email_id=oldest.pk, operator=ben)
    assert holder(oldest) == ben


def test_taking_over_ends_the_other_operators_claim(oldest, anna, ben):
    email_review_claim(email_id=oldest.pk, operator=anna)
    assert email_review_claim(email_id=oldest.pk, operator=ben, take_over=True)
    assert holder(oldest) == ben


def test_releasing_leaves_a_claim_someone_else_took_over_alone(oldest, anna, ben):
    email_review_claim(email_id=oldest.pk, operator=anna)
    email_review_claim(email_id=oldest.pk, operator=ben, take_over=True)
    email_review_release(email_id=oldest.pk, operator=anna)
    assert holder(oldest) == ben
    email_review_release(email_id=oldest.pk, operator=ben)
    assert holder(oldest) is None
    assert oldest.review_claimed_at is None


def test_saving_a_review_releases_the_claim(oldest, anna):
    email_review_claim(email_id=oldest.pk, operator=anna)
    email_review(email=oldest, reviewed_by=anna, intent="spam", facts=merged_answer(oldest)["facts"])
    assert holder(oldest) is None


def test_deleting_an_operator_frees_their_claims(oldest, anna, ben):
    email_review_claim(email_id=oldest.pk, operator=anna)
    anna.delete()
    assert holder(oldest) is None
    assert email_review_claim(email_id=oldest.pk, operator=ben)


# The queue ------------------------------------------------------------------------------------------------

def test_next_in_queue_passes_by_an_e_mail_another_operator_holds(oldest, anna, ben):
    email_review_claim(email_id=oldest.pk, operator=anna)
    queue = review_queue()
    assert queue.next_email_id(operator=anna) == oldest.pk  # their own stays theirs
    assert queue.next_email_id(operator=ben) not in (None, oldest.pk)


def test_next_in_queue_hands_out_an_e_mail_whose_claim_lapsed(oldest, anna, ben, settings):
    claimed_minutes_ago(oldest, anna, settings.REVIEW_CLAIM_MINUTES + 1)
    assert review_queue().next_email_id(operator=ben) == oldest.pk


def test_the_qa_sample_passes_by_held_e_mails_too(anna, ben):
    sample = queue_email(status=Status.EXTRACTED, review_sample=True, minutes_ago=5)
    email_review_claim(email_id=sample.pk, operator=anna)
    assert review_queue().next_email_id(operator=ben) is None


# The workstation ------------------------------------------------------------------------------------------

def test_two_operators_taking_the_next_e_mail_get_different_ones(client, oldest, anna, ben):
    client.force_login(anna)
    first = client.get(NEXT_URL)
    client.force_login(ben)
    second = client.get(NEXT_URL)
    assert first.url == review_url(oldest)
    assert second.url != first.url and "/review/" in second.url
    assert holder(oldest) == anna


def test_opening_an_e_mail_claims_it(client, oldest, anna):
    client.force_login(anna)
    response = client.get(review_url(oldest))
    assert response.status_code == 200 and response.context["held_elsewhere"] is None
    assert holder(oldest) == anna


def test_an_e_mail_another_operator_holds_opens_read_only_with_who_and_since_when(client, oldest, anna, ben):
    claimed_minutes_ago(oldest, anna, 3)
    oldest.refresh_from_db()
    client.force_login(ben)
    response = client.get(review_url(oldest))
    page = response.content.decode()
    since = timezone.localtime(oldest.review_claimed_at).strftime("%H:%M")
    assert f"anna has had this e-mail open since {since}" in page
    assert all(field.disabled for field in response.context["form"].fields.values())
    assert 'value="take_over"' in page and 'value="save"' not in page and 'value="confirm"' not in page
    assert holder(oldest) == anna  # looking does not take it


def test_taking_over_from_the_read_only_page_makes_it_editable(client, oldest, anna, ben):
    email_review_claim(email_id=oldest.pk, operator=anna)
    client.force_login(ben)
    response = client.post(review_url(oldest), {"action": "take_over"}, follow=True)
    assert holder(oldest) == ben
    assert "You took over" in response.content.decode() and "from anna" in response.content.decode()
    assert response.context["held_elsewhere"] is None
    assert not any(field.disabled for field in response.context["form"].fields.values())


def test_a_save_after_another_operator_took_over_is_refused_and_keeps_the_values(client, oldest, anna, ben):
    email_review_claim(email_id=oldest.pk, operator=ben)
    client.force_login(anna)
    response = client.post(review_url(oldest), {"action": "save", "intent": "spam", "revision": "0",
                                                "creditor_name": "Meine Korrektur", "accepts_plan": "unknown"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Not saved: ben has had this e-mail open since" in page
    assert 'value="Meine Korrektur"' in page
    assert IncomingEmail.objects.get(pk=oldest.pk).status == Status.MANUAL_REVIEW
    # Taking over with those values shows them again, now to be saved.
    response = client.post(review_url(oldest), {"action": "take_over", "intent": "spam", "revision": "0",
                                                "creditor_name": "Meine Korrektur", "accepts_plan": "unknown"})
    assert holder(oldest) == anna
    assert 'value="Meine Korrektur"' in response.content.decode() and 'value="save"' in response.content.decode()
    response = client.post(review_url(oldest), {"action": "save", "intent": "spam", "revision": "0",
                                                "creditor_name": "Meine Korrektur", "accepts_plan": "unknown"})
    assert response.status_code == 302
    oldest.refresh_from_db()
    assert oldest.status == Status.REVIEWED and oldest.review_claimed_by is None


def test_skipping_releases_the_claim(client, oldest, anna):
    client.force_login(anna)
    client.get(review_url(oldest))
    client.post(review_url(oldest), {"action": "skip"})
    assert holder(oldest) is None


def test_going_on_to_the_next_without_saving_releases_the_claim(client, oldest, anna):
    client.force_login(anna)
    client.get(review_url(oldest))
    response = client.get(f"{NEXT_URL}?after={oldest.pk}")
    assert response.url != review_url(oldest)
    assert holder(oldest) is None


def test_nothing_to_review_when_every_waiting_e_mail_is_held_by_someone_else(client, anna, ben):
    email = queue_email(status=Status.MANUAL_REVIEW, minutes_ago=5)
    email_review_claim(email_id=email.pk, operator=anna)
    client.force_login(ben)
    response = client.get(NEXT_URL)
    assert response.status_code == 200
    assert "open with other operators" in response.content.decode()
