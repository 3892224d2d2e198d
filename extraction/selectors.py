"""Reads of the extraction app."""

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.db.models import Count, Func, IntegerField, Q
from django.db.models.functions import Left
from django.utils.translation import gettext

from config.formatting import format_number
from extraction import llm
from extraction.models import EmailReview, ExtractionResult, IncomingEmail, MailboxState
from extraction.review_claims import claim_lapsed_before, claimable_by
from metrics.models import PromptPerformanceMetrics
from prompts.models import PromptTemplate

# Inline images below this size are logos and social-media icons in signatures, not letters.
INLINE_IMAGE_MIN_BYTES = 40_000


@dataclass(frozen=True)
class AttachmentPlan:
    """Which PDFs and images of an e-mail the pipeline reads, and which it leaves, and why."""

    analyse: tuple  # (source, attachment) in order, one per distinct content (sha256)
    refused: tuple  # (attachment, why it cannot be sent: too big, not stored)
    over_limit: tuple  # attachments after the first MAX_ANALYSED_ATTACHMENTS documents


def attachments_to_analyse(*, email):
    """The AttachmentPlan of an e-mail: its first MAX_ANALYSED_ATTACHMENTS documents, copies read once.

    A sender decides how many files an e-mail carries, and each one read is a paid call: documents
    after the limit are not read, and a copy of a file already planned (same sha256) is left out.
    Other file types (signatures, calendar files, logos inline in the HTML) are not documents.
    """
    analyse, refused, over_limit, seen = [], [], [], set()
    for position, (source, attachment) in enumerate(_documents(email)):
        if position >= settings.MAX_ANALYSED_ATTACHMENTS:
            over_limit.append(attachment)
        elif refusal := attachment.refused_reason or llm.document_refusal(attachment.content_type, attachment.size):
            refused.append((attachment, refusal))
        elif attachment.sha256 not in seen:
            seen.add(attachment.sha256)
            analyse.append((source, attachment))
    return AttachmentPlan(analyse=tuple(analyse), refused=tuple(refused), over_limit=tuple(over_limit))


def _documents(email):
    for attachment in email.attachments.order_by("id"):
        if attachment.content_type == llm.PDF_TYPE:
            yield ExtractionResult.Source.PDF, attachment
        elif attachment.content_type in llm.IMAGE_TYPES:
            if not (attachment.is_inline and attachment.size < INLINE_IMAGE_MIN_BYTES):
                yield ExtractionResult.Source.IMAGE, attachment


def emails_with_status(*, statuses):
    return IncomingEmail.objects.filter(status__in=statuses).order_by("id")


def email_results(*, email):
    """An e-mail's results, merged result first, with their prompt versions and attachments."""
    return sorted(
        email.results.select_related("prompt_version", "attachment"),
        key=lambda r: (r.source != ExtractionResult.Source.MERGED, r.source, r.pk),
    )


def analysed_attachment_ids(*, attachments):
    """The ids among `attachments` that the model read: those with a result of their own (one query)."""
    return set(
        ExtractionResult.objects.filter(attachment__in=[a.pk for a in attachments])
        .values_list("attachment_id", flat=True)
    )


def prompt_versions_used(*, email):
    """The prompt versions that produced an e-mail's results or were called for it (one query)."""
    return PromptTemplate.objects.filter(
        Q(pk__in=email.results.values("prompt_version"))
        | Q(pk__in=PromptPerformanceMetrics.objects.filter(email_id=email.pk).values("prompt_version"))
    ).order_by("task_type", "name", "version")


class OctetLength(Func):
    """A text's size in bytes. PostgreSQL reads it from the stored value's header, without decompressing it."""

    function = "OCTET_LENGTH"
    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="LENGTH(CAST(%(expressions)s AS BLOB))", **extra_context)


def email_body_head(*, email, field, chars):
    """(the first `chars` characters, the size in bytes) of an e-mail's `body_text` or `body_html`.

    Only the head leaves the database: on PostgreSQL only the head of a large value is even decompressed.
    """
    return IncomingEmail.objects.filter(pk=email.pk).values_list(Left(field, chars), OctetLength(field)).get()


# Review ------------------------------------------------------------------------------------------

REVIEW_PERMISSIONS = ("extraction.review_email", "extraction.view_incomingemail")
# A QA-sample e-mail waits for its review in one of these (a review makes it `reviewed`).
SAMPLE_WAITING_STATUSES = (IncomingEmail.Status.EXTRACTED, IncomingEmail.Status.CLASSIFIED)


def can_review(user):
    """Reviewing shows the whole e-mail, so it takes viewing e-mails besides `extraction.review_email`."""
    return user.has_perms(REVIEW_PERMISSIONS)


# The queue's figures are counted up to this many e-mails per part (the e-mail list caps its count alike):
# above, "more than 10,000", without reading the whole backlog on every page that shows it.
REVIEW_COUNT_UP_TO = 10_000


@dataclass(frozen=True)
class QueueCount:
    """A figure of the review queue: exact up to REVIEW_COUNT_UP_TO, else only known to be above it."""

    value: int
    more_than: bool = False

    def __str__(self):
        if self.more_than:
            return gettext("more than %(count)s") % {"count": format_number(REVIEW_COUNT_UP_TO)}
        return format_number(self.value)

    def __bool__(self):
        return self.value > 0


def _capped_count(queryset):
    counted = queryset.order_by()[: REVIEW_COUNT_UP_TO + 1].count()
    return QueueCount(min(counted, REVIEW_COUNT_UP_TO), more_than=counted > REVIEW_COUNT_UP_TO)


@dataclass(frozen=True)
class ReviewQueue:
    """The e-mails waiting for an operator, in two parts worked in this order, each oldest first:
    every `manual_review` e-mail, then the QA sample (`review_sample`, finished automatically, not reviewed).

    Two queries instead of one ordered by part: each part is read in index order and stops at the first
    row, however many e-mails wait (one ORDER BY over both parts would sort them all).
    """

    manual_review: models.QuerySet
    sample: models.QuerySet

    def next_email_id(self, *, leaving_out=(), operator=None):
        """The id of the first e-mail of the queue not in `leaving_out` (skipped ones), or None when none waits.

        With `operator`, e-mails another operator holds (a live claim, extraction.review_claims) are passed by:
        a condition on the rows the index scan visits, which stops at the first match as before (the few
        claimed e-mails are the only ones it reads past).
        """
        for part in (self.manual_review, self.sample):
            if operator is not None:
                part = part.filter(claimable_by(operator))
            email_id = part.exclude(pk__in=leaving_out).values_list("pk", flat=True).first()
            if email_id is not None:
                return email_id
        return None

    def counts(self):
        """Each part's QueueCount and their total (each part counted only up to REVIEW_COUNT_UP_TO + 1 rows)."""
        manual_review, sample = _capped_count(self.manual_review), _capped_count(self.sample)
        total = manual_review.value + sample.value
        return {
            "manual_review": manual_review,
            "sample": sample,
            "total": QueueCount(
                min(total, REVIEW_COUNT_UP_TO),
                more_than=manual_review.more_than or sample.more_than or total > REVIEW_COUNT_UP_TO,
            ),
        }


def review_queue():
    """The review queue: `manual_review` e-mails oldest first, then the unreviewed QA sample oldest first."""
    emails = IncomingEmail.objects.order_by("created_at", "id")
    return ReviewQueue(
        manual_review=emails.filter(status=IncomingEmail.Status.MANUAL_REVIEW),
        sample=emails.filter(review_sample=True, status__in=SAMPLE_WAITING_STATUSES),
    )


def review_claim_elsewhere(*, email, operator):
    """(the other operator, since when) when someone other than `operator` holds a live claim on the e-mail,
    else None."""
    held = (
        IncomingEmail.objects.filter(pk=email.pk, review_claimed_at__gte=claim_lapsed_before())
        .exclude(review_claimed_by=operator).exclude(review_claimed_by__isnull=True)
        .select_related("review_claimed_by").only("review_claimed_by", "review_claimed_at").first()
    )
    return None if held is None else (held.review_claimed_by, held.review_claimed_at)


def email_current_review(*, email):
    """The e-mail's review with its reviewer, or None when it has none yet."""
    return EmailReview.objects.filter(email=email).select_related("reviewed_by").first()


def review_queue_part(email):
    """Which part of the queue `email` waits in ("manual_review", "sample"), or "" when it waits in none."""
    if email.status == IncomingEmail.Status.MANUAL_REVIEW:
        return "manual_review"
    if email.review_sample and email.status in SAMPLE_WAITING_STATUSES:
        return "sample"
    return ""


def intake_status():
    """For the admin index: whether IMAP intake is set up, and each mailbox's last fetch and unreadable messages."""
    return {
        "imap_configured": bool(settings.IMAP_URL),
        "mailboxes": list(MailboxState.objects.annotate(unreadable=Count("failures")).order_by("mailbox")),
    }
