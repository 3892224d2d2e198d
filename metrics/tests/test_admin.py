"""Metrics admin: read-only lists with filters, and no full COUNT(*) on big PostgreSQL tables."""

from datetime import date

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from metrics import admin as metrics_admin
from metrics.collector import MetricsCollector
from metrics.models import PromptPerformanceMetrics
from metrics.services import rollup_operational_metrics, rollup_prompt_metrics
from metrics.tests.helpers import at, calls_per_day, make_version

pytestmark = pytest.mark.django_db

DAY = date(2026, 6, 10)
MODELS = ["promptperformancemetrics", "operationalmetrics", "promptperformancedaily", "operationalmetricsdaily",
          "rollupday"]


@pytest.fixture
def operator(client):
    client.force_login(User.objects.create_superuser("operator", "op@example.org", "pw"))
    return client


@pytest.fixture
def some_metrics():
    version = make_version()
    calls_per_day(version, [DAY], per_day=5)
    MetricsCollector().record_error(stage="extraction", error_type="Timeout", recorded_at=at(DAY))
    rollup_prompt_metrics(day=DAY)
    rollup_operational_metrics(day=DAY)
    return version


@pytest.mark.parametrize("model", MODELS)
def test_every_metrics_list_opens_and_offers_no_add(operator, some_metrics, model):
    response = operator.get(reverse(f"admin:metrics_{model}_changelist"))
    assert response.status_code == 200
    assert operator.get(reverse(f"admin:metrics_{model}_add")).status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        "prompt_version__id__exact={version}",
        # What DateFieldListFilter links to: aware local midnights.
        "recorded_at__gte=2026-06-10+00%3A00%3A00%2B02%3A00&recorded_at__lt=2026-06-11+00%3A00%3A00%2B02%3A00",
        "success__exact=1",
    ],
)
def test_raw_prompt_metrics_filter_by_version_and_date(operator, some_metrics, query):
    url = reverse("admin:metrics_promptperformancemetrics_changelist") + "?" + query.format(version=some_metrics.pk)
    response = operator.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 5


def test_operational_metrics_filter_by_metric_type(operator, some_metrics):
    response = operator.get(reverse("admin:metrics_operationalmetrics_changelist") + "?metric_type__exact=error_count")
    assert response.context["cl"].result_count == 1


def test_a_raw_row_opens_read_only(operator, some_metrics):
    row = PromptPerformanceMetrics.objects.first()
    response = operator.get(reverse("admin:metrics_promptperformancemetrics_change", args=[row.pk]))
    assert response.status_code == 200
    assert operator.post(reverse("admin:metrics_promptperformancemetrics_change", args=[row.pk]), {}).status_code == 403


@pytest.mark.postgres_only
def test_big_lists_on_postgresql_show_the_planner_estimate_instead_of_counting(operator, some_metrics, monkeypatch):
    monkeypatch.setattr(metrics_admin, "EXACT_COUNT_BELOW", 0)
    with CaptureQueriesContext(connection) as queries:
        response = operator.get(reverse("admin:metrics_promptperformancemetrics_changelist"))
    assert response.status_code == 200
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert any(q["sql"].startswith("EXPLAIN") for q in queries.captured_queries)
