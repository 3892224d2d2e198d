"""The e-mail list and page as an operator reads them: compact columns, the merged result first, re-queue buttons."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils.html import escape

from extraction import tasks
from extraction.models import ExtractionResult, IncomingEmail
from extraction.services import ingest_message
from extraction.tests.conftest import raw_email

pytestmark = pytest.mark.django_db
Status = IncomingEmail.Status
LONG_REASON = "classify: " + "the model answered 529 overloaded, retried and gave up " * 4


def failed_email(name="acceptance_utf8_qp.eml", error=LONG_REASON):
    email = ingest_message(raw_email(name))
    IncomingEmail.objects.filter(pk=email.pk).update(status=Status.FAILED, error=error)
    email.refresh_from_db()
    return email


def viewer(client):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_incomingemail"))
    client.force_login(user)
    return client


def change_url(email):
    return reverse("admin:extraction_incomingemail_change", args=[email.pk])


def test_the_list_shows_a_status_badge_and_the_reason_cut_with_the_whole_in_its_tooltip(admin_client):
    email = failed_email()
    page = admin_client.get(reverse("admin:extraction_incomingemail_changelist")).content.decode()
    assert '<span class="status-badge status-failed">Failed</span>' in page
    assert f'title="{LONG_REASON}"' in page
    assert LONG_REASON[:59] + "…" in page and f">{LONG_REASON}<" not in page
    assert "extraction/email_admin.css" in page
    assert f'title="{escape(email.sender)}"' in page  # a long sender is cut too, and escaped


def test_the_email_page_puts_the_merged_result_first_and_folds_the_per_source_results(admin_client, api):
    email = ingest_message(raw_email("statement_with_pdf.eml"))
    tasks.process_email(email.pk, client=api.client())
    page = admin_client.get(change_url(email)).content.decode()
    merged, body, pdf = (page.index(f"result-{source}") for source in ("merged", "body", "pdf"))
    assert merged < body and merged < pdf
    assert page.count('<details class="result-source">') == 2  # body and PDF; the merged result stays open


def test_the_email_page_shortens_checksums_and_wraps_the_message_id(admin_client, api):
    email = ingest_message(raw_email("statement_with_pdf.eml"))
    sha256 = email.attachments.get().sha256
    page = admin_client.get(change_url(email)).content.decode()
    assert f'<summary title="{sha256}"><code>{sha256[:12]}…</code></summary>' in page
    assert f'<code class="long-value">{sha256}</code>' in page  # unfolds, to read or copy
    assert '<code class="long-value">&lt;' in page  # the Message-ID, escaped, in a wrapping element


def test_an_attachment_counts_as_analysed_by_the_model_only_once_it_was(admin_client, api):
    email = ingest_message(raw_email("statement_with_pdf.eml"))
    assert "<td>yes</td>" not in admin_client.get(change_url(email)).content.decode()

    tasks.process_email(email.pk, client=api.client())
    assert ExtractionResult.objects.filter(attachment=email.attachments.get()).exists()
    assert "<td>yes</td>" in admin_client.get(change_url(email)).content.decode()


def test_a_failed_email_page_offers_a_requeue_button_that_queues_it(admin_client, queued,
                                                                    django_capture_on_commit_callbacks):
    email = failed_email()
    url = reverse("admin:extraction_incomingemail_requeue", args=[email.pk])
    assert url in admin_client.get(change_url(email)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == change_url(email)
    assert "1 e-mail(s) re-queued." in response.content.decode()
    email.refresh_from_db()
    assert (email.status, email.error, queued) == (Status.QUEUED, "", [email.pk])
    assert url not in admin_client.get(change_url(email)).content.decode()  # queued, not failed: no button


def test_the_requeue_button_is_post_only_and_not_for_operators_who_may_only_view(admin_client, client, queued):
    email = failed_email()
    url = reverse("admin:extraction_incomingemail_requeue", args=[email.pk])
    assert admin_client.get(url).status_code == 405
    client = viewer(client)
    assert url not in client.get(change_url(email)).content.decode()
    assert client.post(url).status_code == 403
    email.refresh_from_db()
    assert email.status == Status.FAILED and queued == []


def test_requeue_all_failed_confirms_with_the_count_then_queues_every_failed_email(
    admin_client, queued, django_capture_on_commit_callbacks
):
    failed = [failed_email(), failed_email("rejection_windows1252.eml")]
    extracted = ingest_message(raw_email("statement_iso8859_qp.eml"))
    IncomingEmail.objects.filter(pk=extracted.pk).update(status=Status.EXTRACTED)
    url = reverse("admin:extraction_incomingemail_requeue_failed")
    assert url in admin_client.get(reverse("admin:index")).content.decode()

    confirmation = admin_client.get(url).content.decode()
    assert "2 e-mails have failed." in confirmation
    assert queued == [] and IncomingEmail.objects.filter(status=Status.FAILED).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, follow=True)
    assert "2 e-mail(s) re-queued." in response.content.decode()
    assert sorted(queued) == sorted(email.pk for email in failed)
    assert IncomingEmail.objects.get(pk=extracted.pk).status == Status.EXTRACTED


def test_requeue_all_failed_takes_the_longest_failed_first_when_more_failed_than_one_click_takes(
    admin_client, queued, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("extraction.admin.REQUEUE_AT_MOST", 1)
    first, second = failed_email(), failed_email("rejection_windows1252.eml")
    url = reverse("admin:extraction_incomingemail_requeue_failed")
    assert "re-queues the 1 that failed first" in admin_client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url)
    assert queued == [first.pk]
    assert IncomingEmail.objects.get(pk=second.pk).status == Status.FAILED


def test_operators_who_may_only_view_get_no_requeue_all_link_and_no_page(client, queued):
    failed_email()
    client = viewer(client)
    url = reverse("admin:extraction_incomingemail_requeue_failed")
    assert url not in client.get(reverse("admin:index")).content.decode()
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    assert queued == [] and IncomingEmail.objects.filter(status=Status.FAILED).count() == 1
