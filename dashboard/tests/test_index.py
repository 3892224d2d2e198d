"""The admin index shows operators the active prompt versions, today's e-mails and the failed ones."""

from datetime import timedelta

import pytest
from django.utils import timezone

from extraction import selectors as extraction_selectors
from extraction.models import IncomingEmail
from prompts.models import PromptRollout
from prompts.selectors import get_active_prompt
from prompts.services import activation_request, prompt_activate, rollout_roll_back, rollout_start, rollout_stop
from prompts.tests.factories import ACTIVATE_VERSION, login, make_staff_user, make_version

pytestmark = pytest.mark.django_db


def email(n, status, *, created_at=None, error=""):
    return IncomingEmail.objects.create(
        message_id=f"<{n}@example.org>", sender=f"glaeubiger{n}@example.org", subject=f"Forderung {n}",
        status=status, error=error, created_at=created_at or timezone.now(),
    )


def test_the_index_shows_the_active_version_of_every_prompt_with_a_link_to_its_charts(client, intent_v2):
    prompt_activate(template=intent_v2, activated_by="erika")
    response = login(client, "erika", "prompts.view_prompttemplate").get("/admin/")
    keys = [(p["key"], p["active"].version) for p in response.context["prompt_overview"]]
    assert keys == [
        ("classification.email_intent", 2), ("extraction.email_body", 1), ("extraction.image", 1),
        ("extraction.pdf_scanned", 1),
    ]
    assert "/admin/performance/classification/email_intent/" in response.content.decode()


def test_the_index_counts_todays_emails_by_status(client):
    email(1, "extracted")
    email(2, "extracted")
    email(3, "manual_review")
    email(4, "extracted", created_at=timezone.now() - timedelta(days=2))  # not today
    response = login(client, "erika", "extraction.view_incomingemail").get("/admin/")
    counts = {row["status"]: row["count"] for row in response.context["emails_today"]}
    assert counts["extracted"] == 2
    assert counts["manual_review"] == 1
    assert counts["failed"] == 0
    assert "?status__exact=manual_review" in response.content.decode()


def test_the_index_lists_failed_emails_with_links_to_them(client):
    failed = email(1, "failed", error="classify: APITimeoutError", created_at=timezone.now() - timedelta(days=9))
    response = login(client, "erika", "extraction.view_incomingemail").get("/admin/")
    html = response.content.decode()
    assert response.context["failed_count"] == 1
    assert f"/admin/extraction/incomingemail/{failed.pk}/change/" in html
    assert "/admin/extraction/incomingemail/?status__exact=failed" in html
    assert "classify: APITimeoutError" in html


def test_the_index_shows_the_review_queue_to_reviewers(client):
    email(1, "manual_review")
    email(2, "manual_review")
    response = login(client, "rita", "extraction.view_incomingemail", "extraction.review_email").get("/admin/")
    html = response.content.decode()
    assert "<strong>2 to review</strong>" in html
    assert "2 in manual review, 0 in the QA sample" in html


def test_the_index_caps_the_review_count_instead_of_counting_the_whole_backlog(client, monkeypatch):
    monkeypatch.setattr(extraction_selectors, "REVIEW_COUNT_UP_TO", 2)
    for n in range(3):
        email(n, "manual_review")
    response = login(client, "rita", "extraction.view_incomingemail", "extraction.review_email").get("/admin/")
    html = response.content.decode()
    assert "<strong>more than 2 to review</strong>" in html
    assert "more than 2 in manual review, 0 in the QA sample" in html


def test_the_index_shows_only_what_the_operator_may_see(client, db):
    email(1, "failed")
    response = login(client, "otto").get("/admin/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "prompt_overview" not in response.context
    assert "emails_today" not in response.context
    assert 'id="overview-failed"' not in html
    assert "/admin/operations/" not in html


def test_the_index_links_to_the_operations_page_for_those_who_may_open_it(client, db):
    html = login(client, "erika", "metrics.view_operationalmetricsdaily").get("/admin/").content.decode()
    assert "/admin/operations/" in html


def test_the_index_lists_pending_requests_running_canaries_and_the_monitors_recent_decisions(client, intent_v1):
    erika = make_staff_user("erika", ACTIVATE_VERSION)
    v2, v3 = make_version(intent_v1), make_version(intent_v1)
    rolled_back = rollout_start(candidate=v2, percent=20, started_by="erika")
    rollout_roll_back(rollout=rolled_back, reason="the candidate failed 10 of its first 20 calls", figures={})
    running = rollout_start(candidate=v3, percent=10, started_by="erika")
    request = activation_request(
        template=make_version(get_active_prompt("extraction", "email_body")), requested_by=erika, reason="Bitte prüfen",
    )
    old = rollout_start(candidate=make_version(get_active_prompt("extraction", "image")), percent=5, started_by="x")
    rollout_stop(rollout=old, stopped_by="olga", reason="long ago")
    PromptRollout.objects.filter(pk=old.pk).update(ended_at=timezone.now() - timedelta(days=8))

    response = login(client, "olga", "prompts.view_prompttemplate").get("/admin/")
    assert response.context["pending_requests"] == [request]
    assert response.context["running_rollouts"] == [running]
    assert response.context["ended_rollouts"] == [rolled_back]  # the stop 8 days ago is not listed
    html = response.content.decode()
    assert f"/admin/prompts/activationrequest/{request.pk}/change/" in html
    assert f"/admin/prompts/promptrollout/{running.pk}/change/" in html
    assert "Canary rolled back:" in html and "the candidate failed 10 of its first 20 calls" in html


def test_the_index_shows_releases_only_to_those_who_may_see_prompts(client, intent_v1):
    rollout_start(candidate=make_version(intent_v1), percent=20, started_by="erika")
    response = login(client, "otto", "extraction.view_incomingemail").get("/admin/")
    assert "running_rollouts" not in response.context
    assert 'id="overview-release"' not in response.content.decode()
