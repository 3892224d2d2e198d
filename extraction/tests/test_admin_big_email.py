"""A hostile e-mail (10,000 attachments, a 50 MB body) still has a small, fast admin page (issue 10.6).

The page shows a page of attachments at a time and the head of each body, with a download of the
whole body for those who may view the e-mail; nothing a sender wrote is lost or rendered.
"""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from extraction import admin as email_admin
from extraction.models import EmailAttachment, ExtractionResult, IncomingEmail

pytestmark = pytest.mark.django_db

ATTACHMENTS = 10_000
BODY_BYTES = 50 * 1024 * 1024
# The page with 50 attachment rows, the head of the body and the rest of the form.
PAGE_BYTES_AT_MOST = 250_000
# session, user, the e-mail, two body heads, attachment count and page, results (count, rows),
# prompt versions, permission checks; on PostgreSQL also SET and RESET of the statement timeout.
QUERIES_AT_MOST = 16
END = "ENDE-DER-NACHRICHT"


def change_url(email, query=""):
    return reverse("admin:extraction_incomingemail_change", args=[email.pk]) + query


def body_url(email, part):
    return reverse("admin:extraction_incomingemail_body", args=[email.pk, part])


@pytest.fixture
def huge_email():
    # A body ending in a marker the page must not show.
    body = ("Forderungsaufstellung " * (BODY_BYTES // 22))[: BODY_BYTES - len(END)] + END
    email = IncomingEmail.objects.create(
        message_id="<flood@example.org>", sender="Flood <x@example.org>", subject="Forderung mit 10.000 Anhängen",
        body_text=body, body_html="<p>" + "x" * 30_000 + "</p>", status=IncomingEmail.Status.MANUAL_REVIEW,
    )
    EmailAttachment.objects.bulk_create(
        EmailAttachment(email=email, original_name=f"rechnung_{n:05}.pdf", content_type="application/pdf",
                        size=300, sha256=f"{n:064}", refused_reason="too many attachments")
        for n in range(ATTACHMENTS)
    )
    return email


def test_the_page_of_an_email_with_10000_attachments_and_a_50_mb_body_stays_small(
    admin_client, huge_email, django_assert_max_num_queries
):
    with django_assert_max_num_queries(QUERIES_AT_MOST):
        response = admin_client.get(change_url(huge_email))
    page = response.content.decode()
    assert response.status_code == 200
    assert len(response.content) < PAGE_BYTES_AT_MOST
    assert "Attachments (10,000)" in page
    assert "Attachments 1–50 of 10,000." in page
    assert "rechnung_00000.pdf" in page and "rechnung_00049.pdf" in page and "rechnung_00050.pdf" not in page
    assert "no: too many attachments" in page
    shows_head, shows_end = "Forderungsaufstellung Forderungsaufstellung" in page, END in page
    assert shows_head and not shows_end  # booleans: pytest would diff a 50 MB string
    assert "The first 20,000 characters of 50.0\xa0MB are shown." in page
    assert f'href="{body_url(huge_email, "text")}"' in page


def test_every_attachment_can_be_reached_page_by_page(admin_client, huge_email):
    page = admin_client.get(change_url(huge_email, "?attachments=2")).content.decode()
    assert "Attachments 51–100 of 10,000." in page
    assert "rechnung_00050.pdf" in page and "rechnung_00100.pdf" not in page
    last = admin_client.get(change_url(huge_email, "?attachments=200")).content.decode()
    assert "rechnung_09999.pdf" in last and "(page 200 of 200)" in last
    # Nonsense page numbers show the first or the last page, never an error.
    assert "rechnung_09999.pdf" in admin_client.get(change_url(huge_email, "?attachments=999")).content.decode()
    assert "rechnung_00000.pdf" in admin_client.get(change_url(huge_email, "?attachments=x")).content.decode()


def test_the_whole_body_downloads_as_plain_text(admin_client, huge_email):
    response = admin_client.get(body_url(huge_email, "text"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="email-{huge_email.pk}-body.txt"'
    whole = len(response.content) == BODY_BYTES and response.content.endswith(END.encode())
    assert whole
    html = admin_client.get(body_url(huge_email, "html"))
    # The HTML source is a text file too: a browser never renders a creditor's HTML from here.
    assert html["Content-Type"] == "text/plain; charset=utf-8"
    assert html.content.decode() == huge_email.body_html


def test_downloading_a_body_needs_permission_to_view_emails(client, huge_email):
    clerk = User.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(clerk)
    assert client.get(body_url(huge_email, "text")).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_incomingemail"))
    clerk = User.objects.get(pk=clerk.pk)  # fresh permission cache
    client.force_login(clerk)
    assert client.get(body_url(huge_email, "text")).status_code == 200
    assert client.get(body_url(huge_email, "attachments")).status_code == 404


def test_a_short_body_is_shown_whole_without_a_download_link(admin_client):
    email = IncomingEmail.objects.create(message_id="<short@x>", sender="a", body_text="Kurze Antwort.")
    page = admin_client.get(change_url(email)).content.decode()
    assert "Kurze Antwort." in page
    assert body_url(email, "text") not in page


def test_only_the_first_results_are_shown_with_how_many_there_are(admin_client, huge_email):
    attachments = list(huge_email.attachments.order_by("id")[:40])
    ExtractionResult.objects.bulk_create(
        ExtractionResult(email=huge_email, source=ExtractionResult.Source.PDF, attachment=a, error=f"result {n}")
        for n, a in enumerate(attachments)
    )
    response = admin_client.get(change_url(huge_email))
    [results] = [f for f in response.context["inline_admin_formsets"] if f.opts.model is ExtractionResult]
    assert len(list(results)) == email_admin.RESULTS_SHOWN
    assert f"The first {email_admin.RESULTS_SHOWN} of 40 results are shown." in response.content.decode()


def test_the_delete_confirmation_counts_the_attachments_without_fetching_each(
    admin_client, huge_email, django_assert_max_num_queries
):
    url = reverse("admin:extraction_incomingemail_delete", args=[huge_email.pk])
    with django_assert_max_num_queries(QUERIES_AT_MOST):
        response = admin_client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert len(response.content) < PAGE_BYTES_AT_MOST
    assert "<li>Incoming emails: 1</li>" in page and "<li>Email attachments: 10,000</li>" in page
    assert "rechnung_" not in page
    admin_client.post(url, {"post": "yes"})
    assert not IncomingEmail.objects.filter(pk=huge_email.pk).exists()
    assert not EmailAttachment.objects.exists()


def test_deleting_many_emails_at_once_lists_the_first_few(admin_client, huge_email):
    others = IncomingEmail.objects.bulk_create(
        IncomingEmail(message_id=f"<{n}@x>", sender="a", subject=f"Spam {n}") for n in range(60)
    )
    response = admin_client.post(
        reverse("admin:extraction_incomingemail_changelist"),
        {"action": "delete_selected", "_selected_action": [e.pk for e in [huge_email, *others]]},
    )
    page = response.content.decode()
    assert "<li>Incoming emails: 61</li>" in page and "<li>Email attachments: 10,000</li>" in page
    assert "… and 11 more" in page
