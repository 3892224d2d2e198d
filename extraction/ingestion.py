"""Storing a raw e-mail: the e-mail row, its attachments (rows and files) and its processing task.

`ingest_message` is the one way in for every intake (the `ingest_emails` command, and any other
source of raw messages). Parsing is in extraction.ingest; nothing here calls the LLM.
"""

import contextlib
import hashlib
import os

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from extraction import ingest, queueing
from extraction.models import EmailAttachment, IncomingEmail


def ingest_message(raw):
    """Store one raw MIME message and queue it; a duplicate Message-ID returns the stored e-mail.

    The returned e-mail's `is_duplicate` says which of the two happened. Raises
    ingest.MalformedMessage for bytes that are not a usable e-mail. One message is one unit of
    work (its rows, files and task, or none of them), so it refuses to run inside a caller's
    transaction: files written there could not be removed if the caller rolled back.
    """
    parsed = ingest.parse_message(raw)
    stored = IncomingEmail.objects.filter(message_id=parsed.message_id)
    if not stored.exists():
        try:
            email = _email_create(parsed)
            email.is_duplicate = False
            return email
        except IntegrityError:
            # Another importer stored the same Message-ID between our check and our insert.
            if not stored.exists():
                raise
    existing = stored.get()
    existing.is_duplicate = True
    return existing


def _email_create(parsed):
    written = []
    try:
        with transaction.atomic(durable=True):
            email = IncomingEmail.objects.create(
                message_id=parsed.message_id,
                sender=parsed.sender,
                subject=parsed.subject,
                body_text=parsed.body_text,
                body_html=parsed.body_html,
                received_at=parsed.received_at,
                status=IncomingEmail.Status.QUEUED,
            )
            for attachment in parsed.attachments:
                row = _attachment_row(email=email, attachment=attachment)
                if not row.refused_reason:
                    row.file.save(attachment.name, ContentFile(attachment.data), save=False)
                    written.append(row.file.name)
                row.save()
            queueing.email_enqueue(email.pk)
    except BaseException:
        # The rows are rolled back; without this their files would stay on disk, belonging to nothing.
        _files_delete(written)
        raise
    return email


def _attachment_row(*, email, attachment):
    """The (unsaved) row of an attachment; one over MAX_ATTACHMENT_BYTES says why it is not stored."""
    size = len(attachment.data)
    row = EmailAttachment(
        email=email,
        original_name=attachment.name,
        content_type=attachment.content_type[:255],
        size=size,
        sha256=hashlib.sha256(attachment.data).hexdigest(),
        is_inline=attachment.is_inline,
    )
    if size > settings.MAX_ATTACHMENT_BYTES:
        row.refused_reason = (
            f"Not stored: {size / 2**20:.1f} MB is over the limit of "
            f"{settings.MAX_ATTACHMENT_BYTES / 2**20:.1f} MB (MAX_ATTACHMENT_BYTES)."
        )
    return row


def _files_delete(names):
    storage = EmailAttachment.file.field.storage
    for name in names:
        storage.delete(name)
    with contextlib.suppress(OSError, NotImplementedError):  # the e-mail's folder, if now empty and on disk
        if names:
            os.rmdir(os.path.dirname(storage.path(names[0])))
