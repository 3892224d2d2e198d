"""Reads for the operators' pages: per-version prompt performance, operations per day, the index overview.

Days are local calendar days (TIME_ZONE). Past days come from the nightly rollups; when a range ends
today, today so far comes from the raw rows (the rollup of today only runs tomorrow) and is marked partial.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Max

from extraction.models import IncomingEmail
from extraction.selectors import intake_status
from metrics.days import day_bounds, days_between, local_day
from metrics.models import MetricType, OperationalMetricsDaily, PromptPerformanceDaily
from metrics.selectors import operational_day_aggregates, prompt_day_aggregates
from prompts.models import PromptActivation, PromptTemplate

RANGE_CHOICES = (7, 30, 90)
DEFAULT_RANGE = 30


@dataclass(frozen=True)
class DayRange:
    """The local days a page shows: `days` days ending on `last` (today unless the operator chose an end)."""

    last: object
    days: int
    today: object

    @property
    def first(self):
        return self.last - timedelta(days=self.days - 1)

    @property
    def dates(self):
        return days_between(self.first, self.last)

    @property
    def includes_today(self):
        return self.first <= self.today <= self.last


@dataclass
class Figures:
    """One version's (or one prompt-day's) call totals; ratios derive from them so sums stay exact."""

    calls: int = 0
    successes: int = 0
    reviews: int = 0
    cost_usd: Decimal = Decimal(0)
    # Confidence and p95 are per-day averages/percentiles: kept as (value, weight) pairs to combine.
    confidences: list = field(default_factory=list)
    p95s: list = field(default_factory=list)
    days: int = 0

    def add(self, other):
        self.calls += other.calls
        self.successes += other.successes
        self.reviews += other.reviews
        self.cost_usd += other.cost_usd
        self.confidences += other.confidences
        self.p95s += other.p95s
        self.days += other.days

    @property
    def success_rate(self):
        return self.successes / self.calls if self.calls else None

    @property
    def review_rate(self):
        return self.reviews / self.calls if self.calls else None

    @property
    def success_percent(self):
        return _percent(self.success_rate)

    @property
    def review_percent(self):
        return _percent(self.review_rate)

    @property
    def cost_per_call_usd(self):
        # Decimal division: exact to 28 significant digits, never a float rounding of money.
        return self.cost_usd / self.calls if self.calls else None

    @property
    def avg_confidence(self):
        """Call-weighted mean of the daily averages (days without a reported confidence are left out)."""
        return _weighted_mean(self.confidences)

    @property
    def p95_ms(self):
        """Call-weighted mean of the daily p95s: a true p95 over many days cannot be rebuilt from rollups."""
        return _weighted_mean(self.p95s)

    @property
    def worst_p95_ms(self):
        return max((value for value, _ in self.p95s), default=None)


def _weighted_mean(pairs):
    weight = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / weight if weight else None


def _figures(*, calls, successes, reviews, cost, confidence, p95):
    cost = cost if isinstance(cost, Decimal) else Decimal(str(cost or 0))
    return Figures(
        calls=calls, successes=successes, reviews=reviews, cost_usd=cost,
        confidences=[(confidence, calls)] if confidence is not None and calls else [],
        p95s=[(p95, calls)] if p95 is not None and calls else [],
        days=1,
    )


def day_range(*, today, days=DEFAULT_RANGE, last=None):
    return DayRange(last=last or today, days=days, today=today)


# Prompt performance ---------------------------------------------------------------------------------------


def prompt_day_figures(*, versions, day_range):
    """{version pk: {day: Figures}} over the range: rollups for past days, raw rows for today so far."""
    figures = defaultdict(dict)
    daily = PromptPerformanceDaily.objects.filter(
        prompt_version__in=versions, date__gte=day_range.first, date__lte=day_range.last
    ).values_list(
        "prompt_version", "date", "call_count", "success_count", "review_count", "total_cost_usd",
        "avg_confidence", "p95_execution_time_ms",
    )
    for version, day, calls, successes, reviews, cost, confidence, p95 in daily:
        figures[version][day] = _figures(
            calls=calls, successes=successes, reviews=reviews, cost=cost, confidence=confidence, p95=p95
        )
    if day_range.includes_today:
        # Raw rows are fresher than a rollup of today someone may have run by hand: they win.
        for row in prompt_day_aggregates(day=day_range.today).filter(prompt_version__in=versions):
            figures[row["prompt_version"]][day_range.today] = _figures(
                calls=row["call_count"], successes=row["success_count"], reviews=row["review_count"],
                cost=row["total_cost_usd"], confidence=row["avg_confidence"], p95=row["p95_execution_time_ms"],
            )
    return figures


PERFORMANCE_CHARTS = (
    # (id, title, unit, y axis from zero, how a day's Figures becomes the plotted number). Success rate
    # and confidence live near their maximum: an axis from zero would hide the differences between versions.
    ("success_rate", "Success rate per day (%)", "%", False, lambda f: _percent(f.success_rate)),
    ("cost_per_call", "Cost per call per day (USD)", "USD", True, lambda f: _float(f.cost_per_call_usd, 6)),
    ("p95_latency", "p95 latency per day (ms)", "ms", True, lambda f: _float(f.p95_ms, 0)),
    ("avg_confidence", "Average confidence per day (0–1)", "", False, lambda f: _float(f.avg_confidence, 3)),
    ("review_rate", "Manual-review rate per day (%)", "%", True, lambda f: _percent(f.review_rate)),
)


def _float(value, places):
    # Chart.js needs JSON numbers; Decimal and float both become a rounded float here, for display only.
    return None if value is None else round(float(value), places)


def _percent(ratio):
    return None if ratio is None else round(ratio * 100, 2)


def activation_markers(*, task_type, name, day_range):
    """Activations (not the seeding) inside the range, as {day, index, label} for the time axis."""
    start, _ = day_bounds(day_range.first)
    _, end = day_bounds(day_range.last)
    activations = (
        PromptActivation.objects.filter(task_type=task_type, name=name, activated_at__gte=start, activated_at__lt=end)
        .exclude(kind=PromptActivation.Kind.SEED)
        .select_related("to_version")
        .order_by("activated_at", "id")
    )
    markers = []
    for activation in activations:
        day = local_day(activation.activated_at)
        label = f"v{activation.to_version.version} by {activation.activated_by}"
        if activation.kind == PromptActivation.Kind.ROLLBACK:
            label += " (rollback)"
        markers.append({"day": day.isoformat(), "index": (day - day_range.first).days, "label": label})
    return markers


def prompt_performance(*, task_type, name, day_range):
    """Everything the performance page shows: chart data, the comparison table, markers, the empty state."""
    versions = list(PromptTemplate.objects.filter(task_type=task_type, name=name).order_by("version"))
    figures = prompt_day_figures(versions=versions, day_range=day_range)
    dates = day_range.dates
    labels = [day.isoformat() for day in dates]
    charts = []
    for chart_id, title, unit, from_zero, value_of in PERFORMANCE_CHARTS:
        datasets = []
        for version in versions:
            by_day = figures.get(version.pk, {})
            if not by_day:
                continue
            datasets.append({
                "label": f"v{version.version}" + (" (active)" if version.is_active else ""),
                "version": version.version,
                "data": [value_of(by_day[day]) if day in by_day else None for day in dates],
            })
        charts.append({"id": chart_id, "title": title, "unit": unit, "from_zero": from_zero, "datasets": datasets})
    comparison = []
    for version in versions:
        total = Figures()
        for day_figures in figures.get(version.pk, {}).values():
            total.add(day_figures)
        comparison.append({"version": version, "figures": total})
    has_data = any(figures.values())
    return {
        "versions": versions,
        "active_version": next((v for v in versions if v.is_active), None),
        "chart_data": {
            "labels": labels,
            # Index of today's point when it is shown: today is not over, its figures are partial.
            "partial_index": labels.index(day_range.today.isoformat()) if day_range.includes_today else None,
            "markers": activation_markers(task_type=task_type, name=name, day_range=day_range),
            "charts": charts,
        },
        "comparison": comparison,
        "has_data": has_data,
        "last_day_with_data": None if has_data else last_prompt_day_with_data(versions=versions),
    }


def last_prompt_day_with_data(*, versions):
    return PromptPerformanceDaily.objects.filter(prompt_version__in=versions).aggregate(last=Max("date"))["last"]


# Operations -----------------------------------------------------------------------------------------------

OPERATION_CHARTS = (
    # (id, title, metric type, label the datasets are split by, daily value, how groups combine)
    ("queue_depth", "Queue depth per day (highest sample)", MetricType.QUEUE_DEPTH, "queue", "max_value", max),
    ("processing_time", "Processing time per day, p95 (ms)", MetricType.PROCESSING_TIME_MS, "stage",
     "p95_value", max),
    ("errors", "Errors per day", MetricType.ERROR_COUNT, "stage", "sum_value", sum),
    ("tokens", "Tokens per day", MetricType.TOKEN_USAGE, "operation", "sum_value", sum),
)
# Counted metrics: a day with samples of any kind but none of these counted zero of them, not "unknown".
COUNTED = (MetricType.ERROR_COUNT, MetricType.TOKEN_USAGE)


def parse_labels_key(labels_key):
    """`model=x,operation=y` back into a dict (the collector caps and stringifies label values)."""
    return dict(pair.split("=", 1) for pair in labels_key.split(",") if "=" in pair)


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


def operations(*, day_range):
    """Chart data and per-day totals of queue depth, processing-time p95, errors and tokens."""
    rows = operational_day_rows(day_range=day_range)
    dates = day_range.dates
    labels = [day.isoformat() for day in dates]
    charts = []
    days_with_samples = {row["date"] for row in rows}
    for chart_id, title, metric_type, split_by, value_field, combine in OPERATION_CHARTS:
        groups = defaultdict(lambda: defaultdict(list))
        for row in rows:
            if row["metric_type"] == metric_type:
                group = parse_labels_key(row["labels_key"]).get(split_by, "(none)")
                groups[group][row["date"]].append(row[value_field])
        datasets = [
            {
                "label": group,
                "data": [round(combine(by_day[day]), 1) if day in by_day
                         else _missing_value(metric_type, day, days_with_samples) for day in dates],
            }
            for group, by_day in sorted(groups.items())
        ]
        charts.append({"id": chart_id, "title": title, "from_zero": True, "datasets": datasets})
    return {
        "chart_data": {
            "labels": labels,
            "partial_index": labels.index(day_range.today.isoformat()) if day_range.includes_today else None,
            "markers": [],
            "charts": charts,
        },
        "totals": operation_totals(rows=rows, dates=dates),
        "has_data": bool(rows),
        "last_day_with_data": None if rows else OperationalMetricsDaily.objects.aggregate(last=Max("date"))["last"],
    }


def _missing_value(metric_type, day, days_with_samples):
    return 0 if metric_type in COUNTED and day in days_with_samples else None


def operation_totals(*, rows, dates):
    """One line per day, newest first: peak queue depth, worst stage p95, errors and tokens."""
    totals = {day: {"day": day, "queue_peak": None, "p95_ms": None, "errors": 0, "tokens": 0} for day in dates}
    for row in rows:
        line = totals[row["date"]]
        if row["metric_type"] == MetricType.QUEUE_DEPTH:
            line["queue_peak"] = max(line["queue_peak"] or 0, row["max_value"])
        elif row["metric_type"] == MetricType.PROCESSING_TIME_MS:
            line["p95_ms"] = max(line["p95_ms"] or 0, row["p95_value"])
        elif row["metric_type"] == MetricType.ERROR_COUNT:
            line["errors"] += row["sum_value"]
        elif row["metric_type"] == MetricType.TOKEN_USAGE:
            line["tokens"] += row["sum_value"]
    return [totals[day] for day in reversed(dates)]


# Admin index ----------------------------------------------------------------------------------------------

FAILED_SHOWN = 5


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
    if user.has_perm("extraction.view_incomingemail"):
        failed = IncomingEmail.objects.filter(status=IncomingEmail.Status.FAILED).order_by("-updated_at")
        overview["emails_today"] = emails_today_by_status(today=today)
        overview["failed_count"] = failed.count()
        overview["failed_emails"] = list(failed[:FAILED_SHOWN])
    if user.has_perm("extraction.view_mailboxstate"):
        overview["intake"] = intake_status()
    overview["can_view_operations"] = can_view_operations(user)
    return overview


def can_view_operations(user):
    return user.has_perm("metrics.view_operationalmetricsdaily")


def chart_tables(chart_data):
    """The charts' figures as tables (days with data, newest first): the accessible fallback of each chart."""
    tables = []
    for chart in chart_data["charts"]:
        rows = []
        for index, label in reversed(list(enumerate(chart_data["labels"]))):
            values = [dataset["data"][index] for dataset in chart["datasets"]]
            if any(value is not None for value in values):
                partial = index == chart_data["partial_index"]
                rows.append({"day": label + (" (so far)" if partial else ""), "values": values})
        tables.append({**chart, "columns": [dataset["label"] for dataset in chart["datasets"]], "rows": rows})
    return tables
