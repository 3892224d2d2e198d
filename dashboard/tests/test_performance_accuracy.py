"""The performance page shows each version's accuracy from the operators' reviews: charts per day and
columns in the version comparison, summed as right ÷ checked over the range (never a mean of daily ratios)."""

import pytest
from django.utils import timezone

from dashboard import pages, ranges
from dashboard.tests.conftest import daily, days_ago
from metrics.models import PromptAccuracyDaily
from metrics.services import accuracy_replace
from prompts.models import PromptTemplate
from prompts.tests.factories import login

pytestmark = pytest.mark.django_db


def reviewed_day(version, day, *, reviews, intent_checked, intent_correct, fields_checked=0, fields_correct=0):
    """A PromptAccuracyDaily row as the nightly rollup would have written it."""
    return PromptAccuracyDaily.objects.create(
        prompt_version=version, date=day, review_count=reviews, fields_checked=fields_checked,
        fields_correct=fields_correct, intent_checked=intent_checked, intent_correct=intent_correct,
    )


def reviewed_now(version, **counts):
    """A review saved just now: its raw accuracy row."""
    accuracy_replace(review_id=1, email_id=1, recorded_at=timezone.now(), scores=[{
        "prompt_version": version.pk, "fields_checked": 0, "fields_correct": 0, **counts,
    }])


def performance(today, *, task_type="classification", name="email_intent"):
    day_range = ranges.day_range(today=today, days=7, last=None)
    return pages.prompt_performance(task_type=task_type, name=name, day_range=day_range)


def test_intent_accuracy_over_the_range_is_right_over_checked_including_today_so_far(intent_v1, today):
    daily(intent_v1, days_ago(today, 2), calls=10)
    reviewed_day(intent_v1, days_ago(today, 2), reviews=1, intent_checked=1, intent_correct=1)
    reviewed_day(intent_v1, days_ago(today, 1), reviews=3, intent_checked=3, intent_correct=1)
    reviewed_now(intent_v1, intent_checked=1, intent_correct=0)  # today so far, from the raw rows
    result = performance(today)
    accuracy = next(row["accuracy"] for row in result["comparison"] if row["version"] == intent_v1)
    assert (accuracy.intent_correct, accuracy.intent_checked, accuracy.intent_accuracy) == (2, 5, 0.4)
    assert accuracy.accuracy is None  # a classification version answers no facts
    charts = {chart["id"]: chart for chart in result["chart_data"]["charts"]}
    assert "accuracy" not in charts
    assert charts["intent_accuracy"]["datasets"][0]["data"][-3:] == [100.0, 33.33, 0.0]


def test_an_extraction_prompt_shows_field_accuracy(today):
    extractor = PromptTemplate.objects.get(task_type="extraction", name="email_body", version=1)
    daily(extractor, days_ago(today, 1), calls=4)
    reviewed_day(extractor, days_ago(today, 1), reviews=2, intent_checked=0, intent_correct=0,
                 fields_checked=16, fields_correct=12)
    result = performance(today, task_type="extraction", name="email_body")
    charts = {chart["id"]: chart for chart in result["chart_data"]["charts"]}
    assert "intent_accuracy" not in charts
    assert charts["accuracy"]["datasets"][0]["data"][-2:] == [75.0, None]
    assert result["comparison"][0]["accuracy"].accuracy == 0.75


def test_the_page_shows_the_accuracy_columns_and_charts(client, intent_v1, today):
    daily(intent_v1, days_ago(today, 2), calls=8)
    reviewed_day(intent_v1, days_ago(today, 2), reviews=4, intent_checked=4, intent_correct=3)
    response = login(client, "erika", "prompts.view_prompttemplate").get(
        "/admin/performance/classification/email_intent/?days=7"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Intent accuracy" in html and "75.0%<span class=\"dashboard-quiet\"> (3 of 4)" in html
    assert html.count("<canvas") == 6  # the five call charts and intent accuracy
