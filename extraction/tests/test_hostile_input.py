"""Hostile e-mails: attachment names cannot escape MEDIA_ROOT, oversize files are refused with a
reason, and whatever a sender (or the model) wrote is shown escaped on every admin page."""

from pathlib import Path

import pytest
from django.urls import reverse

from extraction import tasks
from extraction.ingest import sanitise_filename
from extraction.models import EmailAttachment, ExtractionResult, IncomingEmail
from extraction.services import ingest_message
from extraction.tests.conftest import PDF, multipart_email

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
ESCAPED = {SCRIPT: "&lt;script&gt;alert(1)&lt;/script&gt;", IMG: "&lt;img src=x onerror=alert(1)&gt;"}


# Attachment names -----------------------------------------------------------------------------------

HOSTILE_NAMES = [
    # (Content-Disposition parameters, the sanitised name)
    ('filename="../../etc/passwd"', "passwd"),
    ('filename="../../../../../../tmp/evil.pdf"', "evil.pdf"),
    ('filename="..\\\\..\\\\win.ini"', "win.ini"),
    ('filename="/etc/passwd"', "passwd"),
    ('filename="C:\\\\Windows\\\\System32\\\\drivers\\\\etc\\\\hosts"', "hosts"),
    ('filename="\\\\\\\\server\\\\share\\\\brief.pdf"', "brief.pdf"),
    ('filename="~/.ssh/authorized_keys"', "authorized_keys"),
    ("filename*=utf-8''..%2F..%2F..%2Fetc%2Fcron.d%2Fevil", "evil"),
    ("filename*=utf-8''evil%00.pdf", "evil.pdf"),
    ("filename*=utf-8''Rechnung%E2%80%AEfdp.exe", "Rechnungfdp.exe"),
    ("filename*=utf-8''Forderung%20M%C3%A4rz%202026.pdf", "Forderung März 2026.pdf"),
    ('filename="%2e%2e%2fetc%2fpasswd"', "_2e_2e_2fetc_2fpasswd"),
    ('filename=".htaccess"', "htaccess"),
    ('filename=".."', "attachment.pdf"),
    ('filename=""', "attachment.pdf"),
    ('filename="   "', "attachment.pdf"),
    ('filename="brief.pdf.   "', "brief.pdf"),
    ('filename="<script>alert(1)</script>.pdf"', "script_.pdf"),
    ('filename="a;b|c`d$e&f.pdf"', "a_b_c_d_e_f.pdf"),
]


@pytest.mark.parametrize(("params", "expected"), HOSTILE_NAMES)
def test_attachment_names_are_sanitised_and_stored_under_the_emails_media_folder(media_root, params, expected):
    email = ingest_message(multipart_email((params, "application/pdf", PDF)))
    attachment = email.attachments.get()
    assert attachment.original_name == expected
    stored = Path(attachment.file.path).resolve()
    assert stored.parent == (Path(media_root) / "attachments" / str(email.pk)).resolve()
    assert stored.read_bytes() == PDF
    every_file = [p for p in Path(media_root).parent.rglob("*") if p.is_file()]
    assert every_file == [stored]  # nothing was written anywhere else


def test_a_very_long_name_is_shortened_and_keeps_its_extension(media_root):
    email = ingest_message(multipart_email((f'filename="{"Forderung" * 200}.pdf"', "application/pdf", PDF)))
    attachment = email.attachments.get()
    assert len(attachment.original_name) <= 150 and attachment.original_name.endswith(".pdf")
    assert Path(attachment.file.path).resolve().is_relative_to(Path(media_root).resolve())


def test_two_attachments_with_the_same_name_do_not_overwrite_each_other(media_root):
    other = PDF.replace(b"1 0 obj", b"2 0 obj")
    email = ingest_message(multipart_email(
        ('filename="../Forderung.pdf"', "application/pdf", PDF), ('filename="Forderung.pdf"', "application/pdf", other)
    ))
    first, second = email.attachments.order_by("id")
    assert first.file.name != second.file.name
    assert (first.file.read(), second.file.read()) == (PDF, other)


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "..\\..\\win.ini", "/abs/path.pdf", "a\x00b.pdf", "\u202etxt.exe", ".", "...", "\n\r\t",
     "x" * 5000, "ä/ö\\ü.pdf", "CON", "aux.pdf", "\ud800.pdf"],
)
def test_sanitised_names_have_no_directories_control_characters_or_leading_dots(name):
    cleaned = sanitise_filename(name, "application/pdf")
    assert cleaned and len(cleaned) <= 150
    assert not any(ch in cleaned for ch in "/\\\x00\n\r\t\u202e")
    assert not cleaned.startswith(".") and cleaned not in {".", ".."}


# Size limit --------------------------------------------------------------------------------------

def test_an_oversize_attachment_is_refused_with_a_clear_reason_and_the_email_is_still_ingested(settings, media_root):
    settings.MAX_ATTACHMENT_BYTES = 1000
    big = PDF + b"0" * 5000
    email = ingest_message(multipart_email(
        ('filename="gross.pdf"', "application/pdf", big), ('filename="klein.pdf"', "application/pdf", PDF)
    ))
    assert email.status == IncomingEmail.Status.QUEUED
    refused, kept = email.attachments.order_by("id")
    assert (refused.original_name, refused.size, bool(refused.file)) == ("gross.pdf", len(big), False)
    assert "over the limit" in refused.refused_reason and "MAX_ATTACHMENT_BYTES" in refused.refused_reason
    assert kept.file and kept.refused_reason == ""
    assert [p.name for p in Path(media_root).rglob("*") if p.is_file()] == ["klein.pdf"]


def test_a_refused_attachment_sends_the_email_to_review_with_the_reason(settings, api):
    settings.MAX_ATTACHMENT_BYTES = 1000
    email = ingest_message(multipart_email(('filename="gross.pdf"', "application/pdf", PDF + b"0" * 5000)))
    tasks.process_email(email.pk, client=api.client())
    email.refresh_from_db()
    assert email.status == IncomingEmail.Status.MANUAL_REVIEW
    assert "gross.pdf not analysed: Not stored:" in email.review_reason
    assert "pdf" not in api.kinds()  # never sent to the model


def test_the_admin_says_why_an_attachment_was_refused(admin_client, settings):
    settings.MAX_ATTACHMENT_BYTES = 1000
    email = ingest_message(multipart_email(('filename="gross.pdf"', "application/pdf", PDF + b"0" * 5000)))
    page = admin_client.get(reverse("admin:extraction_incomingemail_change", args=[email.pk])).content.decode()
    assert "no: Not stored:" in page and "over the limit" in page


# Escaping on the admin pages ------------------------------------------------------------------------

@pytest.fixture
def hostile_email():
    """An e-mail whose every sender-controlled field, and the model's answer about it, carries markup."""
    email = ingest_message(multipart_email(
        ('filename="brief.pdf"', "application/pdf", PDF),
        subject=f"Forderung {SCRIPT}", sender=f'"{IMG}" <evil@inkasso.example>',
        html=f"<p>Forderung</p>{SCRIPT}{IMG}",
    ))
    IncomingEmail.objects.filter(pk=email.pk).update(
        body_text=f"Text {SCRIPT} {IMG}", error=f"classify: {SCRIPT}", review_reason=f"{IMG} needs review",
        status=IncomingEmail.Status.MANUAL_REVIEW, intent="debt_statement",
    )
    EmailAttachment.objects.filter(email=email).update(original_name=f"{IMG}.pdf")  # as if sanitising had failed
    ExtractionResult.objects.create(
        email=email, source=ExtractionResult.Source.BODY, raw_response=f'{{"creditor_name": "{SCRIPT}"}}',
        parsed={"creditor_name": SCRIPT, "note": IMG}, creditor_name=SCRIPT, debtor_name=IMG,
        creditor_reference=IMG, error=SCRIPT, unparsed={"total_claim": SCRIPT},
    )
    return email


def escaping_pages(email):
    changelist = reverse("admin:extraction_incomingemail_changelist")
    return {
        "changelist": changelist,
        "search": changelist + "?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "filtered": changelist + "?status=manual_review",
        "change view with results": reverse("admin:extraction_incomingemail_change", args=[email.pk]),
    }


def test_sender_html_and_model_answers_are_escaped_on_every_email_page(admin_client, hostile_email):
    for page_name, url in escaping_pages(hostile_email).items():
        response = admin_client.get(url)
        assert response.status_code == 200, page_name
        page = response.content.decode()
        for raw in (SCRIPT, IMG):
            assert raw not in page, f"raw {raw} on the {page_name}"
        assert ESCAPED[SCRIPT] in page, page_name


def test_the_email_page_shows_every_hostile_field_in_its_escaped_form(admin_client, hostile_email):
    page = admin_client.get(reverse("admin:extraction_incomingemail_change", args=[hostile_email.pk])).content.decode()
    assert f"Forderung {ESCAPED[SCRIPT]}" in page  # subject
    assert ESCAPED[IMG] + ".pdf" in page  # attachment name
    assert f"&quot;creditor_name&quot;: &quot;{ESCAPED[SCRIPT]}&quot;" in page  # parsed JSON
    assert f"{ESCAPED[IMG]} needs review" in page  # review reason
    assert "onerror=alert(1)>" not in page
