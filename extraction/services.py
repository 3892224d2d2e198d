"""Every write of the extraction app: ingesting, claiming, recording results, finishing, failing.

Each function is one transaction. The pipeline (extraction.pipeline) makes the LLM calls outside
any transaction and hands each CallResult to one of these, so a result and the metrics of the
call that produced it are committed together or not at all.
"""

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.tasks import async_task

from extraction import ingest, normalise
from extraction.models import EmailAttachment, ExtractionResult, IncomingEmail
from metrics.collector import MetricsCollector

logger = logging.getLogger(__name__)

Status = IncomingEmail.Status
INTENTS = ("debt_statement", "payment_plan", "rejection", "inquiry", "auto_reply", "spam")
# Answers that carry facts worth extracting; the others are only classified.
FACT_INTENTS = frozenset({"debt_statement", "payment_plan", "rejection"})
REQUEUEABLE = (Status.FAILED, Status.MANUAL_REVIEW, Status.CLASSIFIED, Status.EXTRACTED, Status.RECEIVED, Status.QUEUED)


# Ingestion ------------------------------------------------------------------------------------

def ingest_message(raw):
    """Store one raw MIME message and queue it; a duplicate Message-ID returns the existing e-mail."""
    return email_ingest(raw=raw)[0]


def email_ingest(*, raw):
    """(email, created) for one raw message; raises ingest.MalformedMessage for a broken one."""
    parsed = ingest.parse_message(raw)
    existing = IncomingEmail.objects.filter(message_id=parsed.message_id).first()
    if existing is not None:
        return existing, False
    try:
        return _email_create(parsed), True
    except IntegrityError:
        # Another importer stored the same Message-ID between our check and our insert.
        existing = IncomingEmail.objects.filter(message_id=parsed.message_id).first()
        if existing is None:
            raise
        return existing, False


@transaction.atomic
def _email_create(parsed):
    email = IncomingEmail.objects.create(
        message_id=parsed.message_id,
        sender=parsed.sender,
        subject=parsed.subject,
        body_text=parsed.body_text,
        body_html=parsed.body_html,
        received_at=parsed.received_at,
        status=Status.QUEUED,
    )
    for attachment in parsed.attachments:
        _attachment_create(email=email, attachment=attachment)
    _enqueue_on_commit(email)
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


def _enqueue_on_commit(email):
    # After commit, so the worker never looks for a row that is not visible yet (or rolled back).
    transaction.on_commit(lambda: _enqueue(email.pk))


def _enqueue(email_id):
    # django-q2's ORM broker calls close_old_connections() before each enqueue unless it runs in
    # an atomic block; with CONN_MAX_AGE=0 (the SQLite default) that is a reconnect per e-mail,
    # 2 ms of the 5 ms an import took. The enqueue is one INSERT, so its own transaction is free.
    with transaction.atomic():
        async_task("extraction.tasks.process_email", email_id)


@transaction.atomic
def email_requeue(*, email):
    """Queue an e-mail for processing again (e.g. after a failure); False if it is being processed."""
    updated = IncomingEmail.objects.filter(pk=email.pk, status__in=REQUEUEABLE).update(
        status=Status.QUEUED, error="", updated_at=timezone.now()
    )
    if updated:
        _enqueue_on_commit(email)
    return bool(updated)


def emails_recover_stranded(*, now=None):
    """Re-queue e-mails whose task died with a killed worker; returns {"requeued": n, "failed": n}.

    A run still "processing" Q_CLUSTER["retry"] seconds after its claim was killed (kill -9, OOM, a
    lost machine): a live run is stopped at the shorter timeout. An e-mail "queued" that long while
    the broker's queue is empty lost its task: the Redis broker has no acknowledgements, so tasks a
    killed cluster had fetched are gone. A duplicate task is harmless (email_claim lets one run have
    the e-mail). After max_attempts interrupted runs the e-mail is failed, so it cannot loop forever.
    """
    now = now or timezone.now()
    stranded_before = now - timedelta(seconds=settings.Q_CLUSTER.get("retry", 360))
    max_attempts = settings.Q_CLUSTER.get("max_attempts") or 3
    stranded = Q(status=Status.PROCESSING, processing_started_at__lt=stranded_before)
    if not get_broker().queue_size():
        stranded |= Q(status=Status.QUEUED, updated_at__lt=stranded_before)
    counts = {"requeued": 0, "failed": 0}
    for email in IncomingEmail.objects.filter(stranded).order_by("pk").iterator():
        with transaction.atomic():
            still_stranded = IncomingEmail.objects.filter(stranded, pk=email.pk)
            if email.status == Status.PROCESSING and email.attempts >= max_attempts:
                reason = (
                    f"processing was interrupted {email.attempts} times (worker killed or lost, database "
                    "unreachable); "
                    "re-queue it by hand"
                )
                if still_stranded.update(status=Status.FAILED, error=reason, updated_at=now):
                    MetricsCollector().record_error(stage="worker", error_type="interrupted", email=email)
                    counts["failed"] += 1
            elif still_stranded.update(status=Status.QUEUED, updated_at=now):
                _enqueue_on_commit(email)
                counts["requeued"] += 1
    if any(counts.values()):
        logger.warning("Stranded e-mails: %(requeued)d re-queued, %(failed)d failed", counts)
    return counts


# Processing -----------------------------------------------------------------------------------

def email_claim(*, email_id, now=None):
    """Mark an e-mail as being processed and return it; None if it is not waiting to be processed.

    One conditional UPDATE, so of two workers given the same e-mail only one gets it. A run that
    has been "processing" longer than the worker's task timeout was killed, so it may be claimed again.
    """
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.Q_CLUSTER.get("timeout", 300))
    claimable = Q(status__in=(Status.RECEIVED, Status.QUEUED)) | Q(
        status=Status.PROCESSING, processing_started_at__lt=stale_before
    )
    claimed = IncomingEmail.objects.filter(claimable, pk=email_id).update(
        status=Status.PROCESSING, processing_started_at=now, attempts=F("attempts") + 1, error="", updated_at=now
    )
    return IncomingEmail.objects.get(pk=email_id) if claimed else None


@transaction.atomic
def email_record_classification(*, email, call):
    """Store the intent from a classification call, with the call's metrics.

    Returns why the answer gives no usable intent, or "" when it does.
    """
    intent, confidence = None, None
    if call.success:
        intent = call.data.get("intent")
        try:
            confidence = normalise.parse_confidence(call.data.get("confidence"))
        except ValueError:
            confidence = None
    usable = intent in INTENTS and confidence is not None
    email.intent = intent if usable else ""
    email.intent_confidence = confidence if usable else None
    email.save(update_fields=["intent", "intent_confidence", "updated_at"])
    needs_review = not usable or confidence < settings.REVIEW_CONFIDENCE_THRESHOLD
    _record_call_metrics(call=call, email=email, confidence=confidence, needs_review=needs_review, operation="classify")
    if call.success and not usable:
        return f"intent {intent!r} or confidence {call.data.get('confidence')!r} not usable"
    return call.error


@transaction.atomic
def result_record(*, email, source, attachment=None, call):
    """Create or update the result of one source of an e-mail from a call, with the call's metrics."""
    normalised = normalise.normalise_extraction(call.data if call.success else {})
    confidence = normalised.fields.get("confidence")
    needs_review = (
        not call.success or bool(normalised.unparsed)
        or confidence is None or confidence < settings.REVIEW_CONFIDENCE_THRESHOLD
    )
    defaults = {
        "prompt_version": call.prompt,
        "raw_response": call.raw_text,
        "parsed": call.data,
        "success": call.success,
        "error": call.error,
        "unparsed": normalised.unparsed,
        "needs_review": needs_review,
        **normalised.fields,
    }
    result, _ = ExtractionResult.objects.update_or_create(
        email=email, source=source, attachment=attachment, defaults=defaults
    )
    _record_call_metrics(
        call=call, email=email, confidence=confidence, needs_review=needs_review, operation=f"extract_{source}"
    )
    return result


def _record_call_metrics(*, call, email, confidence, needs_review, operation):
    collector = MetricsCollector()
    collector.record_prompt_call(
        prompt_version=call.prompt,
        email=email,
        input_tokens=call.input_tokens,
        output_tokens=call.output_tokens,
        cost_usd=call.cost_usd,
        success=call.success,
        confidence=confidence,
        needs_review=needs_review,
        execution_time_ms=call.execution_time_ms,
    )
    collector.record_token_usage(
        model=call.model, operation=operation, tokens=call.input_tokens + call.output_tokens, email=email
    )
    collector.record_processing_time(stage=operation, duration_ms=call.execution_time_ms, email=email)
    if confidence is not None:
        collector.record_confidence(score=confidence, email=email)
    if not call.success:
        collector.record_error(stage=operation, error_type="unusable_answer", email=email)


@transaction.atomic
def email_finish(*, email, results, review_reasons, duration_ms):
    """Merge this run's results, set the final status and drop results an earlier run left behind.

    `results` are the ExtractionResults written by this run; `review_reasons` what already needs a
    human (e.g. an unreadable attachment). Returns the e-mail with its final status.
    """
    reasons = list(review_reasons)
    threshold = settings.REVIEW_CONFIDENCE_THRESHOLD
    if email.intent_confidence is not None and email.intent_confidence < threshold:
        reasons.append(f"intent confidence {email.intent_confidence:.2f} is below {threshold:g}")
    if email.intent == "inquiry":
        reasons.append("the creditor asks a question that needs a manual answer")
    for result in results:
        reasons.extend(_result_review_reasons(result, threshold))
    keep = [r.pk for r in results]
    if results:
        merged = _merged_result_record(email=email, results=results, needs_review=bool(reasons))
        keep.append(merged.pk)
        if not any(r.success for r in results):
            reasons.append("no source gave a usable answer")
    ExtractionResult.objects.filter(email=email).exclude(pk__in=keep).delete()
    confidences = [c for c in [email.intent_confidence, *(r.confidence for r in results if r.success)] if c is not None]
    email.confidence = min(confidences) if confidences else None
    email.review_reason = "\n".join(reasons)
    if reasons:
        email.status = Status.MANUAL_REVIEW
    else:
        email.status = Status.EXTRACTED if results else Status.CLASSIFIED
    email.error = ""
    email.save(update_fields=["confidence", "review_reason", "status", "error", "updated_at"])
    MetricsCollector().record_processing_time(stage="pipeline", duration_ms=duration_ms, email=email)
    return email


def _result_review_reasons(result, threshold):
    label = result.attachment.original_name if result.attachment_id else result.get_source_display()
    if not result.success:
        return [f"{label}: {result.error}"]
    reasons = [f"{label}: could not read {name} {raw!r}" for name, raw in result.unparsed.items()]
    if result.confidence is not None and result.confidence < threshold:
        reasons.append(f"{label}: confidence {result.confidence:.2f} is below {threshold:g}")
    return reasons


def _merged_result_record(*, email, results, needs_review):
    # Each field comes from the most confident source that has it.
    ranked = sorted((r for r in results if r.success), key=lambda r: -(r.confidence or 0))
    fields = {}
    for name in normalise.MERGED_FIELDS:
        values = [getattr(r, name) for r in ranked if getattr(r, name) not in (None, "")]
        fields[name] = values[0] if values else ("" if name in normalise.TEXT_FIELDS else None)
    confidences = [r.confidence for r in ranked if r.confidence is not None]
    merged, _ = ExtractionResult.objects.update_or_create(
        email=email, source=ExtractionResult.Source.MERGED, attachment=None,
        defaults={
            **fields,
            "prompt_version": None,
            "raw_response": "",
            "parsed": {"sources": [r.pk for r in ranked]},
            "success": bool(ranked),
            "error": "",
            "unparsed": {},
            "confidence": min(confidences) if confidences else None,
            "needs_review": needs_review,
        },
    )
    return merged


@transaction.atomic
def email_fail(*, email, reason, stage, error_type, prompt_version=None, execution_time_ms=None):
    """Mark an e-mail failed with the reason (it can be re-queued later) and count the error.

    With `prompt_version`, the failed API call is recorded too (no tokens, no cost), so a
    version's success rate and latency include the calls the API never answered.
    """
    IncomingEmail.objects.filter(pk=email.pk).update(status=Status.FAILED, error=reason, updated_at=timezone.now())
    email.refresh_from_db()
    collector = MetricsCollector()
    collector.record_error(stage=stage, error_type=error_type, email=email)
    if prompt_version is not None:
        collector.record_prompt_call(
            prompt_version=prompt_version, email=email, input_tokens=0, output_tokens=0, cost_usd=0,
            success=False, needs_review=False, execution_time_ms=execution_time_ms or 0,
        )
    logger.warning("E-mail %s failed at %s: %s", email.pk, stage, reason)
    return email
