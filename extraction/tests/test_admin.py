"""Operators find e-mails, see what was found in them, download attachments and re-queue failures."""

import datetime

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from extraction import tasks
from extraction.models import IncomingEmail, ModelPrice
from extraction.services import ingest_message
from extraction.tests.conftest import raw_email

pytestmark = pytest.mark.django_db
Status = IncomingEmail.Status


@pytest.fixture
def processed(api):
    email = ingest_message(raw_email("statement_with_pdf.eml"))
    tasks.process_email(email.pk, client=api.client())
    email.refresh_from_db()
    return email


def change_url(email):
    return reverse("admin:extraction_incomingemail_change", args=[email.pk])


def test_the_email_list_filters_by_status_intent_and_confidence_and_searches(admin_client, processed):
    url = reverse("admin:extraction_incomingemail_changelist")
    for query in ["?status=extracted", "?intent=debt_statement", "?confidence_band=high", "?q=Brandt"]:
        response = admin_client.get(url + query)
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [processed], query
    assert list(admin_client.get(url + "?confidence_band=low").context["cl"].result_list) == []


def test_the_email_page_shows_attachments_results_as_json_and_the_prompt_versions(admin_client, processed):
    page = admin_client.get(change_url(processed)).content.decode()
    attachment = processed.attachments.get()
    assert reverse("admin:extraction_attachment_download", args=[attachment.pk]) in page
    assert "Forderungsaufstellung_2026-118-BK.pdf" in page
    assert "&quot;total_claim&quot;: &quot;2.219,67 EUR&quot;" in page  # pretty JSON, escaped
    assert "€2,219.67" in page  # the normalised amount, as money
    for version in ["classification.email_intent v1", "extraction.email_body v1", "extraction.pdf_scanned v1"]:
        assert version in page


def test_an_emails_html_is_shown_as_escaped_source_never_rendered(admin_client, api):
    email = ingest_message(raw_email("photographed_letter.eml"))
    page = admin_client.get(change_url(email)).content.decode()
    assert '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;' in page
    assert '<script>alert("x")</script>' not in page


def test_an_attachment_downloads_as_a_file_not_inline(admin_client, processed):
    attachment = processed.attachments.get()
    response = admin_client.get(reverse("admin:extraction_attachment_download", args=[attachment.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="Forderungsaufstellung_2026-118-BK.pdf"'
    assert b"".join(response.streaming_content).startswith(b"%PDF-1.4")


def test_a_refused_attachment_has_nothing_to_download(admin_client, settings):
    settings.MAX_ATTACHMENT_BYTES = 10
    attachment = ingest_message(raw_email("statement_with_pdf.eml")).attachments.get()
    response = admin_client.get(reverse("admin:extraction_attachment_download", args=[attachment.pk]))
    assert response.status_code == 404


def test_downloading_needs_permission_to_view_emails(client, processed):
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(user)
    url = reverse("admin:extraction_attachment_download", args=[processed.attachments.get().pk])
    assert client.get(url).status_code == 403


def test_the_requeue_action_queues_failed_emails_again(admin_client, queued, django_capture_on_commit_callbacks):
    email = ingest_message(raw_email("acceptance_utf8_qp.eml"))
    IncomingEmail.objects.filter(pk=email.pk).update(status=Status.FAILED, error="classify: overloaded")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:extraction_incomingemail_changelist"),
            {"action": "requeue", "_selected_action": [email.pk]},
            follow=True,
        )
    assert "1 e-mail(s) re-queued." in response.content.decode()
    email.refresh_from_db()
    assert (email.status, email.error) == (Status.QUEUED, "")
    assert queued == [email.pk]


def test_operators_who_may_only_view_cannot_requeue(client, queued):
    email = ingest_message(raw_email("acceptance_utf8_qp.eml"))
    IncomingEmail.objects.filter(pk=email.pk).update(status=Status.FAILED)
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_incomingemail"))
    client.force_login(user)
    url = reverse("admin:extraction_incomingemail_changelist")
    assert client.get(url).context["action_form"] is None  # no action offered
    client.post(url, {"action": "requeue", "_selected_action": [email.pk]})
    email.refresh_from_db()
    assert email.status == Status.FAILED and queued == []


def test_model_prices_are_editable_in_the_admin(admin_client):
    response = admin_client.post(
        reverse("admin:extraction_modelprice_add"),
        {"model_id": "claude-sonnet-4-6", "input_usd_per_mtok": "2.50", "output_usd_per_mtok": "12.50",
         "valid_from": "2027-01-01"},
    )
    assert response.status_code == 302
    assert ModelPrice.objects.get(model_id="claude-sonnet-4-6", valid_from=datetime.date(2027, 1, 1))
