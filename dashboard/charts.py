"""The operators' charts: what each chart shows, and the rounding of figures for display.

Chart.js gets plain JSON numbers, rounded here for display only; the exact figures stay in the
figures and rollups. Every chart's numbers are also given as a table (`chart_tables`).
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from metrics.days import local_day
from metrics.models import MetricType, parse_labels_key
from prompts.models import PromptActivation, PromptRollout


def rounded(value, places):
    """A figure (Decimal or float) as a float rounded for display; None stays None."""
    return None if value is None else round(float(value), places)


def percent(ratio, places=None):
    """A ratio (0..1) as a percentage, rounded to `places` (not rounded with None: a template rounds it)."""
    if ratio is None:
        return None
    return ratio * 100 if places is None else round(ratio * 100, places)


@dataclass(frozen=True)
class PerformanceChart:
    """One line per prompt version; `value` turns a version's DayFigures into the plotted number."""

    id: str
    title: str
    unit: str
    from_zero: bool
    value: Callable


PERFORMANCE_CHARTS = (
    # Success rate and confidence live near their maximum: an axis from zero would hide the differences.
    PerformanceChart("success_rate", "Success rate per day (%)", "%", False, lambda day: percent(day.success_rate, 2)),
    PerformanceChart(
        "cost_per_call", "Cost per call per day (USD)", "USD", True, lambda day: rounded(day.cost_per_call_usd, 6)
    ),
    PerformanceChart("p95_latency", "p95 latency per day (ms)", "ms", True, lambda day: rounded(day.p95_ms, 0)),
    PerformanceChart(
        "avg_confidence", "Average confidence per day (0–1)", "", False, lambda day: rounded(day.avg_confidence, 3)
    ),
    PerformanceChart(
        "review_rate", "Manual-review rate per day (%)", "%", True, lambda day: percent(day.review_rate, 2)
    ),
)


# From the operators' reviews (AccuracyFigures per day); a chart no version has a figure for is left out
# (a classification prompt has no field accuracy, an extraction prompt no intent accuracy).
ACCURACY_CHARTS = (
    PerformanceChart(
        "accuracy", "Field accuracy per day, reviewed e-mails (%)", "%", False, lambda day: percent(day.accuracy, 2)
    ),
    PerformanceChart(
        "intent_accuracy", "Intent accuracy per day, reviewed e-mails (%)", "%", False,
        lambda day: percent(day.intent_accuracy, 2),
    ),
)


@dataclass(frozen=True)
class OperationsChart:
    """One line per value of the label `split_by`; a day's daily rows of that value combine with `combine`."""

    id: str
    title: str
    metric_type: str
    split_by: str
    value_field: str
    combine: Callable


OPERATION_CHARTS = (
    OperationsChart("queue_depth", "Queue depth per day (highest sample)", MetricType.QUEUE_DEPTH, "queue",
                    "max_value", max),
    # Processing times are labelled by stage alone: one daily row, and so one true p95, per stage and day.
    OperationsChart("processing_time", "Processing time per day, p95 (ms)", MetricType.PROCESSING_TIME_MS, "stage",
                    "p95_value", max),
    OperationsChart("errors", "Errors per day", MetricType.ERROR_COUNT, "stage", "sum_value", sum),
    OperationsChart("tokens", "Tokens per day", MetricType.TOKEN_USAGE, "operation", "sum_value", sum),
)
# Counted metrics: a day with samples of any kind but none of these counted zero of them, not "unknown".
COUNTED = (MetricType.ERROR_COUNT, MetricType.TOKEN_USAGE)


def _chart_data(*, day_range, charts, markers=()):
    return {
        "labels": [day.isoformat() for day in day_range.dates],
        "partial_index": day_range.today_index,
        "markers": list(markers),
        "charts": charts,
    }


def _version_datasets(chart, *, versions, figures, dates):
    return [
        {
            "label": f"v{version.version}" + (" (active)" if version.is_active else ""),
            "version": version.version,
            "data": [chart.value(by_day[day]) if day in by_day else None for day in dates],
        }
        for version in versions
        if (by_day := figures.get(version.pk))
    ]


def performance_chart_data(*, versions, figures, day_range, activations, rollouts=(), accuracy=None):
    """The performance page's charts: `figures` is {version pk: {day: DayFigures}}, `accuracy`
    {version pk: {day: AccuracyFigures}}."""
    dates = day_range.dates
    charts = []
    for chart in PERFORMANCE_CHARTS:
        datasets = _version_datasets(chart, versions=versions, figures=figures, dates=dates)
        charts.append({
            "id": chart.id, "title": chart.title, "unit": chart.unit, "from_zero": chart.from_zero,
            "datasets": datasets,
        })
    for chart in ACCURACY_CHARTS:
        datasets = _version_datasets(chart, versions=versions, figures=accuracy or {}, dates=dates)
        if any(value is not None for dataset in datasets for value in dataset["data"]):
            charts.append({
                "id": chart.id, "title": chart.title, "unit": chart.unit, "from_zero": chart.from_zero,
                "datasets": datasets,
            })
    markers = activation_markers(activations=activations, day_range=day_range)
    markers += canary_markers(rollouts=rollouts, day_range=day_range)
    return _chart_data(day_range=day_range, charts=charts, markers=sorted(markers, key=lambda m: m["at"]))


def activation_markers(*, activations, day_range):
    """Activations as dashed lines on the time axis: {day, index, label, kind, at}, labels like "v2 by erika"."""
    markers = []
    for activation in activations:
        label = f"v{activation.to_version.version} by {activation.activated_by}"
        if activation.kind == PromptActivation.Kind.ROLLBACK:
            label += " (rollback)"
        elif activation.kind == PromptActivation.Kind.PROMOTE:
            label += " (canary promoted)"
        markers.append(_marker(activation.activated_at, label, "activation", day_range))
    return markers


def canary_markers(*, rollouts, day_range):
    """A canary's start, and its end unless it was promoted (that is an activation), inside the range.

    Labels like "canary v3 at 20 % by erika" and "canary v3 rolled back by canary monitor"; kind
    "canary" or "canary_end" (a rollback or stop), which the page draws in their own colours.
    """
    first, last = day_range.first, day_range.last
    markers = []
    for rollout in rollouts:
        candidate = f"canary v{rollout.candidate.version}"
        if first <= local_day(rollout.started_at) <= last:
            label = f"{candidate} at {rollout.percent} % by {rollout.started_by}"
            markers.append(_marker(rollout.started_at, label, "canary", day_range))
        ended = rollout.ended_at is not None and rollout.state != PromptRollout.State.PROMOTED
        if ended and first <= local_day(rollout.ended_at) <= last:
            label = f"{candidate} {rollout.get_state_display().lower()} by {rollout.ended_by}"
            markers.append(_marker(rollout.ended_at, label, "canary_end", day_range))
    return markers


def _marker(moment, label, kind, day_range):
    day = local_day(moment)
    return {
        "day": day.isoformat(), "index": (day - day_range.first).days, "label": label, "kind": kind,
        "at": moment.isoformat(),
    }


def operations_chart_data(*, rows, day_range):
    """The operations page's charts from daily operational rows (dicts, today's from the raw samples)."""
    dates = day_range.dates
    days_with_samples = {row["date"] for row in rows}
    charts = []
    for chart in OPERATION_CHARTS:
        groups = defaultdict(lambda: defaultdict(list))
        for row in rows:
            if row["metric_type"] == chart.metric_type:
                group = parse_labels_key(row["labels_key"]).get(chart.split_by, "(none)")
                groups[group][row["date"]].append(row[chart.value_field])
        missing = 0 if chart.metric_type in COUNTED else None
        datasets = [
            {
                "label": group,
                "data": [
                    rounded(chart.combine(by_day[day]), 1) if day in by_day
                    else (missing if day in days_with_samples else None)
                    for day in dates
                ],
            }
            for group, by_day in sorted(groups.items())
        ]
        charts.append({"id": chart.id, "title": chart.title, "from_zero": True, "datasets": datasets})
    return _chart_data(day_range=day_range, charts=charts)


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
