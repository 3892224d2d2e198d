"""Database-level rules of the metrics tables."""

from datetime import date

import pytest
from django.db import IntegrityError
from django.db.models import ProtectedError

from metrics.models import PromptPerformanceDaily, canonical_labels_key, parse_labels_key
from metrics.tests.helpers import at, make_version, prompt_call

pytestmark = pytest.mark.django_db


def test_deleting_a_prompt_version_that_has_metrics_is_refused():
    version = make_version()
    prompt_call(version, at(date(2026, 5, 4)))
    with pytest.raises(ProtectedError):
        version.delete()


def test_a_version_has_at_most_one_daily_row_per_day():
    version = make_version()
    fields = dict(
        prompt_version=version, date="2026-05-04", call_count=1, success_count=1, review_count=0,
        total_input_tokens=1, total_output_tokens=1, total_cost_usd="0.1", avg_execution_time_ms=1,
        p95_execution_time_ms=1,
    )
    PromptPerformanceDaily.objects.create(**fields)
    with pytest.raises(IntegrityError):
        PromptPerformanceDaily.objects.create(**fields)


@pytest.mark.parametrize("labels", [{"error_type": "KeyError", "stage": "pipeline"}, {"queue": "django_q"}, {}])
def test_a_labels_key_parses_back_into_its_labels(labels):
    assert parse_labels_key(canonical_labels_key(labels)) == labels
