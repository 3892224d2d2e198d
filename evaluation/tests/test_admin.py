"""The canary's admin page: the live comparison of the two arms, and the stop and promote buttons."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from evaluation.tests.calls import record_calls
from metrics.models import PromptAccuracyMetrics
from prompts.tests.factories import OPERATOR_PERMISSIONS, VIEW, make_staff_user

pytestmark = pytest.mark.django_db


def signed_in(username, *permissions):
    client = Client()
    client.force_login(make_staff_user(username, *permissions))
    return client


def page_url(rollout, view="change"):
    return reverse(f"admin:prompts_promptrollout_{view}", args=[rollout.pk])


def test_the_page_compares_both_arms_since_the_start(rollout):
    start = rollout.started_at - timedelta(minutes=10)
    rollout.started_at = start
    rollout.save(update_fields=["started_at"])
    record_calls(rollout.baseline, calls=80, failures=4, start=start + timedelta(seconds=1))
    record_calls(rollout.candidate, calls=20, failures=3, start=start + timedelta(seconds=1), cost="0.005")
    response = signed_in("victor", VIEW).get(page_url(rollout))
    baseline, candidate = response.context["comparison"]["arms"]
    assert (baseline["calls"], baseline["failures"], baseline["failure_text"]) == (80, 4, "5.0% (2.0–12.2%)")
    assert (candidate["calls"], candidate["failures"], candidate["failure_text"]) == (20, 3, "15.0% (5.2–36.0%)")
    assert candidate["cost_per_call"] > baseline["cost_per_call"]
    html = response.content.decode()
    assert "Candidate v2" in html and "480 more candidate calls without a regression" in html
    assert "Stop the canary" not in html  # a viewer may not act


def test_the_comparison_shows_each_arms_accuracy_from_reviews_since_the_start(rollout):
    def review(review_id, version, *, checked, correct, at):
        PromptAccuracyMetrics.objects.create(
            prompt_version=version, review_id=review_id, email_id=review_id, fields_checked=checked,
            fields_correct=correct, intent_checked=1, intent_correct=1, recorded_at=at,
        )

    review(1, rollout.candidate, checked=9, correct=6, at=rollout.started_at + timedelta(minutes=1))
    review(2, rollout.candidate, checked=9, correct=9, at=rollout.started_at + timedelta(minutes=2))
    review(3, rollout.candidate, checked=9, correct=0, at=rollout.started_at - timedelta(minutes=1))  # before
    response = signed_in("victor", VIEW).get(page_url(rollout))
    baseline, candidate = response.context["comparison"]["arms"]
    assert (baseline["accuracy"]["review_count"], baseline["accuracy"]["accuracy"]) == (0, None)
    assert (candidate["accuracy"]["fields_checked"], candidate["accuracy"]["fields_correct"]) == (18, 15)
    html = response.content.decode()
    assert "83.3% of 18 fields, intent 100.0% of 2 (2 reviews)" in html
    assert "no reviews yet" in html


def test_an_operator_stops_the_canary_with_a_reason(rollout):
    client = signed_in("olga", *OPERATOR_PERMISSIONS)
    assert "Stop the canary" in client.get(page_url(rollout)).content.decode()
    response = client.post(page_url(rollout, "stop"), {"reason": ""}, follow=True)
    assert "Nothing changed: Say why the canary is stopped." in [m.message for m in get_messages(response.wsgi_request)]
    client.post(page_url(rollout, "stop"), {"reason": "Gläubiger beschwert sich"})
    rollout.refresh_from_db()
    assert (rollout.state, rollout.ended_by, rollout.end_reason) == ("stopped", "olga", "Gläubiger beschwert sich")


def test_an_operator_promotes_the_canary_now(rollout):
    signed_in("olga", *OPERATOR_PERMISSIONS).post(page_url(rollout, "promote"))
    rollout.refresh_from_db()
    assert (rollout.state, rollout.candidate.is_active) == ("promoted", True)


def test_with_four_eyes_promoting_by_hand_becomes_an_activation_request(rollout, settings):
    settings.PROMPT_FOUR_EYES = True
    response = signed_in("olga", *OPERATOR_PERMISSIONS).post(page_url(rollout, "promote"))
    release_page = reverse("admin:prompts_prompttemplate_release", args=[rollout.candidate_id, "activate"])
    assert response["Location"] == release_page
    rollout.refresh_from_db()
    assert rollout.state == "running"


def test_a_viewer_can_neither_stop_nor_promote(rollout):
    client = signed_in("victor", VIEW)
    assert client.post(page_url(rollout, "stop"), {"reason": "x"}).status_code == 403
    assert client.post(page_url(rollout, "promote")).status_code == 403
    rollout.refresh_from_db()
    assert rollout.state == "running"
