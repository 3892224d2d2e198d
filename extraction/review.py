"""The review: an operator confirms or corrects an e-mail's intent and facts, and every prompt version
that contributed is scored against it (accuracy per version, rolled up in metrics).

Which fields count for which version ("the facts it answered"), per review:
- the classification version (`IncomingEmail.intent_prompt_version`) is checked on the intent only;
- each source's extraction version (`ExtractionResult.prompt_version` of the body, each PDF and image) is
  checked on every fact it answered (a non-empty value, or a value it wrote that could not be read), and on
  every fact the operator filled in that no source of the e-mail answered at all (a miss of the whole e-mail
  is charged to each source that could have found it; a fact another source found is not charged to a
  source whose document simply did not contain it);
- a fact the operator left empty that a source answered is checked (and wrong) for that source.
Right or wrong follows extraction.scoring (SPEC "The quality loop").
"""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from config.formatting import format_number
from extraction import scoring
from extraction.models import EmailReview, ExtractionResult, IncomingEmail, Intent
from extraction.normalise import AMOUNT_FIELDS, MAX_AMOUNT, TEXT_FIELDS
from extraction.scoring import REVIEW_FIELDS, is_empty
from metrics import services as metrics_services
from metrics.models import PromptPerformanceMetrics

__all__ = ["REVIEW_FIELDS", "ReviewConflict", "email_review", "merged_answer", "version_scores"]

Status = IncomingEmail.Status
# Statuses a review may start from: processing has ended (and a reviewed e-mail may be reviewed again).
REVIEWABLE = (Status.MANUAL_REVIEW, Status.EXTRACTED, Status.CLASSIFIED, Status.FAILED, Status.REVIEWED)


class ReviewConflict(ValueError):
    """Another operator saved a review of the e-mail after this operator's form was loaded."""


# Prefill ---------------------------------------------------------------------------------------------------

def _empty(name):
    return "" if name in TEXT_FIELDS else None


def merged_answer(email):
    """The review form's prefill: the e-mail's intent and the merged result's facts, with provenance.

    Returns {"intent", "facts": {field: value}, "sources": {field: {"source", "attachment", "raw"} or None}}:
    for each fact the source it was merged from (body/pdf/image), the attachment's name (None for the
    body) and the model's raw text of that value.
    """
    results = list(email.results.select_related("attachment"))
    merged = next((r for r in results if r.source == ExtractionResult.Source.MERGED), None)
    facts = {name: getattr(merged, name) if merged else _empty(name) for name in REVIEW_FIELDS}
    by_pk = {r.pk: r for r in results}
    # The merge ranked its sources (most confident first) and took each fact from the first that had it.
    ranked = [by_pk[pk] for pk in ((merged.parsed or {}).get("sources", []) if merged else []) if pk in by_pk]
    sources = {}
    for name in REVIEW_FIELDS:
        origin = next((r for r in ranked if not is_empty(facts[name]) and getattr(r, name) == facts[name]), None)
        sources[name] = None if origin is None else {
            "source": origin.source,
            "attachment": origin.attachment.original_name if origin.attachment_id else None,
            "raw": _raw_text((origin.parsed or {}).get(name)),
        }
    return {"intent": email.intent, "facts": facts, "sources": sources}


def _raw_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Validation ------------------------------------------------------------------------------------------------

def clean_review_input(*, intent, facts):
    """The facts as stored (texts stripped), or ValidationError keyed by field; nothing is coerced silently."""
    errors = {}
    if intent not in Intent.values:
        errors["intent"] = gettext("Unknown intent %(intent)r; one of %(choices)s.") % {
            "intent": intent, "choices": ", ".join(Intent.values),
        }
    unknown = sorted(set(facts) - set(REVIEW_FIELDS))
    if unknown:
        errors["facts"] = gettext("Unknown fields: %(fields)s.") % {"fields": ", ".join(unknown)}
    cleaned = {}
    for name in REVIEW_FIELDS:
        if name not in facts:
            errors[name] = gettext("Missing (give None or an empty text for a fact the e-mail does not state).")
            continue
        try:
            cleaned[name] = _clean_fact(name, facts[name])
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _clean_fact(name, value):
    if name in TEXT_FIELDS:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValueError(gettext("Expected a text, not %(value)r.") % {"value": value})
        if len(value.strip()) > TEXT_FIELDS[name]:
            raise ValueError(gettext("At most %(count)s characters.") % {"count": TEXT_FIELDS[name]})
        return value.strip()
    if value is None:
        return None
    if name in AMOUNT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
            raise ValueError(gettext("Expected an amount as Decimal, not %(value)r.") % {"value": value})
        amount = Decimal(value)
        if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
            raise ValueError(gettext("An amount must be between 0 and %(max)s, not %(value)s.")
                             % {"max": format_number(MAX_AMOUNT), "value": value})
        if amount != amount.quantize(Decimal("0.01")):
            raise ValueError(gettext("At most two decimal places, not %(value)s.") % {"value": value})
        return amount.quantize(Decimal("0.01"))
    if name == "statement_date":
        if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
            raise ValueError(gettext("Expected a date, not %(value)r.") % {"value": value})
        return value
    if not isinstance(value, bool):  # accepts_plan
        raise ValueError(gettext("Expected yes, no or empty, not %(value)r.") % {"value": value})
    return value


# Scoring per contributing version ------------------------------------------------------------------------

def version_scores(*, email, intent, facts):
    """Per contributing prompt version, what the review checked and found right (rules in the module doc).

    Returns [{"prompt_version": id, "fields_checked", "fields_correct", "intent_checked", "intent_correct",
    "fields": {field: right?}}], one per version (two sources answered by one version are summed).
    """
    by_version = {}

    def entry(version_id):
        return by_version.setdefault(version_id, {
            "prompt_version": version_id, "fields_checked": 0, "fields_correct": 0,
            "intent_checked": 0, "intent_correct": 0, "fields": {},
        })

    classifier_id = _classification_version_id(email)
    if classifier_id is not None:
        row = entry(classifier_id)
        row["intent_checked"] = 1
        row["intent_correct"] = int(scoring.intent_correct(intent, email.intent))
    sources = [
        r for r in email.results.all()
        if r.source != ExtractionResult.Source.MERGED and r.prompt_version_id is not None
    ]
    answered = {r.pk: _answers(r) for r in sources}
    found_anywhere = {name for answers in answered.values() for name in answers}
    for result in sources:
        row = entry(result.prompt_version_id)
        for name in REVIEW_FIELDS:
            if name in answered[result.pk] or (not is_empty(facts[name]) and name not in found_anywhere):
                right = scoring.field_correct(name, facts[name], answered[result.pk].get(name))
                row["fields_checked"] += 1
                row["fields_correct"] += int(right)
                # Two sources of one version: the field is right only if both got it right.
                row["fields"][name] = row["fields"].get(name, True) and right
    return sorted(by_version.values(), key=lambda row: row["prompt_version"])


def _classification_version_id(email):
    """The version that gave the intent; for e-mails processed before it was kept on the e-mail, the
    classification call's metric row, while it is retained."""
    if email.intent_prompt_version_id is not None:
        return email.intent_prompt_version_id
    return (
        PromptPerformanceMetrics.objects.filter(email_id=email.pk, prompt_version__task_type="classification")
        .order_by("-recorded_at", "-id").values_list("prompt_version", flat=True).first()
    )


def _answers(result):
    """{field: value} of what one source answered; an unreadable value is kept as the raw text (never right)."""
    answers = {name: getattr(result, name) for name in REVIEW_FIELDS if not is_empty(getattr(result, name))}
    for name, raw in (result.unparsed or {}).items():
        if name in REVIEW_FIELDS and not is_empty(raw):
            answers[name] = str(raw)
    return answers


# The write -------------------------------------------------------------------------------------------------

def _changed_fields(*, prefill, intent, facts):
    changed = ["intent"] if intent != prefill["intent"] else []
    return changed + [name for name in REVIEW_FIELDS if facts[name] != prefill["facts"][name]]


def _conflict_message(review):
    who = review.reviewed_by.get_username()
    when = timezone.localtime(review.reviewed_at).strftime("%d.%m.%Y %H:%M:%S")
    return gettext(
        "%(who)s saved a review of this e-mail at %(when)s (revision %(revision)s) while you had it open; "
        "nothing of yours was saved. Reload to see their review."
    ) % {"who": who, "when": when, "revision": review.revision}


@transaction.atomic
def email_review(*, email, reviewed_by, intent, facts, note="", expected_revision=None):
    """Store the operator's review beside the model's results, mark the e-mail reviewed and record the
    accuracy of every contributing prompt version (a re-review replaces the review and its accuracy rows).

    `expected_revision` is the revision the operator's form showed (0: none yet); when another review was
    saved meanwhile, ReviewConflict is raised and nothing is saved. Invalid input raises ValidationError.
    """
    email = IncomingEmail.objects.select_for_update().get(pk=email.pk)
    previous = EmailReview.objects.select_related("reviewed_by").filter(email=email).first()
    if expected_revision is not None and expected_revision != (previous.revision if previous else 0):
        raise ReviewConflict(_conflict_message(previous) if previous else gettext("The review you saw was deleted."))
    if email.status not in REVIEWABLE:
        raise ValidationError({"email": gettext("An e-mail in status %(status)r cannot be reviewed.")
                               % {"status": str(email.get_status_display())}})
    facts = clean_review_input(intent=intent, facts=facts)
    scores = version_scores(email=email, intent=intent, facts=facts)
    values = {
        "intent": intent, **facts,
        "changed_fields": _changed_fields(prefill=merged_answer(email), intent=intent, facts=facts),
        "note": note.strip(), "reviewed_by": reviewed_by, "reviewed_at": timezone.now(),
        "revision": previous.revision + 1 if previous else 1, "scores": scores,
    }
    replaced = previous_scores_of(previous)  # read before the row is overwritten below
    review = previous or EmailReview(email=email)
    for name, value in values.items():
        setattr(review, name, value)
    review.full_clean()
    review.save()
    metrics_services.accuracy_replace(
        review_id=review.pk, email_id=email.pk, scores=scores, recorded_at=review.reviewed_at,
        replaced=replaced,
    )
    # Saved: whoever held the e-mail in the workstation (extraction.review_claims) holds it no longer.
    IncomingEmail.objects.filter(pk=email.pk).update(
        status=Status.REVIEWED, updated_at=timezone.now(), review_claimed_by=None, review_claimed_at=None
    )
    return review


def previous_scores_of(previous):
    """What the replaced review counted, and when (the metrics service needs it once raw rows are cleaned)."""
    if previous is None:
        return None
    return {"recorded_at": previous.reviewed_at, "scores": previous.scores}
