"""Reads: the per-day aggregate queries the rollups upsert, and which days need rolling up or cleaning."""

from datetime import timedelta

from django.db.models import Avg, Count, Max, Min, Q, Sum
from django.utils import timezone

from metrics import ratios
from metrics.aggregates import ExactDecimalSum, Percentile
from metrics.days import day_bounds, days_between, local_day
from metrics.models import (
    OperationalMetrics,
    PromptAccuracyDaily,
    PromptAccuracyMetrics,
    PromptPerformanceMetrics,
    RollupDay,
)

P95 = 0.95

RAW_MODELS = {
    RollupDay.Kind.PROMPT: PromptPerformanceMetrics,
    RollupDay.Kind.OPERATIONAL: OperationalMetrics,
    RollupDay.Kind.ACCURACY: PromptAccuracyMetrics,
}

ACCURACY_COUNTS = ("review_count", "fields_checked", "fields_correct", "intent_checked", "intent_correct")


def raw_rows_of_day(*, kind, day):
    """Raw rows of one local day: a range on the indexed timestamp, never date(recorded_at)."""
    start, end = day_bounds(day)
    return RAW_MODELS[kind].objects.filter(recorded_at__gte=start, recorded_at__lt=end)


def prompt_day_aggregates(*, day):
    """One dict per prompt version with the day's totals, computed by the database in one grouped query."""
    return (
        raw_rows_of_day(kind=RollupDay.Kind.PROMPT, day=day)
        .values("prompt_version")
        .annotate(
            call_count=Count("pk"),
            success_count=Count("pk", filter=Q(success=True)),
            review_count=Count("pk", filter=Q(needs_review=True)),
            total_input_tokens=Sum("input_tokens"),
            total_output_tokens=Sum("output_tokens"),
            total_cost_usd=ExactDecimalSum("cost_usd", decimal_places=8),
            avg_confidence=Avg("confidence"),
            avg_execution_time_ms=Avg("execution_time_ms"),
            p95_execution_time_ms=Percentile("execution_time_ms", P95),
            max_id=Max("pk"),
        )
        .order_by("prompt_version")
    )


def _accuracy_sums():
    """The ACCURACY_COUNTS of raw accuracy rows, as aggregates (one row is one review of one version)."""
    return {"review_count": Count("pk"), **{name: Sum(name) for name in ACCURACY_COUNTS if name != "review_count"}}


def accuracy_day_aggregates(*, day):
    """One dict per prompt version with the day's review counts: reviews, fields and intents checked and right."""
    return (
        raw_rows_of_day(kind=RollupDay.Kind.ACCURACY, day=day)
        .values("prompt_version")
        .annotate(**_accuracy_sums(), max_id=Max("pk"))
        .order_by("prompt_version")
    )


def prompt_accuracy(*, template, start, end, today=None):
    """Accuracy of a prompt version over local days `start`..`end` (both included): past days from the daily
    rollup, today from the raw rows. Returns review_count, fields_checked, fields_correct, accuracy,
    intent_checked, intent_correct, intent_accuracy (an accuracy is None when nothing was checked)."""
    today = today or local_day(timezone.now())
    totals = PromptAccuracyDaily.objects.filter(
        prompt_version=template, date__gte=start, date__lte=min(end, today - timedelta(days=1))
    ).aggregate(**{name: Sum(name) for name in ACCURACY_COUNTS})
    totals = {name: totals[name] or 0 for name in ACCURACY_COUNTS}
    if start <= today <= end:
        for row in accuracy_day_aggregates(day=today).filter(prompt_version=template):
            for name in ACCURACY_COUNTS:
                totals[name] += row[name]
    return accuracy_figures(**totals)


def accuracy_since(*, version_ids, start, end=None):
    """{version id: accuracy figures} of the reviews saved from `start` (to `end`), from the raw rows.

    For live comparisons over hours or days (a canary's two arms); a version without reviews in the window
    has zero counts and accuracies of None.
    """
    rows = PromptAccuracyMetrics.objects.filter(prompt_version__in=version_ids, recorded_at__gte=start)
    if end is not None:
        rows = rows.filter(recorded_at__lte=end)
    totals = {
        row.pop("prompt_version"): row
        for row in rows.values("prompt_version").annotate(**_accuracy_sums()).order_by()
    }
    empty = dict.fromkeys(ACCURACY_COUNTS, 0)
    return {pk: accuracy_figures(**totals.get(pk, empty)) for pk in version_ids}


def accuracy_figures(*, review_count, fields_checked, fields_correct, intent_checked, intent_correct):
    """The counts with their two ratios (None when nothing was checked)."""
    return {
        "review_count": review_count,
        "fields_checked": fields_checked,
        "fields_correct": fields_correct,
        "accuracy": ratios.accuracy(correct=fields_correct, checked=fields_checked),
        "intent_checked": intent_checked,
        "intent_correct": intent_correct,
        "intent_accuracy": ratios.accuracy(correct=intent_correct, checked=intent_checked),
    }


def operational_day_aggregates(*, day):
    """One dict per (metric_type, labels_key) with count, sum, avg, min, max and p95 of the day's values."""
    return (
        raw_rows_of_day(kind=RollupDay.Kind.OPERATIONAL, day=day)
        .values("metric_type", "labels_key")
        .annotate(
            sample_count=Count("pk"),
            sum_value=Sum("value"),
            avg_value=Avg("value"),
            min_value=Min("value"),
            max_value=Max("value"),
            p95_value=Percentile("value", P95),
            max_id=Max("pk"),
        )
        .order_by("metric_type", "labels_key")
    )


def first_raw_day(*, kind):
    """The local day of the oldest raw row (None when the table is empty); uses the timestamp index."""
    oldest = RAW_MODELS[kind].objects.aggregate(oldest=Min("recorded_at"))["oldest"]
    return local_day(oldest) if oldest else None


def days_needing_rollup(*, kind, today, reaggregate_days):
    """Days up to yesterday to (re)aggregate: every day never completely rolled up since the oldest raw
    row (however long the worker was down), plus the last `reaggregate_days` days for late rows."""
    first = first_raw_day(kind=kind)
    yesterday = today - timedelta(days=1)
    if first is None or first > yesterday:
        return []
    ledger = {entry.day: entry for entry in RollupDay.objects.filter(kind=kind, day__gte=first, day__lte=yesterday)}
    recent_start = yesterday - timedelta(days=reaggregate_days - 1)
    needed = []
    for day in days_between(first, yesterday):
        entry = ledger.get(day)
        if entry is None:
            needed.append(day)
        elif not entry.is_final and (day >= recent_start or not entry.was_complete_when_rolled_up()):
            needed.append(day)
    return needed


def expired_days(*, kind, now, retention_days):
    """Rolled-up days whose raw rows are all older than the retention and not yet cleaned, oldest first.

    Days without a ledger entry are never returned: their raw rows wait for the catch-up.
    """
    last_expired = local_day(now - timedelta(days=retention_days)) - timedelta(days=1)
    return RollupDay.objects.filter(kind=kind, day__lte=last_expired, cleaned_at__isnull=True).order_by("day")


def cleanable_rows(*, entry):
    """Raw rows of a ledger day that its rollup covers (ids up to the highest one it read)."""
    rows = raw_rows_of_day(kind=entry.kind, day=entry.day)
    if entry.source_max_id is None:
        return rows.none()
    return rows.filter(pk__lte=entry.source_max_id)


def has_rows_after_rollup(*, entry):
    """True when raw rows arrived for the day after it was rolled up (they have higher ids)."""
    rows = raw_rows_of_day(kind=entry.kind, day=entry.day)
    if entry.source_max_id is not None:
        rows = rows.filter(pk__gt=entry.source_max_id)
    return rows.exists()
