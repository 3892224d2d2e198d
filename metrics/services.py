"""Writes: daily rollups (upserts), the catch-up after an outage, raw-row retention, queue-depth sampling."""

import contextlib
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_q.brokers import get_broker

from extraction.models import IncomingEmail
from metrics import selectors
from metrics.collector import MetricsCollector
from metrics.days import local_day
from metrics.models import OperationalMetricsDaily, PromptPerformanceDaily, RollupDay

logger = logging.getLogger(__name__)

Kind = RollupDay.Kind

PROMPT_DAILY_FIELDS = [
    "call_count", "success_count", "review_count", "total_input_tokens", "total_output_tokens", "total_cost_usd",
    "avg_confidence", "avg_execution_time_ms", "p95_execution_time_ms",
]
OPERATIONAL_DAILY_FIELDS = ["sample_count", "sum_value", "avg_value", "min_value", "max_value", "p95_value"]

WAITING_EMAIL_STATUSES = ("received", "queued")


class DayAlreadyCleaned(Exception):
    """The day's raw rows were (partly) deleted, so re-aggregating it would overwrite good daily rows."""


@dataclass
class NightlyResult:
    kind: str
    rolled_up_days: list = field(default_factory=list)
    deleted_rows: int = 0


@transaction.atomic
def rollup_prompt_metrics(*, day):
    """Aggregate one local day of prompt calls into PromptPerformanceDaily (upsert); returns daily rows written."""
    ledger = _lock_ledger_day(kind=Kind.PROMPT, day=day)
    now = timezone.now()
    groups = list(selectors.prompt_day_aggregates(day=day))
    rows = [
        PromptPerformanceDaily(
            prompt_version_id=group["prompt_version"], date=day, rolled_up_at=now,
            **{name: group[name] for name in PROMPT_DAILY_FIELDS},
        )
        for group in groups
    ]
    PromptPerformanceDaily.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["prompt_version", "date"],
        update_fields=[*PROMPT_DAILY_FIELDS, "rolled_up_at"],
    )
    # A version with no rows left for the day (never in practice, but re-runs must be exact) loses its row.
    PromptPerformanceDaily.objects.filter(date=day).exclude(
        prompt_version__in=[group["prompt_version"] for group in groups]
    ).delete()
    _record_rollup(ledger, now=now, groups=groups, count_field="call_count")
    return len(rows)


@transaction.atomic
def rollup_operational_metrics(*, day):
    """Aggregate one local day of operational samples per (metric_type, labels_key); returns rows written."""
    ledger = _lock_ledger_day(kind=Kind.OPERATIONAL, day=day)
    now = timezone.now()
    groups = list(selectors.operational_day_aggregates(day=day))
    rows = [
        OperationalMetricsDaily(
            metric_type=group["metric_type"], labels_key=group["labels_key"], date=day, rolled_up_at=now,
            **{name: group[name] for name in OPERATIONAL_DAILY_FIELDS},
        )
        for group in groups
    ]
    OperationalMetricsDaily.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["metric_type", "date", "labels_key"],
        update_fields=[*OPERATIONAL_DAILY_FIELDS, "rolled_up_at"],
    )
    kept = {(group["metric_type"], group["labels_key"]) for group in groups}
    stale = [
        pk for pk, metric_type, labels_key in
        OperationalMetricsDaily.objects.filter(date=day).values_list("pk", "metric_type", "labels_key")
        if (metric_type, labels_key) not in kept
    ]
    OperationalMetricsDaily.objects.filter(pk__in=stale).delete()
    _record_rollup(ledger, now=now, groups=groups, count_field="sample_count")
    return len(rows)


ROLLUPS = {Kind.PROMPT: rollup_prompt_metrics, Kind.OPERATIONAL: rollup_operational_metrics}


def rollup_day(*, kind, day):
    """Roll up one day of one raw table (`kind` is "prompt" or "operational")."""
    return ROLLUPS[kind](day=day)


def _lock_ledger_day(*, kind, day):
    # Every rollup and cleanup batch of a day locks its ledger row first, so two workers (or a rollup
    # and a cleanup) on the same day run one after the other. get_or_create first: a row must exist to lock.
    ledger, _ = RollupDay.objects.get_or_create(
        kind=kind, day=day, defaults={"rolled_up_at": timezone.now(), "source_rows": 0}
    )
    ledger = RollupDay.objects.select_for_update().get(pk=ledger.pk)
    if ledger.is_final:
        raise DayAlreadyCleaned(f"{kind} metrics of {day} were already cleaned; its daily rows are final.")
    return ledger


def _record_rollup(ledger, *, now, groups, count_field):
    values = {
        "rolled_up_at": now,
        "source_rows": sum(group[count_field] for group in groups),
        "source_max_id": max((group["max_id"] for group in groups), default=None),
    }
    RollupDay.objects.filter(pk=ledger.pk).update(**values)


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


def cleanup_raw_day(*, entry, batch_size=None):
    """Delete the raw rows of one expired, rolled-up ledger day in batches; returns rows deleted.

    Each batch is its own short transaction, so a big day never holds a long lock. Rows that arrived
    after the rollup are first folded into it (re-aggregation); an interrupted cleanup resumes.
    """
    batch_size = batch_size or settings.METRICS_CLEANUP_BATCH_SIZE
    if entry.deleted_rows == 0 and selectors.has_rows_after_rollup(entry=entry):
        # Another worker may have started cleaning the day meanwhile; then its rollup is final.
        with contextlib.suppress(DayAlreadyCleaned):
            rollup_day(kind=entry.kind, day=entry.day)
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
                RollupDay.objects.filter(pk=entry.pk).update(cleaned_at=timezone.now())
                return deleted_total


def rows_cleanup_would_delete(*, entry):
    """What cleanup_raw_day would delete now (for --dry-run): late rows are folded in first, then deleted."""
    if entry.deleted_rows == 0:
        return selectors.raw_rows_of_day(kind=entry.kind, day=entry.day).count()
    return selectors.cleanable_rows(entry=entry).count()


def cleanup_raw_metrics(
    *, now=None, kinds=(Kind.PROMPT, Kind.OPERATIONAL), batch_size=None, dry_run=False, progress=iter
):
    """Delete raw rows older than METRICS_RAW_RETENTION_DAYS, only for rolled-up days; returns
    {"prompt": rows deleted, "operational": rows deleted} (with dry_run: rows that would be deleted).

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


@transaction.atomic
def record_queue_depths():
    """Sample the two queues: e-mails waiting to be processed, and tasks waiting in the django-q2 broker."""
    collector = MetricsCollector()
    waiting = IncomingEmail.objects.filter(status__in=WAITING_EMAIL_STATUSES).count()
    broker_size = get_broker().queue_size() or 0
    return [
        collector.record_queue_depth(queue="emails_waiting", depth=waiting),
        collector.record_queue_depth(queue="django_q", depth=broker_size),
    ]
