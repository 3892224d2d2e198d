"""The operators' charts: what each chart shows, and the rounding of figures for display.

Chart.js gets plain JSON numbers, rounded here for display only; the exact figures stay in the
figures and rollups. Every chart's numbers are also given as a table (`chart_tables`).
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

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


# How a chart draws its figures, by what they are (a chart's `kind`):
# a rate is a percentage, so its axis ends at 100 %; a ratio (a confidence) lies in 0..1, so its axis ends at 1;
# a count is drawn with straight segments (a smoothed curve would suggest figures between the days that no one
# counted); a measure (cost, latency) has no upper bound. Smoothed lines never overshoot ("monotone"), so a
# rate near 100 % is never drawn above it.
SMOOTH = {"tension": 0.2, "cubicInterpolationMode": "monotone"}
CHART_KINDS = {
    "rate": {"y_max": 100, "line": SMOOTH},
    "ratio": {"y_max": 1, "line": SMOOTH},
    "measure": {"y_max": None, "line": SMOOTH},
    "count": {"y_max": None, "line": {"tension": 0}},
}


def chart_style(kind):
    """What charts.js needs to draw a chart of this kind: {"kind", "y_max", "line"} (line: dataset options)."""
    return {"kind": kind, **CHART_KINDS[kind]}


@dataclass(frozen=True)
class PerformanceChart:
    """One line per prompt version; `value` turns a version's DayFigures into the plotted number."""

    id: str
    title: str
    unit: str
    from_zero: bool
    value: Callable
    kind: str = "measure"  # one of CHART_KINDS


PERFORMANCE_CHARTS = (
    # Success rate and confidence live near their maximum: an axis from zero would hide the differences.
    PerformanceChart(
        "success_rate", _("Success rate per day (%)"), "%", False, lambda day: percent(day.success_rate, 2), "rate"
    ),
    PerformanceChart(
        "cost_per_call", _("Cost per call per day (USD)"), "USD", True, lambda day: rounded(day.cost_per_call_usd, 6)
    ),
    PerformanceChart("p95_latency", _("p95 latency per day (ms)"), "ms", True, lambda day: rounded(day.p95_ms, 0)),
    PerformanceChart(
        "avg_confidence", _("Average confidence per day (0–1)"), "", False,
        lambda day: rounded(day.avg_confidence, 3), "ratio",
    ),
    PerformanceChart(
        "review_rate", _("Manual-review rate per day (%)"), "%", True, lambda day: percent(day.review_rate, 2), "rate"
    ),
)


# From the operators' reviews (AccuracyFigures per day); a chart no version has a figure for is left out
# (a classification prompt has no field accuracy, an extraction prompt no intent accuracy).
ACCURACY_CHARTS = (
    PerformanceChart(
        "accuracy", _("Field accuracy per day, reviewed e-mails (%)"), "%", False,
        lambda day: percent(day.accuracy, 2), "rate",
    ),
    PerformanceChart(
        "intent_accuracy", _("Intent accuracy per day, reviewed e-mails (%)"), "%", False,
        lambda day: percent(day.intent_accuracy, 2), "rate",
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
    kind: str = "count"  # one of CHART_KINDS
    unit: str = ""


OPERATION_CHARTS = (
    OperationsChart("queue_depth", _("Queue depth per day (highest sample)"), MetricType.QUEUE_DEPTH, "queue",
                    "max_value", max),
    # Processing times are labelled by stage alone: one daily row, and so one true p95, per stage and day.
    OperationsChart("processing_time", _("Processing time per day, p95 (ms)"), MetricType.PROCESSING_TIME_MS,
                    "stage", "p95_value", max, "measure", "ms"),
    OperationsChart("errors", _("Errors per day"), MetricType.ERROR_COUNT, "stage", "sum_value", sum),
    OperationsChart("tokens", _("Tokens per day"), MetricType.TOKEN_USAGE, "operation", "sum_value", sum),
)
# Counted metrics: a day with samples of any kind but none of these counted zero of them, not "unknown".
COUNTED = (MetricType.ERROR_COUNT, MetricType.TOKEN_USAGE)


def _chart_data(*, day_range, charts, markers=()):
    """What charts.js draws. Every text in it is already in the page's language (charts.js formats only numbers):
    `day_labels` are the days as the language writes them; `labels` stay ISO dates, the data's keys."""
    return {
        "labels": [day.isoformat() for day in day_range.dates],
        "day_labels": [date_format(day, "SHORT_DATE_FORMAT") for day in day_range.dates],
        "partial_index": day_range.today_index,
        "markers": stacked(markers),
        "charts": charts,
        # Translators: after today's date in a chart: its figures are not final yet.
        "texts": {"so_far": gettext("(so far)")},
    }


def stacked(markers):
    """`markers` in time order, each with its `stack`: how many earlier markers share its day.

    Markers of one day share one x position; charts.js moves each label down by its stack, so several
    activations on one day are all readable instead of printed over each other.
    """
    per_day = defaultdict(int)
    result = []
    for marker in sorted(markers, key=lambda m: m["at"]):
        result.append({**marker, "stack": per_day[marker["index"]]})
        per_day[marker["index"]] += 1
    return result


def _version_datasets(chart, *, versions, figures, dates):
    return [
        {
            "label": (gettext("v%(version)s (active)") if version.is_active else "v%(version)s")
            % {"version": version.version},
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
            "id": chart.id, "title": str(chart.title), "unit": chart.unit, "from_zero": chart.from_zero,
            "datasets": datasets, **chart_style(chart.kind),
        })
    for chart in ACCURACY_CHARTS:
        datasets = _version_datasets(chart, versions=versions, figures=accuracy or {}, dates=dates)
        if any(value is not None for dataset in datasets for value in dataset["data"]):
            charts.append({
                "id": chart.id, "title": str(chart.title), "unit": chart.unit, "from_zero": chart.from_zero,
                "datasets": datasets, **chart_style(chart.kind),
            })
    markers = activation_markers(activations=activations, day_range=day_range)
    markers += canary_markers(rollouts=rollouts, day_range=day_range)
    return _chart_data(day_range=day_range, charts=charts, markers=markers)


def activation_markers(*, activations, day_range):
    """Activations as dashed lines on the time axis: {day, index, label, kind, at}, labels like "v2 by erika"."""
    markers = []
    for activation in activations:
        values = {"version": activation.to_version.version, "user": activation.activated_by}
        if activation.kind == PromptActivation.Kind.ROLLBACK:
            label = gettext("v%(version)s by %(user)s (rollback)") % values
        elif activation.kind == PromptActivation.Kind.PROMOTE:
            label = gettext("v%(version)s by %(user)s (canary promoted)") % values
        else:
            label = gettext("v%(version)s by %(user)s") % values
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
        version = rollout.candidate.version
        if first <= local_day(rollout.started_at) <= last:
            label = gettext("canary v%(version)s at %(percent)s %% by %(user)s") % {
                "version": version, "percent": rollout.percent, "user": rollout.started_by,
            }
            markers.append(_marker(rollout.started_at, label, "canary", day_range))
        ended = rollout.ended_at is not None and rollout.state != PromptRollout.State.PROMOTED
        if ended and first <= local_day(rollout.ended_at) <= last:
            values = {"version": version, "user": rollout.ended_by}
            if rollout.state == PromptRollout.State.ROLLED_BACK:
                label = gettext("canary v%(version)s rolled back by %(user)s") % values
            else:
                label = gettext("canary v%(version)s stopped by %(user)s") % values
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
                # Translators: the line of samples that have no value for the label a chart splits by.
                group = parse_labels_key(row["labels_key"]).get(chart.split_by, gettext("(none)"))
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
        charts.append({
            "id": chart.id, "title": str(chart.title), "unit": chart.unit, "from_zero": True, "datasets": datasets,
            **chart_style(chart.kind),
        })
    return _chart_data(day_range=day_range, charts=charts)


def chart_tables(chart_data):
    """The charts' figures as tables (days with data, newest first): the accessible fallback of each chart.

    A row's `day` is a date (the template writes it in the page's language); `partial` marks today so far."""
    tables = []
    for chart in chart_data["charts"]:
        rows = []
        for index, label in reversed(list(enumerate(chart_data["labels"]))):
            values = [dataset["data"][index] for dataset in chart["datasets"]]
            if any(value is not None for value in values):
                partial = index == chart_data["partial_index"]
                rows.append({"day": date.fromisoformat(label), "partial": partial, "values": values})
        tables.append({**chart, "columns": [dataset["label"] for dataset in chart["datasets"]], "rows": rows})
    return tables
