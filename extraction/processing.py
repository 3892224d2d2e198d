"""The writes of a processing run: claiming an e-mail, recording each call's answer with its
metrics, finishing (merge and final status) and failing.

Each function is one transaction. The pipeline (extraction.pipeline) makes the LLM calls outside
any transaction and hands each CallResult to one of these, so a result and the metrics of the
call that produced it are committed together or not at all.
"""

import logging
import random

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext

from config.formatting import format_number
from extraction import answering, normalise, recovery
from extraction.models import ExtractionResult, IncomingEmail, Intent
from metrics.collector import MetricsCollector

logger = logging.getLogger(__name__)

Status = IncomingEmail.Status


def email_claim(*, email_id):
    """Mark an e-mail as being processed and return it; None if it is not waiting to be processed.

    One conditional UPDATE, so of two workers given the same e-mail only one gets it. A dead run
    (extraction.recovery.stale_run) may be taken over. An e-mail whose runs were already started
    max_attempts times is failed instead of run again.
    """
    claimable = Q(status__in=(Status.RECEIVED, Status.QUEUED)) | recovery.stale_run()
    claimed = IncomingEmail.objects.filter(claimable, pk=email_id, attempts__lt=recovery.max_attempts()).update(
        status=Status.PROCESSING, processing_started_at=Now(), attempts=F("attempts") + 1, error="", updated_at=Now()
    )
    if claimed:
        return IncomingEmail.objects.get(pk=email_id)
    recovery.email_fail_exhausted(email_id=email_id, condition=claimable)
    return None


@transaction.atomic
def email_record_classification(*, email, call):
    """Store the intent from a classification call, with the call's metrics; returns the Classification."""
    classification = answering.classification_of(call)
    IncomingEmail.objects.filter(pk=email.pk).update(
        intent=classification.intent, intent_confidence=classification.confidence,
        intent_prompt_version=call.prompt, updated_at=timezone.now(),
    )
    needs_review = bool(classification.problem) or classification.confidence < settings.REVIEW_CONFIDENCE_THRESHOLD
    _record_call_metrics(
        call=call, email=email, confidence=classification.confidence, needs_review=needs_review, operation="classify"
    )
    return classification


@transaction.atomic
def result_record(*, email, source, attachment=None, call):
    """Create or update the result of one source of an e-mail from a call, with the call's metrics."""
    normalised = answering.facts_of(call)
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
    MetricsCollector().record_call(
        prompt_version=call.prompt,
        model=call.model,
        operation=operation,
        email_id=email.pk,
        input_tokens=call.input_tokens,
        output_tokens=call.output_tokens,
        cost_usd=call.cost_usd,
        success=call.success,
        confidence=confidence,
        needs_review=needs_review,
        execution_time_ms=call.execution_time_ms,
    )


@transaction.atomic
def email_finish(*, email, results, review_reasons, duration_ms):
    """Merge a run's results, set the final status and drop results an earlier run left behind.

    `results` are the ExtractionResults written by this run; `review_reasons` what already needs a
    human (e.g. an unreadable attachment). The intent is read from the database, as the
    classification stored it. Returns the e-mail with its final status.
    """
    current = IncomingEmail.objects.get(pk=email.pk)
    threshold = settings.REVIEW_CONFIDENCE_THRESHOLD
    reasons = [*review_reasons, *_intent_review_reasons(current, threshold)]
    for result in results:
        reasons.extend(_result_review_reasons(result, threshold))
    keep = [r.pk for r in results]
    if results:
        merged = _merged_result_record(email=current, results=results, needs_review=bool(reasons))
        keep.append(merged.pk)
        if not any(r.success for r in results):
            reasons.append("no source gave a usable answer")
    ExtractionResult.objects.filter(email=current).exclude(pk__in=keep).delete()
    confidences = [
        c for c in [current.intent_confidence, *(r.confidence for r in results if r.success)] if c is not None
    ]
    current.lowest_confidence = min(confidences) if confidences else None
    current.review_reason = "\n".join(reasons)
    if reasons:
        current.status = Status.MANUAL_REVIEW
    else:
        current.status = Status.EXTRACTED if results else Status.CLASSIFIED
    current.review_sample = current.status != Status.MANUAL_REVIEW and _drawn_for_review_sample()
    current.error = ""
    current.save(
        update_fields=["lowest_confidence", "review_reason", "status", "review_sample", "error", "updated_at"]
    )
    MetricsCollector().record_processing_time(stage="pipeline", duration_ms=duration_ms, email_id=current.pk)
    return current


def _drawn_for_review_sample():
    # The QA sample of the review queue: answers that passed on their own confidence are checked too.
    # random.random(), so a test can seed it; the e-mail is not held back either way.
    return random.random() < settings.REVIEW_SAMPLE_RATE


# The reasons are stored with the e-mail, so they are written in the product's language (the worker runs with
# LANGUAGE_CODE): German in the practice, with German numbers ("0,64 liegt unter 0,7").
def _intent_review_reasons(email, threshold):
    reasons = []
    if email.intent_confidence is not None and email.intent_confidence < threshold:
        reasons.append(gettext("intent confidence %(confidence)s is below %(threshold)s") % {
            "confidence": format_number(email.intent_confidence, 2), "threshold": format_number(threshold)})
    if email.intent == Intent.INQUIRY:
        reasons.append(gettext("the creditor asks a question that needs a manual answer"))
    return reasons


def _result_review_reasons(result, threshold):
    label = result.attachment.original_name if result.attachment_id else str(result.get_source_display())
    if not result.success:
        return [f"{label}: {result.error}"]
    reasons = [
        gettext("%(source)s: could not read %(field)s (%(why)s)") % {
            "source": label, "field": ExtractionResult._meta.get_field(name).verbose_name,
            "why": normalise.unreadable_because(name, raw),
        }
        for name, raw in result.unparsed.items()
    ]
    if result.confidence is not None and result.confidence < threshold:
        reasons.append(gettext("%(source)s: confidence %(confidence)s is below %(threshold)s") % {
            "source": label, "confidence": format_number(result.confidence, 2),
            "threshold": format_number(threshold)})
    return reasons


def _merged_result_record(*, email, results, needs_review):
    # Each field comes from the most confident source that has it.
    ranked = sorted((r for r in results if r.success), key=lambda r: -(r.confidence or 0))
    fields = answering.merge_facts(
        [{name: getattr(r, name) for name in (*normalise.MERGED_FIELDS, "confidence")} for r in ranked]
    )
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
    """Mark an e-mail failed with the reason (it can be re-queued later), count the error, return it.

    With `prompt_version`, the failed API call is recorded too (no tokens, no cost), so a
    version's success rate and latency include the calls the API never answered.
    """
    IncomingEmail.objects.filter(pk=email.pk).update(status=Status.FAILED, error=reason, updated_at=timezone.now())
    failed = IncomingEmail.objects.get(pk=email.pk)
    collector = MetricsCollector()
    collector.record_error(stage=stage, error_type=error_type, email_id=failed.pk)
    if prompt_version is not None:
        collector.record_prompt_call(
            prompt_version=prompt_version, email_id=failed.pk, input_tokens=0, output_tokens=0, cost_usd=0,
            success=False, needs_review=False, execution_time_ms=execution_time_ms or 0,
        )
    logger.warning("E-mail %s failed at %s: %s", failed.pk, stage, reason)
    return failed
