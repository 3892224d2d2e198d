"""The admin index shows operators the active prompt versions, today's e-mails and the failed ones."""

from datetime import timedelta

import pytest
from django.utils import timezone

from extraction.models import IncomingEmail
from prompts.services import prompt_activate
from prompts.tests.factories import login

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
