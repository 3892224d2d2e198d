"""Read-only admin for raw and daily metrics, built to stay fast with tens of millions of raw rows.

The raw lists never run a full COUNT(*) on PostgreSQL (the planner's estimate is shown instead),
never count the unfiltered table a second time, have no date hierarchy, and sort only by the
indexed timestamp.
"""

import json

from django.contrib import admin
from django.contrib.admin import ShowFacets
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from config.formatting import MISSING, format_number, format_percent
from metrics.models import (
    OperationalMetrics,
    OperationalMetricsDaily,
    PromptAccuracyDaily,
    PromptAccuracyMetrics,
    PromptPerformanceDaily,
    PromptPerformanceMetrics,
    RollupDay,
)
from metrics.ratios import accuracy

# Below this estimate an exact count is cheap and more pleasant to read.
EXACT_COUNT_BELOW = 10_000


def planner_row_estimate(queryset):
    """The rows PostgreSQL's planner expects `queryset` to return (EXPLAIN, nothing is read); None elsewhere."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """On PostgreSQL, counts with the planner's row estimate (EXPLAIN) instead of COUNT(*) over millions."""

    @cached_property
    def count(self):
        estimate = planner_row_estimate(self.object_list)
        return super().count if estimate is None or estimate < EXACT_COUNT_BELOW else estimate


class ReadOnlyAdmin(admin.ModelAdmin):
    """Metrics are written by the pipeline and the rollups only."""

    class Media:
        css = {"all": ["metrics/compact_lists.css"]}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BigTableAdmin(ReadOnlyAdmin):
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    ordering = ["-recorded_at"]
    sortable_by = ["recorded_at"]
    list_per_page = 50

    # Ids name a row, they don't count anything: "900011", not a German count's "900.011".
    @admin.display(description=_("e-mail id"))
    def email_id_display(self, obj):
        return MISSING if obj.email_id is None else str(obj.email_id)

    @admin.display(description=_("review id"))
    def review_id_display(self, obj):
        return str(obj.review_id)


@admin.register(PromptPerformanceMetrics)
class PromptPerformanceMetricsAdmin(BigTableAdmin):
    list_display = [
        "recorded_at", "prompt_version", "success", "needs_review", "confidence", "input_tokens", "output_tokens",
        "cost_usd", "execution_time_ms", "email_id_display",
    ]
    list_filter = ["prompt_version", "success", "needs_review", "recorded_at"]
    list_select_related = ["prompt_version"]


@admin.register(OperationalMetrics)
class OperationalMetricsAdmin(BigTableAdmin):
    list_display = ["recorded_at", "metric_type", "value", "labels_key", "email_id_display"]
    list_filter = ["metric_type", "recorded_at"]


@admin.register(PromptPerformanceDaily)
class PromptPerformanceDailyAdmin(ReadOnlyAdmin):
    list_display = [
        "date", "prompt_version", "call_count", "success_rate_display", "review_count", "total_cost_usd",
        "avg_confidence_display", "avg_execution_time_display", "p95_execution_time_display",
    ]
    list_filter = ["prompt_version", "date"]
    list_select_related = ["prompt_version"]
    ordering = ["-date", "prompt_version"]

    @admin.display(description=_("success rate"))
    def success_rate_display(self, obj):
        return format_percent(obj.success_rate)

    # Means of floats show their binary noise (0.8974000000000002): rounded to what an operator reads.
    @admin.display(description=_("average confidence"), ordering="avg_confidence")
    def avg_confidence_display(self, obj):
        return _rounded(obj.avg_confidence, 3)

    @admin.display(description=_("average latency (ms)"), ordering="avg_execution_time_ms")
    def avg_execution_time_display(self, obj):
        return _rounded(obj.avg_execution_time_ms, 0)

    @admin.display(description=_("p95 latency (ms)"), ordering="p95_execution_time_ms")
    def p95_execution_time_display(self, obj):
        return _rounded(obj.p95_execution_time_ms, 0)


@admin.register(PromptAccuracyMetrics)
class PromptAccuracyMetricsAdmin(BigTableAdmin):
    list_display = [
        "recorded_at", "prompt_version", "fields_checked", "fields_correct", "intent_checked", "intent_correct",
        "review_id_display", "email_id_display",
    ]
    list_filter = ["prompt_version", "recorded_at"]
    list_select_related = ["prompt_version"]


@admin.register(PromptAccuracyDaily)
class PromptAccuracyDailyAdmin(ReadOnlyAdmin):
    list_display = [
        "date", "prompt_version", "review_count", "fields_checked", "fields_correct", "accuracy_display",
        "intent_checked", "intent_correct", "intent_accuracy_display",
    ]
    list_filter = ["prompt_version", "date"]
    list_select_related = ["prompt_version"]
    ordering = ["-date", "prompt_version"]

    @admin.display(description=_("accuracy"))
    def accuracy_display(self, obj):
        return format_percent(accuracy(correct=obj.fields_correct, checked=obj.fields_checked))

    @admin.display(description=_("intent accuracy"))
    def intent_accuracy_display(self, obj):
        return format_percent(accuracy(correct=obj.intent_correct, checked=obj.intent_checked))


def _rounded(value, places=2):
    # Sums of floats show their binary noise (4.6899999999999995); two places are what an operator reads.
    return MISSING if value is None else format_number(value, places)


@admin.register(OperationalMetricsDaily)
class OperationalMetricsDailyAdmin(ReadOnlyAdmin):
    list_display = [
        "date", "metric_type", "labels_key", "sample_count", "sum_display", "avg_display", "min_display",
        "max_display", "p95_display",
    ]
    list_filter = ["metric_type", "date"]
    search_fields = ["labels_key"]
    ordering = ["-date", "metric_type", "labels_key"]

    @admin.display(description=_("sum"), ordering="sum_value")
    def sum_display(self, obj):
        return _rounded(obj.sum_value)

    @admin.display(description=_("average"), ordering="avg_value")
    def avg_display(self, obj):
        return _rounded(obj.avg_value)

    @admin.display(description=_("minimum"), ordering="min_value")
    def min_display(self, obj):
        return _rounded(obj.min_value)

    @admin.display(description=_("maximum"), ordering="max_value")
    def max_display(self, obj):
        return _rounded(obj.max_value)

    @admin.display(description=_("95th percentile"), ordering="p95_value")
    def p95_display(self, obj):
        return _rounded(obj.p95_value)


@admin.register(RollupDay)
class RollupDayAdmin(ReadOnlyAdmin):
    list_display = ["day", "kind", "rolled_up_at", "source_rows", "deleted_rows", "cleaned_at"]
    list_filter = ["kind", "day"]
    ordering = ["-day", "kind"]
