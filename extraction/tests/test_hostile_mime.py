"""Hostile or broken MIME is ingested with what can be read, the same on SQLite and PostgreSQL, and an
e-mail's files are on disk exactly when its rows are."""

from pathlib import Path

import pytest
from django.db import DatabaseError, transaction

from extraction import queueing, tasks
from extraction.answering import SUBJECT_CHARS
from extraction.models import EmailAttachment, IncomingEmail
from extraction.services import ingest_message
from extraction.tests.conftest import PDF, multipart_email

pytestmark = pytest.mark.django_db


def message(headers=b"", body=b"Sehr geehrte Damen und Herren,\r\n", *, part_headers=None):
    """A message with extra top-level headers, or (with part_headers) a multipart with one PDF part."""
    top = b"From: Inkasso Nord <post@inkasso-nord.example>\r\nSubject: Forderung\r\nMessage-ID: <hostile@x>\r\n"
    if part_headers is None:
        return top + headers + b"\r\n" + body
    return (
        top + headers + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nSiehe Anhang.\r\n--B\r\n" + part_headers + b"\r\n\r\n" + PDF
        + b"\r\n--B--\r\n"
    )


def stored_files(media_root):
    return sorted(p.name for p in Path(media_root).rglob("*") if p.is_file())


# Charsets that raise a plain UnicodeError ---------------------------------------------------------

@pytest.mark.parametrize("charset", [b"undefined", b"punycode", b'"utf-\x008"', b"base64", b"no-such-charset"])
def test_a_body_in_a_charset_python_refuses_is_read_as_utf8_or_windows_1252(charset):
    content_type = b"Content-Type: text/plain; charset=" + charset + b"\r\n"
    email = ingest_message(message(content_type, b"Gr\xfc\xdfe, 12,50 \x80\r\n"))
    assert email.body_text == "Grüße, 12,50 €\n"


@pytest.mark.parametrize(
    ("disposition", "name"),
    [
        (b"filename*=undefined''Forderung%20M%E4rz.pdf", "Forderung März.pdf"),
        (b"filename*=punycode''Forderung%20M%E4rz%FF.pdf", "Forderung Märzÿ.pdf"),
        (b"filename*=utf-8''Forderung%20M%C3%A4rz.pdf", "Forderung März.pdf"),
    ],
)
def test_an_rfc_2231_file_name_in_a_charset_python_refuses_is_still_read(media_root, disposition, name):
    email = ingest_message(message(
        part_headers=b"Content-Type: application/pdf\r\nContent-Disposition: attachment; " + disposition
    ))
    attachment = email.attachments.get()
    assert (attachment.original_name, attachment.content_type) == (name, "application/pdf")
    assert Path(attachment.file.path).read_bytes() == PDF


def test_an_encoded_subject_in_an_unknown_charset_is_kept_as_written():
    email = ingest_message(message().replace(b"Subject: Forderung", b"Subject: =?undefined?q?Gr=FC=DFe?="))
    assert email.subject == "=?undefined?q?Gr=FC=DFe?="


# NUL characters in a part's headers -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("part_headers", "name"),
    [
        (b"Content-Type: application/p\x00df\r\nContent-Disposition: attachment; filename=Forderung.pdf",
         "Forderung.pdf"),
        (b"Content-Type: application/pdf; name=\"Ford\x00erung.pdf\"", "Forderung.pdf"),
        (b"Content-Type: application/pdf\r\nContent-Disposition: attach\x00ment; filename=\"Ford\x00erung.pdf\"",
         "Forderung.pdf"),
        (b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: 8\x00bit\r\n"
         b"Content-Disposition: attachment; filename=Forderung.pdf", "Forderung.pdf"),
        # Not a header line: the part's headers end there, so its file name is lost, not its content.
        (b"Content-Type: application/pdf\r\nX-\x00Scanner: yes\r\nContent-Disposition: attachment; filename=a.pdf",
         "attachment.pdf"),
    ],
    ids=["content-type", "name-parameter", "disposition", "transfer-encoding", "header-name"],
)
def test_nul_characters_in_a_parts_headers_are_dropped_and_the_file_is_kept(part_headers, name):
    email = ingest_message(message(part_headers=part_headers))
    attachment = email.attachments.get()
    assert (attachment.original_name, attachment.content_type) == (name, "application/pdf")
    assert PDF in attachment.file.read()
    assert "\x00" not in email.body_text + email.subject + email.sender


# Dates ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "date",
    [b"Fri, 31 Dec 9999 23:59:59 -0100", b"Fri, 31 Dec 9999 23:30:00 -2359", b"Mon, 32 Jan 2026 10:00:00 +0100",
     b"Mon, 1 Jan 99999 00:00:00 +0100", b"gestern"],
)
def test_a_date_that_cannot_be_stored_leaves_the_received_date_empty(date):
    email = ingest_message(message(b"Date: " + date + b"\r\n"))
    email.refresh_from_db()
    assert email.received_at is None and email.body_text.startswith("Sehr geehrte")


def test_the_last_storable_moment_is_kept():
    email = ingest_message(message(b"Date: Fri, 31 Dec 9999 23:59:59 +0100\r\n"))
    email.refresh_from_db()
    assert email.received_at.isoformat() == "9999-12-31T22:59:59+00:00"


# Files on disk exactly when their rows are -------------------------------------------------------------

TWO_PDFS = (('filename="eins.pdf"', "application/pdf", PDF), ('filename="zwei.pdf"', "application/pdf", PDF + b" "))


def test_a_failure_after_the_files_are_written_leaves_no_file_row_or_task(media_root, monkeypatch, queued):
    def broken_queue(email_id):
        assert stored_files(media_root) == ["eins.pdf", "zwei.pdf"]  # the failure comes after the writes
        raise DatabaseError("the task table is gone")

    monkeypatch.setattr(queueing, "email_enqueue", broken_queue)
    with pytest.raises(DatabaseError):
        ingest_message(multipart_email(*TWO_PDFS))
    assert stored_files(media_root) == []
    assert not any(Path(media_root).rglob("*/attachments/*"))  # not even the e-mail's empty folder
    assert not IncomingEmail.objects.exists() and not EmailAttachment.objects.exists() and queued == []


def test_a_row_that_cannot_be_saved_takes_the_files_written_before_it_along(media_root, monkeypatch):
    real_save = EmailAttachment.save

    def fail_on_the_second(self, *args, **kwargs):
        if self.original_name == "zwei.pdf":
            raise DatabaseError("disk full")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(EmailAttachment, "save", fail_on_the_second)
    with pytest.raises(DatabaseError):
        ingest_message(multipart_email(*TWO_PDFS))
    assert stored_files(media_root) == [] and not IncomingEmail.objects.exists()


def test_ingesting_inside_a_callers_transaction_is_refused_before_anything_is_written(media_root):
    with pytest.raises(RuntimeError, match="durable"):
        with transaction.atomic():
            ingest_message(multipart_email(*TWO_PDFS))
    assert stored_files(media_root) == [] and not IncomingEmail.objects.exists()


@pytest.mark.parametrize(
    ("name", "stored"),
    [("(.pdf", "attachment.pdf"), ("()", "attachment.pdf"), ("+,", "attachment.pdf"),
     ("a." + "b" * 200, "a.bbbbbbbbbb"), ("(1).pdf", "(1).pdf")],
)
def test_no_stored_file_name_starts_with_a_dot_or_is_refused_by_the_storage(media_root, name, stored):
    email = ingest_message(multipart_email((f'filename="{name}"', "application/pdf", PDF)))
    attachment = email.attachments.get()
    assert attachment.original_name == stored
    on_disk = Path(attachment.file.path)
    assert on_disk.read_bytes() == PDF and not on_disk.name.startswith(".")


# Subjects longer than a prompt can hold -----------------------------------------------------------------

def test_a_subject_longer_than_the_prompt_cap_is_truncated_before_rendering(api):
    subject = "Forderung " + "x" * 2_000_000
    email = ingest_message(multipart_email(subject=subject))
    assert tasks.process_email(email.pk, client=api.client()) == IncomingEmail.Status.EXTRACTED
    for request in api.requests:
        prompt = request["messages"][0]["content"][-1]["text"]
        assert subject[:SUBJECT_CHARS] in prompt and subject[: SUBJECT_CHARS + 1] not in prompt
