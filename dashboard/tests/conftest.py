from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from metrics.days import local_day
from metrics.models import PromptPerformanceDaily
from prompts.models import PromptTemplate
from prompts.tests.factories import make_version


@pytest.fixture
def today():
    return local_day(timezone.now())


@pytest.fixture
def intent_v1(db):
    return PromptTemplate.objects.get(task_type="classification", name="email_intent", version=1)


@pytest.fixture
def intent_v2(intent_v1):
    return make_version(intent_v1, model_name="claude-sonnet-4-6")


def daily(version, day, *, calls=10, successes=9, reviews=1, cost="0.01000000", confidence=0.9, p95=1000.0):
    """A PromptPerformanceDaily row as the nightly rollup would have written it."""
    return PromptPerformanceDaily.objects.create(
        prompt_version=version, date=day, call_count=calls, success_count=successes, review_count=reviews,
        total_input_tokens=100 * calls, total_output_tokens=10 * calls, total_cost_usd=Decimal(cost),
        avg_confidence=confidence, avg_execution_time_ms=p95 / 2, p95_execution_time_ms=p95,
    )


def days_ago(today, n):
    return today - timedelta(days=n)
