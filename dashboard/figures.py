"""The figures the operators' pages compute from the daily rollups (and today's raw rows).

A prompt version's figures per day and over a range, and the operations page's per-day totals. Every
ratio comes from `metrics.ratios` (the field names are the daily rollup's), so a rate here is the same
number as in the admin.
"""

from dataclasses import dataclass, field, fields
from decimal import Decimal

from metrics import ratios
from metrics.models import MetricType
from metrics.ratios import CallRatios


@dataclass(frozen=True)
class DayFigures(CallRatios):
    """One prompt version's figures on one local day: its rollup, or today's raw rows so far."""

    call_count: int
    success_count: int
    review_count: int
    total_cost_usd: Decimal
    avg_confidence: float | None
    p95_ms: float | None  # the day's 95th percentile latency


@dataclass(frozen=True)
class RangeFigures(CallRatios):
    """One prompt version's figures over a range of days, combined from its DayFigures.

    Counts and cost add up exactly. Confidence and latency come per day: the range shows the call-weighted
    mean of the daily values. A true p95 over many days cannot be rebuilt from daily rollups, so there is
    none here: the mean of the daily p95s and the worst day's p95 instead.
    """

    days: list = field(default_factory=list)

    @property
    def call_count(self):
        return sum(day.call_count for day in self.days)

    @property
    def success_count(self):
        return sum(day.success_count for day in self.days)

    @property
    def review_count(self):
        return sum(day.review_count for day in self.days)

    @property
    def total_cost_usd(self):
        return sum((day.total_cost_usd for day in self.days), Decimal(0))

    @property
    def avg_confidence(self):
        """Call-weighted mean of the daily averages (days without a reported confidence are left out)."""
        return _call_weighted_mean(self.days, "avg_confidence")

    @property
    def mean_daily_p95_ms(self):
        """Call-weighted mean of the daily p95 latencies."""
        return _call_weighted_mean(self.days, "p95_ms")

    @property
    def worst_daily_p95_ms(self):
        return max((day.p95_ms for day in self.days if day.p95_ms is not None), default=None)


@dataclass(frozen=True)
class AccuracyFigures:
    """A prompt version's review scores on one day (its accuracy rollup, or today's raw rows), or summed
    over a range with `+`: counts add up, so the range's accuracy is right ÷ checked over all its reviews."""

    review_count: int = 0
    fields_checked: int = 0
    fields_correct: int = 0
    intent_checked: int = 0
    intent_correct: int = 0

    @property
    def accuracy(self):
        return ratios.accuracy(correct=self.fields_correct, checked=self.fields_checked)

    @property
    def intent_accuracy(self):
        return ratios.accuracy(correct=self.intent_correct, checked=self.intent_checked)

    def __add__(self, other):
        return AccuracyFigures(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


def _call_weighted_mean(days, name):
    pairs = [(getattr(day, name), day.call_count) for day in days if getattr(day, name) is not None and day.call_count]
    weight = sum(calls for _, calls in pairs)
    return sum(value * calls for value, calls in pairs) / weight if weight else None


def operation_day_totals(*, rows, dates):
    """One line per day, newest first: highest queue depth, the slowest stage's p95, errors and tokens.

    `rows` are daily operational rows (dicts with metric_type, date, sum_value, max_value, p95_value).
    """
    totals = {
        day: {"day": day, "queue_peak": None, "slowest_stage_p95_ms": None, "errors": 0, "tokens": 0}
        for day in dates
    }
    for row in rows:
        line = totals[row["date"]]
        if row["metric_type"] == MetricType.QUEUE_DEPTH:
            line["queue_peak"] = max(line["queue_peak"] or 0, row["max_value"])
        elif row["metric_type"] == MetricType.PROCESSING_TIME_MS:
            line["slowest_stage_p95_ms"] = max(line["slowest_stage_p95_ms"] or 0, row["p95_value"])
        elif row["metric_type"] == MetricType.ERROR_COUNT:
            line["errors"] += row["sum_value"]
        elif row["metric_type"] == MetricType.TOKEN_USAGE:
            line["tokens"] += row["sum_value"]
    return [totals[day] for day in reversed(dates)]
