"""Storing a raw e-mail: the e-mail row, its attachments (rows and files) and its processing task.

`ingest_message` is the one way in for every intake (the `ingest_emails` command, and any other
source of raw messages). Parsing is in extraction.ingest; nothing here calls the LLM.
"""

import hashlib

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from extraction import ingest, queueing
from extraction.models import EmailAttachment, IncomingEmail


def ingest_message(raw):
    """Store one raw MIME message and queue it; a duplicate Message-ID returns the stored e-mail.

    The returned e-mail's `is_duplicate` says which of the two happened. Raises
    ingest.MalformedMessage for bytes that are not a usable e-mail.
    """
    parsed = ingest.parse_message(raw)
    existing = IncomingEmail.objects.filter(message_id=parsed.message_id).first()
    if existing is None:
        try:
            email = _email_create(parsed)
            email.is_duplicate = False
            return email
        except IntegrityError:
            # Another importer stored the same Message-ID between our check and our insert.
            existing = IncomingEmail.objects.filter(message_id=parsed.message_id).first()
            if existing is None:
                raise
    existing.is_duplicate = True
    return existing


@transaction.atomic
def _email_create(parsed):
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
        _attachment_create(email=email, attachment=attachment)
    queueing.email_enqueue_on_commit(email.pk)
    return email


def _attachment_create(*, email, attachment):
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
        row.save()
    else:
        row.file.save(attachment.name, ContentFile(attachment.data), save=True)
    return row
