"""`manage.py loaddata demo` on a freshly migrated database, and the generator that writes the fixture."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from dashboard import demo
from extraction.models import ExtractionResult, IncomingEmail
from metrics.models import OperationalMetricsDaily, PromptPerformanceDaily, PromptPerformanceMetrics
from metrics.services import rollup_prompt_metrics
from prompts.models import PromptActivation, PromptTemplate
from prompts.tests.factories import login

pytestmark = pytest.mark.django_db

FIXTURE = settings.BASE_DIR / "fixtures" / "demo.json"
CONTENT = [field for field in PromptTemplate.IMMUTABLE_FIELDS if field not in ("description",)] + ["variables"]


def test_the_fixture_file_is_what_the_generator_writes(tmp_path):
    call_command("build_demo_fixture", output=str(tmp_path / "demo.json"), stdout=StringIO())
    assert json.loads((tmp_path / "demo.json").read_text()) == json.loads(FIXTURE.read_text())


def test_the_demo_loads_beside_the_seeded_prompts_and_makes_v2_active(db):
    seeded_v1 = PromptTemplate.objects.filter(task_type="classification", name="email_intent", version=1)
    before = seeded_v1.values(*CONTENT).get()
    call_command("loaddata", "demo", verbosity=0)
    versions = {t.version: t for t in PromptTemplate.objects.filter(task_type="classification", name="email_intent")}
    assert (versions[1].is_active, versions[2].is_active) == (False, True)
    assert seeded_v1.values(*CONTENT).get() == before  # the seeded content is untouched
    assert versions[2].variables == ["subject", "truncated_body"]
    versions[2].render({"subject": "Forderung", "truncated_body": "Text"})  # a usable prompt
    assert PromptTemplate.objects.filter(is_active=True).count() == 4
    activation = PromptActivation.objects.get(to_version=versions[2])
    assert (activation.from_version, activation.activated_by, activation.kind) == (versions[1], "erika", "activate")


def test_the_demo_has_german_emails_in_every_interesting_status_with_results(db):
    call_command("loaddata", "demo", verbosity=0)
    statuses = set(IncomingEmail.objects.values_list("status", flat=True))
    assert {"extracted", "manual_review", "failed", "classified", "queued"} <= statuses
    assert IncomingEmail.objects.filter(subject__contains="Vergleich").exists()
    result = ExtractionResult.objects.get(email__message_id=demo.message_id("forderung-inkasso-nord"))
    assert (str(result.total_claim), result.creditor_reference, result.accepts_plan) == (
        "2487.33", "IN-2024-55871", True
    )


def test_the_demo_has_eight_weeks_of_daily_metrics_and_raw_rows_of_its_last_day(db):
    call_command("loaddata", "demo", verbosity=0)
    days = PromptPerformanceDaily.objects.values_list("date", flat=True)
    assert (min(days), max(days)) == (demo.END - timedelta(days=demo.DAYS - 1), demo.END)
    assert OperationalMetricsDaily.objects.filter(date=demo.END).exists()
    assert PromptPerformanceMetrics.objects.exists()


def test_rolling_up_the_demo_raw_day_again_gives_the_same_daily_rows(db):
    call_command("loaddata", "demo", verbosity=0)
    fields = ("prompt_version", "call_count", "success_count", "review_count", "total_cost_usd")
    rows = PromptPerformanceDaily.objects.filter(date=demo.END).order_by("prompt_version")
    before = list(rows.values(*fields))
    rollup_prompt_metrics(day=demo.END)
    assert list(rows.values(*fields)) == before


def test_the_performance_page_shows_the_demo(client, db):
    call_command("loaddata", "demo", verbosity=0)
    operator = login(client, "erika", "prompts.view_prompttemplate")
    response = operator.get(f"/admin/performance/classification/email_intent/?days=90&end={demo.END}")
    assert response.context["has_data"] is True
    assert [m["label"] for m in response.context["chart_data"]["markers"]] == ["v2 by erika"]
    assert all(row["figures"].call_count > 0 for row in response.context["comparison"])
