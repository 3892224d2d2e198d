"""How a case's answer scores, and a run's figures. The rules themselves are extraction.scoring's (one
definition for the review and for experiments).

A classification version is checked on the intent (one field per case); an extraction version on the nine
facts (REVIEW_FIELDS). An unusable answer (a failed call, an answer that is not the JSON asked for) scores
as what production would store for it: nothing, so a field expected empty still counts as right.
"""

from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from evaluation import expected
from evaluation.models import ExperimentCaseResult
from extraction import answering, scoring
from metrics.aggregates import ExactDecimalSum, Percentile

Outcome = ExperimentCaseResult.Outcome


def case_score(*, case, prompt_key, answers):
    """{"answered", "correct", "fields_checked", "fields_correct"} of one case's Answers (JSON-safe)."""
    if prompt_key == answering.CLASSIFICATION_KEY:
        intent = answers[0].values["intent"]
        answered = {"intent": intent}
        correct = {"intent": scoring.intent_correct(case.expected_intent, intent)}
    else:
        # A value the model wrote that could not be read counts as answered (and wrong), as in the review.
        answered = answering.merge_facts([{**answer.values, **answer.unparsed} for answer in answers])
        correct = scoring.score_facts(case.expected_values(), answered)
    return {
        "answered": expected.facts_to_json(answered),
        "correct": correct,
        "fields_checked": len(correct),
        "fields_correct": sum(correct.values()),
    }


def run_summary(run):
    """The SPEC figures of a run: cases, scored, fields_checked, fields_correct, accuracy, exact_rate,
    intent_accuracy (classification runs; else None), cost_usd, p95_latency_ms, errors; plus skipped,
    not_applicable and pending."""
    scored = Q(outcome=Outcome.SCORED)
    figures = ExperimentCaseResult.objects.filter(run=run).aggregate(
        cases=Count("pk"),
        scored=Count("pk", filter=scored),
        skipped=Count("pk", filter=Q(outcome=Outcome.SKIPPED)),
        not_applicable=Count("pk", filter=Q(outcome=Outcome.NOT_APPLICABLE)),
        pending=Count("pk", filter=Q(outcome=Outcome.PENDING)),
        errors=Count("pk", filter=scored & ~Q(error="")),
        exact=Count("pk", filter=scored & Q(fields_checked__gt=0, fields_correct=F("fields_checked"))),
        fields_checked=Sum("fields_checked", filter=scored),
        fields_correct=Sum("fields_correct", filter=scored),
        cost_usd=ExactDecimalSum("cost_usd", decimal_places=8),
        p95_latency_ms=Percentile("latency_ms", 0.95, filter=scored),
    )
    checked, right = figures["fields_checked"] or 0, figures["fields_correct"] or 0
    accuracy = right / checked if checked else None
    is_classification = (run.template.task_type, run.template.name) == answering.CLASSIFICATION_KEY
    return {
        "cases": figures["cases"],
        "scored": figures["scored"],
        "fields_checked": checked,
        "fields_correct": right,
        "accuracy": accuracy,
        "exact_rate": figures.pop("exact") / figures["scored"] if figures["scored"] else None,
        "intent_accuracy": accuracy if is_classification else None,
        "cost_usd": figures["cost_usd"] if figures["cost_usd"] is not None else Decimal("0"),
        "p95_latency_ms": figures["p95_latency_ms"],
        "errors": figures["errors"],
        "skipped": figures["skipped"],
        "not_applicable": figures["not_applicable"],
        "pending": figures["pending"],
    }


def field_accuracy(run):
    """{field: accuracy (None when never checked)} over a run's scored cases."""
    checked, right = {}, {}
    for correct in ExperimentCaseResult.objects.filter(run=run, outcome=Outcome.SCORED).values_list(
        "correct", flat=True
    ):
        for name, ok in correct.items():
            checked[name] = checked.get(name, 0) + 1
            right[name] = right.get(name, 0) + bool(ok)
    return {name: right[name] / checked[name] for name in checked}
