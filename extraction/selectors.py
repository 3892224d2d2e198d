"""Reads of the extraction app."""

from django.conf import settings
from django.db.models import Count

from extraction import llm
from extraction.models import ExtractionResult, IncomingEmail, MailboxState
from prompts.models import PromptTemplate

# Inline images below this size are logos and social-media icons in signatures, not letters.
INLINE_IMAGE_MIN_BYTES = 40_000


def attachments_to_analyse(*, email):
    """(attachment, source, refusal) for each PDF and image of an e-mail the pipeline should read.

    `refusal` is why an attachment that looks like a document cannot be sent (too big, not
    stored), or "" when it can. Other file types (signatures, calendar files, ...) are left out.
    """
    found = []
    for attachment in email.attachments.order_by("id"):
        if attachment.content_type == llm.PDF_TYPE:
            source = ExtractionResult.Source.PDF
        elif attachment.content_type in llm.IMAGE_TYPES:
            if attachment.is_inline and attachment.size < INLINE_IMAGE_MIN_BYTES:
                continue
            source = ExtractionResult.Source.IMAGE
        else:
            continue
        refusal = attachment.refused_reason or llm.document_refusal(attachment.content_type, attachment.size) or ""
        found.append((attachment, source, refusal))
    return found


def emails_with_status(*, statuses):
    return IncomingEmail.objects.filter(status__in=statuses).order_by("id")


def email_results(*, email):
    """An e-mail's results, merged result first, with their prompt versions and attachments."""
    return sorted(
        email.results.select_related("prompt_version", "attachment"),
        key=lambda r: (r.source != ExtractionResult.Source.MERGED, r.source, r.pk),
    )


def prompt_versions_used(*, email):
    """The prompt versions that produced an e-mail's results or were called for it."""
    return PromptTemplate.objects.filter(
        pk__in=set(email.results.exclude(prompt_version=None).values_list("prompt_version", flat=True))
        | set(email.prompt_metrics.values_list("prompt_version", flat=True))
    ).order_by("task_type", "name", "version")


def intake_status():
    """For the admin index: whether IMAP intake is set up, and each mailbox's last fetch and unreadable messages."""
    return {
        "imap_configured": bool(settings.IMAP_URL),
        "mailboxes": list(MailboxState.objects.annotate(unreadable=Count("failures")).order_by("mailbox")),
    }
