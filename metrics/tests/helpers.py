"""Small builders for metrics tests: prompt versions and raw rows at chosen local times."""

from datetime import datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from metrics.collector import MetricsCollector
from prompts.models import PromptTemplate

BERLIN = timezone.get_default_timezone()


def make_version(version=1, *, name="metrics_probe"):
    return PromptTemplate.objects.create(
        task_type="validation", name=name, version=version, user_prompt_template="Prüfe {{ amount }}.",
        created_by="test", model_name="claude-haiku-4-5-20251001",
    )


def at(day, hour=12, minute=0):
    """An aware datetime at a local (Berlin) wall-clock time on `day`."""
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def prompt_call(version, when, *, execution_time_ms=100, cost="0.00012345", success=True, needs_review=False,
                confidence=0.9, input_tokens=100, output_tokens=20):
    return MetricsCollector().record_prompt_call(
        prompt_version=version, input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=Decimal(cost),
        success=success, confidence=confidence, needs_review=needs_review, execution_time_ms=execution_time_ms,
        recorded_at=when,
    )


def calls_per_day(version, days, *, per_day=3):
    """`per_day` calls at spread hours of each day; returns them."""
    return [
        prompt_call(version, at(day, hour=1 + 7 * i % 23), execution_time_ms=100 + i, cost=f"0.000{i + 1}1234")
        for day in days
        for i in range(per_day)
    ]


def days_before(today, count):
    """The `count` days before `today`, oldest first."""
    return [today - timedelta(days=offset) for offset in range(count, 0, -1)]
