"""How the charts are drawn, as charts.js gets it: axis ends, smoothing, and where marker labels sit."""

import pytest

from dashboard import pages, ranges
from dashboard.charts import CHART_KINDS, stacked
from dashboard.tests.conftest import daily, days_ago
from prompts.services import prompt_activate, prompt_rollback

pytestmark = pytest.mark.django_db


def performance_charts(today):
    result = pages.prompt_performance(
        task_type="classification", name="email_intent", day_range=ranges.day_range(today=today, days=7)
    )
    return {chart["id"]: chart for chart in result["chart_data"]["charts"]}, result["chart_data"]["markers"]


def operations_charts(today):
    result = pages.operations(day_range=ranges.day_range(today=today, days=7))
    return {chart["id"]: chart for chart in result["chart_data"]["charts"]}


def test_rate_axes_end_at_100_percent_and_the_confidence_axis_at_1(intent_v1, today):
    daily(intent_v1, days_ago(today, 1), calls=10, successes=10)  # a rate of exactly 100 %
    charts, _ = performance_charts(today)
    assert {chart_id: chart["y_max"] for chart_id, chart in charts.items()} == {
        "success_rate": 100, "review_rate": 100, "avg_confidence": 1, "cost_per_call": None, "p95_latency": None,
    }
    assert charts["success_rate"]["datasets"][0]["data"][5] == 100.0  # the top of the axis, not above it


def test_counts_are_drawn_as_straight_lines_and_never_smoothed(today):
    charts = operations_charts(today)
    counts = [chart_id for chart_id, chart in charts.items() if chart["kind"] == "count"]
    assert counts == ["queue_depth", "errors", "tokens"]
    for chart_id in counts:
        assert charts[chart_id]["line"] == {"tension": 0}, chart_id
    assert charts["processing_time"]["kind"] == "measure"


def test_smoothed_lines_are_monotone_so_a_rate_is_never_drawn_above_100_percent(intent_v1, today):
    charts, _ = performance_charts(today)
    for chart in charts.values():
        assert chart["line"] in ({"tension": 0}, {"tension": 0.2, "cubicInterpolationMode": "monotone"})
    assert charts["success_rate"]["line"]["cubicInterpolationMode"] == "monotone"


def test_every_chart_kind_says_how_to_draw_it():
    assert set(CHART_KINDS) == {"rate", "ratio", "measure", "count"}
    assert all(set(style) == {"y_max", "line"} for style in CHART_KINDS.values())


def test_several_activations_on_one_day_get_their_labels_one_below_the_other(intent_v1, intent_v2, today):
    prompt_activate(template=intent_v2, activated_by="erika")
    prompt_rollback(task_type="classification", name="email_intent", activated_by="anton")
    prompt_activate(template=intent_v2, activated_by="erika")
    _, markers = performance_charts(today)
    assert [(m["index"], m["stack"], m["label"]) for m in markers] == [
        (6, 0, "v2 by erika"), (6, 1, "v1 by anton (rollback)"), (6, 2, "v2 by erika"),
    ]


def test_markers_on_different_days_each_start_at_the_top():
    markers = [
        {"index": 3, "at": "2026-11-18T09:00:00+00:00", "label": "b"},
        {"index": 1, "at": "2026-11-16T09:00:00+00:00", "label": "a"},
        {"index": 3, "at": "2026-11-18T15:00:00+00:00", "label": "c"},
    ]
    assert [(m["label"], m["stack"]) for m in stacked(markers)] == [("a", 0), ("b", 0), ("c", 1)]
