"""Writes: daily rollups (upserts), the catch-up after an outage, raw-row retention."""

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from metrics import selectors
from metrics.days import local_day
from metrics.models import (
    OperationalMetricsDaily,
    PromptAccuracyDaily,
    PromptAccuracyMetrics,
    PromptPerformanceDaily,
    RollupDay,
)

logger = logging.getLogger(__name__)

Kind = RollupDay.Kind


class DayAlreadyCleaned(Exception):
    """The day's raw rows were (partly) deleted, so re-aggregating it would overwrite good daily rows."""


@dataclass
class NightlyResult:
    kind: str
    rolled_up_days: list = field(default_factory=list)
    deleted_rows: int = 0


@dataclass(frozen=True)
class Rollup:
    """How one raw table rolls up into its daily table.

    `aggregates(day=...)` returns one dict per daily row: the `key_fields` that identify it (besides
    its date), the `value_fields` it stores, `count_field` (raw rows aggregated) and `max_id`.
    """

    daily_model: type
    key_fields: tuple
    value_fields: tuple
    count_field: str
    aggregates: Callable


# Another raw table rolls up by adding its RollupDay.Kind, its raw model to selectors.RAW_MODELS, a selector
# that aggregates a day, and an entry here: the catch-up, the cleanup, the ledger and `rollup_metrics` then
# cover it (a nightly task and schedule run it).
ROLLUPS = {
    Kind.PROMPT: Rollup(
        daily_model=PromptPerformanceDaily,
        key_fields=("prompt_version",),
        value_fields=(
            "call_count", "success_count", "review_count", "total_input_tokens", "total_output_tokens",
            "total_cost_usd", "avg_confidence", "avg_execution_time_ms", "p95_execution_time_ms",
        ),
        count_field="call_count",
        aggregates=selectors.prompt_day_aggregates,
    ),
    Kind.OPERATIONAL: Rollup(
        daily_model=OperationalMetricsDaily,
        key_fields=("metric_type", "labels_key"),
        value_fields=("sample_count", "sum_value", "avg_value", "min_value", "max_value", "p95_value"),
        count_field="sample_count",
        aggregates=selectors.operational_day_aggregates,
    ),
    Kind.ACCURACY: Rollup(
        daily_model=PromptAccuracyDaily,
        key_fields=("prompt_version",),
        value_fields=selectors.ACCURACY_COUNTS,
        count_field="review_count",
        aggregates=selectors.accuracy_day_aggregates,
    ),
}


@transaction.atomic
def rollup_day(*, kind, day, now=None):
    """Aggregate one local day of one raw table into its daily table; returns the daily rows written.

    An upsert: re-running a day gives identical rows, late raw rows update it. Raises DayAlreadyCleaned
    once cleanup has deleted raw rows of the day. `now` is the time recorded as `rolled_up_at`.
    """
    rollup = ROLLUPS[kind]
    now = now or timezone.now()
    ledger = _lock_ledger_day(kind=kind, day=day, now=now)
    groups = list(rollup.aggregates(day=day))
    model = rollup.daily_model
    columns = {name: model._meta.get_field(name).attname for name in rollup.key_fields}  # prompt_version_id
    rows = [
        model(
            date=day, rolled_up_at=now,
            **{columns[name]: group[name] for name in rollup.key_fields},
            **{name: group[name] for name in rollup.value_fields},
        )
        for group in groups
    ]
    model.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=[*rollup.key_fields, "date"],
        update_fields=[*rollup.value_fields, "rolled_up_at"],
    )
    # A group with no raw rows left for the day (never in practice, but re-runs must be exact) loses its row.
    kept = {tuple(group[name] for name in rollup.key_fields) for group in groups}
    stale = [
        pk for pk, *key in model.objects.filter(date=day).values_list("pk", *rollup.key_fields)
        if tuple(key) not in kept
    ]
    model.objects.filter(pk__in=stale).delete()
    RollupDay.objects.filter(pk=ledger.pk).update(
        rolled_up_at=now,
        source_rows=sum(group[rollup.count_field] for group in groups),
        source_max_id=max((group["max_id"] for group in groups), default=None),
    )
    return len(rows)


def rollup_prompt_metrics(*, day, now=None):
    """Aggregate one local day of prompt calls into PromptPerformanceDaily (upsert); returns daily rows written."""
    return rollup_day(kind=Kind.PROMPT, day=day, now=now)


def rollup_operational_metrics(*, day, now=None):
    """Aggregate one local day of operational samples per (metric_type, labels_key); returns rows written."""
    return rollup_day(kind=Kind.OPERATIONAL, day=day, now=now)


def rollup_accuracy_metrics(*, day, now=None):
    """Aggregate one local day of review scores into PromptAccuracyDaily (upsert); returns daily rows written."""
    return rollup_day(kind=Kind.ACCURACY, day=day, now=now)


SCORE_COUNTS = ("fields_checked", "fields_correct", "intent_checked", "intent_correct")


@transaction.atomic
def accuracy_replace(*, review_id, email_id, scores, recorded_at, replaced=None):
    """Record a review's scores (one raw row per prompt version), replacing what an earlier revision of the
    same review recorded: nothing is counted twice.

    `scores`: dicts with prompt_version (id) and SCORE_COUNTS. `replaced`: {"recorded_at", "scores"} of the
    earlier revision, or None. Days whose daily rows counted the replaced rows are rolled up again at once;
    a day already cleaned (its raw rows are gone, so it cannot be recomputed) has the replaced counts
    subtracted from its daily rows instead.
    """
    old_rows = list(PromptAccuracyMetrics.objects.filter(review_id=review_id))
    PromptAccuracyMetrics.objects.filter(pk__in=[row.pk for row in old_rows]).delete()
    PromptAccuracyMetrics.objects.bulk_create(
        PromptAccuracyMetrics(
            prompt_version_id=score["prompt_version"], review_id=review_id, email_id=email_id,
            recorded_at=recorded_at, **{name: score[name] for name in SCORE_COUNTS},
        )
        for score in scores
    )
    # The new rows are like any late row: the catch-up folds them into a day rolled up before they came.
    days = {local_day(row.recorded_at) for row in old_rows}
    if replaced is not None and not old_rows:
        days.add(local_day(replaced["recorded_at"]))
    for entry in RollupDay.objects.filter(kind=Kind.ACCURACY, day__in=days).order_by("day"):
        if not entry.is_final:
            rollup_day(kind=Kind.ACCURACY, day=entry.day)
            continue
        # Cleaned: subtract what its rollup counted of the replaced revision: the rows it read, or, once
        # cleanup has deleted them, what the replaced revision's own record says they were.
        if old_rows:
            counted = [row for row in old_rows
                       if local_day(row.recorded_at) == entry.day and row.pk <= (entry.source_max_id or 0)]
        else:
            counted = [
                PromptAccuracyMetrics(prompt_version_id=score["prompt_version"], **{n: score[n] for n in SCORE_COUNTS})
                for score in replaced["scores"]
            ]
        _subtract_from_daily(day=entry.day, rows=counted)


def _subtract_from_daily(*, day, rows):
    for row in rows:
        PromptAccuracyDaily.objects.filter(prompt_version_id=row.prompt_version_id, date=day).update(
            review_count=F("review_count") - 1, **{name: F(name) - getattr(row, name) for name in SCORE_COUNTS},
        )
    # As a rollup would have it: a version with no review left on the day has no row.
    PromptAccuracyDaily.objects.filter(date=day, review_count=0).delete()


def _lock_ledger_day(*, kind, day, now):
    # Every rollup and cleanup batch of a day locks its ledger row first, so two workers (or a rollup
    # and a cleanup) on the same day run one after the other. get_or_create first: a row must exist to lock.
    ledger, _ = RollupDay.objects.get_or_create(kind=kind, day=day, defaults={"rolled_up_at": now, "source_rows": 0})
    ledger = RollupDay.objects.select_for_update().get(pk=ledger.pk)
    if ledger.is_final:
        raise DayAlreadyCleaned(f"{kind} metrics of {day} were already cleaned; its daily rows are final.")
    return ledger


def catch_up_rollups(*, kind, now=None):
    """Roll up every day not yet completely rolled up (after an outage of any length) and re-aggregate
    the last METRICS_REAGGREGATE_DAYS days; returns the days rolled up. Each day is its own transaction."""
    now = now or timezone.now()
    days = selectors.days_needing_rollup(
        kind=kind, today=local_day(now), reaggregate_days=settings.METRICS_REAGGREGATE_DAYS
    )
    for day in days:
        rollup_day(kind=kind, day=day)
    return days


def cleanup_raw_day(*, entry, batch_size=None, now=None):
    """Delete the raw rows of one expired, rolled-up ledger day in batches; returns rows deleted.

    Each batch is its own short transaction, so a big day never holds a long lock. Rows that arrived
    after the rollup are first folded into it (re-aggregation); an interrupted cleanup resumes.
    `now` is the time recorded as `cleaned_at` (and as `rolled_up_at` of a re-aggregation).
    """
    batch_size = batch_size or settings.METRICS_CLEANUP_BATCH_SIZE
    if entry.deleted_rows == 0 and selectors.has_rows_after_rollup(entry=entry):
        # Another worker may have started cleaning the day meanwhile; then its rollup is final.
        with contextlib.suppress(DayAlreadyCleaned):
            rollup_day(kind=entry.kind, day=entry.day, now=now)
    model = selectors.RAW_MODELS[entry.kind]
    deleted_total = 0
    while True:
        with transaction.atomic():
            # Re-read under lock: a concurrent rollup or cleanup of the day may have changed it.
            entry = RollupDay.objects.select_for_update().get(pk=entry.pk)
            if entry.cleaned_at is not None:
                return deleted_total
            # DELETE ... WHERE id IN (SELECT id ... LIMIT n): one statement, no ids through Python.
            batch = selectors.cleanable_rows(entry=entry).order_by().values("pk")[:batch_size]
            deleted, _ = model.objects.filter(pk__in=batch).delete()
            RollupDay.objects.filter(pk=entry.pk).update(deleted_rows=F("deleted_rows") + deleted)
            deleted_total += deleted
            if deleted < batch_size:
                RollupDay.objects.filter(pk=entry.pk).update(cleaned_at=now or timezone.now())
                return deleted_total


def rows_cleanup_would_delete(*, entry):
    """What cleanup_raw_day would delete now (for --dry-run): late rows are folded in first, then deleted."""
    if entry.deleted_rows == 0:
        return selectors.raw_rows_of_day(kind=entry.kind, day=entry.day).count()
    return selectors.cleanable_rows(entry=entry).count()


def cleanup_raw_metrics(
    *, now=None, kinds=tuple(ROLLUPS), batch_size=None, dry_run=False, progress=iter
):
    """Delete raw rows older than METRICS_RAW_RETENTION_DAYS, only for rolled-up days; returns
    {kind: rows deleted} for each kind, e.g. "prompt" and "operational" (with dry_run: rows that would be
    deleted).

    `progress` wraps the list of days (the command passes a tqdm progress bar).
    """
    now = now or timezone.now()
    entries = [
        entry
        for kind in kinds
        for entry in selectors.expired_days(kind=kind, now=now, retention_days=settings.METRICS_RAW_RETENTION_DAYS)
    ]
    counts = dict.fromkeys(kinds, 0)
    for entry in progress(entries):
        if dry_run:
            counts[entry.kind] += rows_cleanup_would_delete(entry=entry)
        else:
            counts[entry.kind] += cleanup_raw_day(entry=entry, batch_size=batch_size)
    return counts


def rollup_days(*, kinds, days, progress=iter):
    """Roll up each of `days` for each kind (a backfill); days already cleaned are skipped, not overwritten.

    Returns {kind: {"days": rolled up, "rows": daily rows written, "skipped": cleaned days}}.
    """
    summary = {kind: {"days": 0, "rows": 0, "skipped": 0} for kind in kinds}
    for kind, day in progress([(kind, day) for kind in kinds for day in days]):
        try:
            summary[kind]["rows"] += rollup_day(kind=kind, day=day)
            summary[kind]["days"] += 1
        except DayAlreadyCleaned:
            summary[kind]["skipped"] += 1
    return summary


def run_nightly_metrics(*, kind, now=None):
    """The nightly job of one raw table: catch up and re-aggregate, then clean what is rolled up."""
    now = now or timezone.now()
    rolled_up_days = catch_up_rollups(kind=kind, now=now)
    deleted = cleanup_raw_metrics(now=now, kinds=[kind])[kind]
    logger.info("metrics nightly %s: rolled up %d day(s), deleted %d raw row(s)", kind, len(rolled_up_days), deleted)
    return NightlyResult(kind=kind, rolled_up_days=rolled_up_days, deleted_rows=deleted)
