"""Operators without a shell upload .eml files in the admin; the admin index shows how the mailbox intake is doing."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from extraction.models import IncomingEmail, MailboxFailure, MailboxState
from extraction.tests.conftest import raw_email
from prompts.tests.factories import login

pytestmark = pytest.mark.django_db

UPLOAD = reverse("admin:extraction_incomingemail_upload")
UPLOADER = ("extraction.view_incomingemail", "extraction.upload_email")


def eml(name, data=None):
    return SimpleUploadedFile(name, data if data is not None else raw_email(name), content_type="message/rfc822")


def test_an_operator_uploads_several_files_and_sees_what_became_of_each(client, settings):
    settings.EMAIL_UPLOAD_MAX_BYTES = 100_000
    login(client, "erika", *UPLOADER)
    client.post(UPLOAD, {"files": [eml("rejection_windows1252.eml")]})

    response = client.post(UPLOAD, {"files": [
        eml("acceptance_utf8_qp.eml"), eml("rejection_windows1252.eml"), eml("broken_mime.eml"),
        eml("riesig.eml", b"From: a@b.de\r\n\r\n" + b"x" * 100_001), eml("statement_with_pdf.eml"),
    ]})

    assert response.status_code == 200
    outcomes = [(r["name"], r["outcome"]) for r in response.context["results"]]
    assert outcomes == [
        ("acceptance_utf8_qp.eml", "new"), ("rejection_windows1252.eml", "duplicate"),
        ("broken_mime.eml", "refused"), ("riesig.eml", "refused"), ("statement_with_pdf.eml", "new"),
    ]
    html = response.content.decode()
    assert "not a usable e-mail: broken MIME structure" in html
    assert "over the limit of 0.0953674 MB" in html
    assert "2 new e-mail(s) queued, 1 duplicate(s) already there, 2 refused." in html
    assert IncomingEmail.objects.count() == 3
    assert IncomingEmail.objects.get(subject__startswith="Forderungsaufstellung Thomas").attachments.count() == 1
    assert LogEntry.objects.filter(change_message="Uploaded as acceptance_utf8_qp.eml").exists()


def test_each_uploaded_email_is_queued_once(client, queued, django_capture_on_commit_callbacks):
    login(client, "erika", *UPLOADER)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(UPLOAD, {"files": [eml("acceptance_utf8_qp.eml"), eml("acceptance_utf8_qp.eml")]})
    assert queued == [IncomingEmail.objects.get().pk]


def test_a_file_name_is_shown_escaped(client):
    login(client, "erika", *UPLOADER)
    response = client.post(UPLOAD, {"files": [eml("<img src=x onerror=alert(1)>.eml", b"kein E-Mail")]})
    html = response.content.decode()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;.eml" in html


def test_view_only_staff_cannot_open_or_post_the_upload(client):
    login(client, "otto", "extraction.view_incomingemail")
    assert client.get(UPLOAD).status_code == 403
    assert client.post(UPLOAD, {"files": [eml("acceptance_utf8_qp.eml")]}).status_code == 403
    assert not IncomingEmail.objects.exists()


def test_the_email_list_offers_the_upload_only_to_who_may_use_it(client):
    changelist = reverse("admin:extraction_incomingemail_changelist")
    assert UPLOAD in login(client, "erika", *UPLOADER).get(changelist).content.decode()
    assert UPLOAD not in login(client, "otto", "extraction.view_incomingemail").get(changelist).content.decode()


# The intake status on the admin index -----------------------------------------------------------

def test_the_index_shows_the_last_fetch_the_last_error_and_the_unreadable_messages(client):
    now = timezone.now()
    mailbox = MailboxState.objects.create(
        mailbox="kanzlei@imap.example.org:993/INBOX", last_success_at=now - timedelta(minutes=3),
        last_error_at=now - timedelta(minutes=1), last_error="connecting: imap.example.org:993 refused the connection",
    )
    MailboxFailure.objects.create(mailbox=mailbox, uid_validity=1, uid=4, sha256="0" * 64, size=9, reason="broken")

    response = login(client, "erika", "extraction.view_mailboxstate").get("/admin/")

    html = response.content.decode()
    assert "kanzlei@imap.example.org:993/INBOX" in html
    assert 'data-failing="true"' in html and "refused the connection" in html
    assert "1 message could not be read" in html
    assert f"/admin/extraction/mailboxfailure/?mailbox__id__exact={mailbox.pk}" in html


def test_an_error_older_than_the_last_success_is_not_shown_as_failing(client):
    now = timezone.now()
    MailboxState.objects.create(
        mailbox="kanzlei@imap.example.org:993/INBOX", last_success_at=now, last_error_at=now - timedelta(hours=1),
        last_error="timeout",
    )
    html = login(client, "erika", "extraction.view_mailboxstate").get("/admin/").content.decode()
    assert 'data-failing="false"' in html


def test_the_index_says_when_no_mailbox_is_set_up_and_never_shows_the_imap_url(client, settings):
    settings.IMAP_URL = ""
    html = login(client, "erika", "extraction.view_mailboxstate").get("/admin/").content.decode()
    assert "No IMAP mailbox is set up" in html
    settings.IMAP_URL = "imaps://kanzlei:Geheim-Passwort@imap.example.org/INBOX"
    html = client.get("/admin/").content.decode()
    assert "has not been fetched yet" in html and "Geheim-Passwort" not in html


def test_the_intake_status_is_only_for_who_may_see_it(client):
    response = login(client, "otto", "extraction.view_incomingemail").get("/admin/")
    assert "overview-intake" not in response.content.decode()
