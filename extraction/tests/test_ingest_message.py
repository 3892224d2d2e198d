"""ingest_message stores an e-mail with its attachments once, and queues it with its transaction: as a task
row in that transaction with the ORM broker, after the commit with any other broker or inline tasks."""

import hashlib
from pathlib import Path

import pytest
from django.db import DatabaseError
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ

from extraction import queueing
from extraction.ingest import MalformedMessage
from extraction.models import EmailAttachment, IncomingEmail
from extraction.services import ingest_message
from extraction.tests.conftest import raw_email

pytestmark = pytest.mark.django_db


def test_a_new_message_is_stored_with_its_text_and_queued(django_capture_on_commit_callbacks, queued):
    with django_capture_on_commit_callbacks(execute=True):
        email = ingest_message(raw_email("acceptance_utf8_qp.eml"))
    email.refresh_from_db()
    assert email.status == IncomingEmail.Status.QUEUED
    assert email.sender == "Sabine Krüger <forderungen@creditreform-inkasso-sued.example>"
    assert email.subject.startswith("AZ INK-2026-0048815")
    assert "2.847,13 €" in email.body_text
    assert email.received_at is not None
    assert queued == [email.pk]


def test_the_task_is_queued_only_after_the_transaction_commits(django_capture_on_commit_callbacks, queued):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ingest_message(raw_email("counter_offer_base64.eml"))
    assert queued == []
    assert len(callbacks) == 1


def test_a_duplicate_message_id_returns_the_existing_email_and_queues_nothing_more(
    django_capture_on_commit_callbacks, queued
):
    with django_capture_on_commit_callbacks(execute=True):
        first = ingest_message(raw_email("rejection_windows1252.eml"))
        second = ingest_message(raw_email("rejection_windows1252.eml"))
    assert (first.is_duplicate, second.is_duplicate) == (False, True)
    assert second.pk == first.pk
    assert IncomingEmail.objects.count() == 1
    assert len(queued) == 1


def test_a_message_without_message_id_is_deduplicated_by_its_hash():
    raw = b"From: Inkasso Nord <post@inkasso-nord.example>\r\nSubject: Forderung\r\n\r\nBitte zahlen.\r\n"
    assert ingest_message(raw).pk == ingest_message(raw).pk
    assert IncomingEmail.objects.get().message_id == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_attachments_are_stored_under_media_root_with_size_and_sha256(media_root):
    email = ingest_message(raw_email("statement_with_pdf.eml"))
    attachment = email.attachments.get()
    stored = Path(attachment.file.path)
    assert stored.is_relative_to(media_root)
    assert stored.read_bytes().startswith(b"%PDF-1.4")
    assert attachment.original_name == "Forderungsaufstellung_2026-118-BK.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.size == stored.stat().st_size
    assert attachment.sha256 == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert attachment.refused_reason == ""


def test_an_attachment_named_to_escape_media_root_is_stored_inside_it(media_root):
    raw = (
        b"From: a@b.example\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nText\r\n'
        b'--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="../../../evil.pdf"\r\n'
        b"\r\n%PDF-1.4 x\r\n--b--\r\n"
    )
    attachment = ingest_message(raw).attachments.get()
    assert attachment.original_name == "evil.pdf"
    assert Path(attachment.file.path).resolve().is_relative_to(Path(media_root).resolve())


def test_an_attachment_over_the_size_limit_is_refused_with_a_clear_reason(settings, media_root):
    settings.MAX_ATTACHMENT_BYTES = 100
    email = ingest_message(raw_email("statement_with_pdf.eml"))
    attachment = email.attachments.get()
    assert not attachment.file
    assert attachment.size > 100 and len(attachment.sha256) == 64
    assert "over the limit" in attachment.refused_reason and "MAX_ATTACHMENT_BYTES" in attachment.refused_reason
    assert not any(Path(media_root).rglob("*.pdf"))


def test_a_broken_message_raises_and_stores_nothing():
    with pytest.raises(MalformedMessage):
        ingest_message(raw_email("broken_mime.eml"))
    assert not IncomingEmail.objects.exists()
    assert not EmailAttachment.objects.exists()


@pytest.fixture
def orm_broker(monkeypatch):
    """The production set-up: the ORM broker in this database, tasks run by workers (not inline)."""
    if not isinstance(get_broker(), ORM):
        pytest.skip("the tests run with another broker (Q_REDIS_URL)")
    monkeypatch.setattr(Conf, "SYNC", False)


def test_with_the_orm_broker_the_task_row_is_written_in_the_emails_own_transaction(
    orm_broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as after_commit:
        email = ingest_message(raw_email("statement_with_pdf.eml"))
    assert after_commit == []  # nothing left for after the commit
    (task,) = OrmQ.objects.all()
    assert (task.task["func"], task.task["args"]) == ("extraction.tasks.process_email", (email.pk,))


def test_with_the_orm_broker_an_email_that_is_rolled_back_leaves_no_task_row(orm_broker, monkeypatch):
    real_enqueue = queueing.email_enqueue

    def enqueue_then_fail(email_id):
        real_enqueue(email_id)
        assert OrmQ.objects.exists()
        raise DatabaseError("connection lost before the commit")

    monkeypatch.setattr(queueing, "email_enqueue", enqueue_then_fail)
    with pytest.raises(DatabaseError):
        ingest_message(raw_email("statement_with_pdf.eml"))
    assert not OrmQ.objects.exists() and not IncomingEmail.objects.exists()
