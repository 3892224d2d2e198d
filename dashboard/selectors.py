"""Reads for the operators' pages (queries only): prompt figures per version and day, activations,
daily operational rows, and the admin index overview.

Days are local calendar days (TIME_ZONE). Past days come from the nightly rollups; when a range ends
today, today so far comes from the raw rows (the rollup of today only runs tomorrow).
"""

from collections import defaultdict
from datetime import timedelta

from django.db.models import Count, Max, Q

from dashboard.figures import AccuracyFigures, DayFigures
from extraction.models import IncomingEmail
from extraction.selectors import can_review, intake_status, review_queue
from metrics.days import day_bounds
from metrics.models import OperationalMetricsDaily, PromptAccuracyDaily, PromptPerformanceDaily
from metrics.selectors import (
    ACCURACY_COUNTS,
    accuracy_day_aggregates,
    operational_day_aggregates,
    prompt_day_aggregates,
)
from prompts import selectors as prompt_selectors
from prompts.models import PromptActivation, PromptRollout, PromptTemplate

# Prompt performance ---------------------------------------------------------------------------------------


def prompt_versions(*, task_type, name):
    return list(PromptTemplate.objects.filter(task_type=task_type, name=name).order_by("version"))


def prompt_day_figures(*, versions, day_range):
    """{version pk: {day: DayFigures}} over the range: rollups for past days, raw rows for today so far."""
    figures = defaultdict(dict)
    daily = PromptPerformanceDaily.objects.filter(
        prompt_version__in=versions, date__gte=day_range.first, date__lte=day_range.last
    ).values_list(
        "prompt_version", "date", "call_count", "success_count", "review_count", "total_cost_usd",
        "avg_confidence", "p95_execution_time_ms",
    )
    for version, day, calls, successes, reviews, cost, confidence, p95 in daily:
        figures[version][day] = DayFigures(
            call_count=calls, success_count=successes, review_count=reviews, total_cost_usd=cost,
            avg_confidence=confidence, p95_ms=p95,
        )
    if day_range.includes_today:
        # Raw rows are fresher than a rollup of today someone may have run by hand: they win.
        for row in prompt_day_aggregates(day=day_range.today).filter(prompt_version__in=versions):
            figures[row["prompt_version"]][day_range.today] = DayFigures(
                call_count=row["call_count"], success_count=row["success_count"], review_count=row["review_count"],
                total_cost_usd=row["total_cost_usd"], avg_confidence=row["avg_confidence"],
                p95_ms=row["p95_execution_time_ms"],
            )
    return figures


def prompt_day_accuracy(*, versions, day_range):
    """{version pk: {day: AccuracyFigures}} of the reviews over the range: rollups for past days, raw rows
    for today so far."""
    accuracy = defaultdict(dict)
    daily = (
        PromptAccuracyDaily.objects.filter(
            prompt_version__in=versions, date__gte=day_range.first, date__lte=day_range.last
        )
        .exclude(date=day_range.today)
        .values("prompt_version", "date", *ACCURACY_COUNTS)
    )
    for row in daily:
        accuracy[row["prompt_version"]][row["date"]] = AccuracyFigures(**{n: row[n] for n in ACCURACY_COUNTS})
    if day_range.includes_today:
        for row in accuracy_day_aggregates(day=day_range.today).filter(prompt_version__in=versions):
            accuracy[row["prompt_version"]][day_range.today] = AccuracyFigures(**{n: row[n] for n in ACCURACY_COUNTS})
    return accuracy


def activations_in_range(*, task_type, name, day_range):
    """Operators' activations and rollbacks of a prompt inside the range (not its seeding), oldest first."""
    start, _ = day_bounds(day_range.first)
    _, end = day_bounds(day_range.last)
    return list(
        PromptActivation.objects.filter(task_type=task_type, name=name, activated_at__gte=start, activated_at__lt=end)
        .exclude(kind=PromptActivation.Kind.SEED)
        .select_related("to_version")
        .order_by("activated_at", "id")
    )


def rollouts_in_range(*, task_type, name, day_range):
    """Canaries of a prompt that started or ended inside the range, oldest first."""
    start, _ = day_bounds(day_range.first)
    _, end = day_bounds(day_range.last)
    return list(
        PromptRollout.objects.filter(task_type=task_type, name=name)
        .filter(Q(started_at__gte=start, started_at__lt=end) | Q(ended_at__gte=start, ended_at__lt=end))
        .select_related("candidate")
        .order_by("started_at", "id")
    )


def last_prompt_day_with_data(*, versions):
    return PromptPerformanceDaily.objects.filter(prompt_version__in=versions).aggregate(last=Max("date"))["last"]


# Operations -----------------------------------------------------------------------------------------------


def operational_day_rows(*, day_range):
    """Daily operational rows over the range as dicts; today's come from the raw rows."""
    rows = list(
        OperationalMetricsDaily.objects.filter(date__gte=day_range.first, date__lte=day_range.last)
        .exclude(date=day_range.today)
        .values("metric_type", "date", "labels_key", "sample_count", "sum_value", "max_value", "p95_value")
    )
    if day_range.includes_today:
        rows += [{**row, "date": day_range.today} for row in operational_day_aggregates(day=day_range.today)]
    return rows


def last_operational_day_with_data():
    return OperationalMetricsDaily.objects.aggregate(last=Max("date"))["last"]


# Admin index ----------------------------------------------------------------------------------------------

FAILED_SHOWN = 5
# How far back the index lists the canaries' ends (the monitor's decisions and operators' stops).
RELEASE_DECISIONS_DAYS = 7


def prompt_overview():
    """Every prompt (task type, name) with its active version, or None when no version is active."""
    active = {(p.task_type, p.name): p for p in PromptTemplate.objects.filter(is_active=True)}
    keys = PromptTemplate.objects.values_list("task_type", "name").distinct().order_by("task_type", "name")
    return [{"task_type": t, "name": n, "key": f"{t}.{n}", "active": active.get((t, n))} for t, n in keys]


def emails_today_by_status(*, today):
    """Count of e-mails that arrived today (local day), for every status, zeros included."""
    start, end = day_bounds(today)
    counts = dict(
        IncomingEmail.objects.filter(created_at__gte=start, created_at__lt=end)
        .values("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    return [{"status": value, "label": label, "count": counts.get(value, 0)}
            for value, label in IncomingEmail.Status.choices]


def index_overview(*, user, today):
    """The index widgets' data; each only for a user allowed to see what it summarises."""
    overview = {"overview_today": today}
    if user.has_perm("prompts.view_prompttemplate"):
        overview["prompt_overview"] = prompt_overview()
        overview.update(release_overview(today=today))
    if user.has_perm("extraction.view_incomingemail"):
        failed = IncomingEmail.objects.filter(status=IncomingEmail.Status.FAILED).order_by("-updated_at", "-id")
        overview["emails_today"] = emails_today_by_status(today=today)
        overview["failed_count"] = failed.count()
        overview["failed_emails"] = list(failed[:FAILED_SHOWN])
    if can_review(user):
        overview["review_queue"] = review_queue().counts()
    if user.has_perm("extraction.view_mailboxstate"):
        overview["intake"] = intake_status()
    overview["can_view_operations"] = can_view_operations(user)
    return overview


def release_overview(*, today):
    """Four-eyes requests waiting for a decision, running canaries, and canaries that ended in the last days."""
    since, _ = day_bounds(today - timedelta(days=RELEASE_DECISIONS_DAYS - 1))
    return {
        "pending_requests": list(prompt_selectors.pending_requests()),
        "running_rollouts": list(prompt_selectors.running_rollouts().order_by("started_at")),
        "ended_rollouts": list(prompt_selectors.ended_rollouts(since=since)),
        "release_decisions_days": RELEASE_DECISIONS_DAYS,
    }


def can_view_operations(user):
    return user.has_perm("metrics.view_operationalmetricsdaily")
