"""`manage.py loaddata demo` on a freshly migrated database, and the generator that writes the fixture.

The demo is built by the product's own code (MetricsCollector, the rollups, the cleanup, the price table,
prompts.services), so these tests check that what it shows is consistent, not how it was computed.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from dashboard import demo
from extraction.models import ExtractionResult, IncomingEmail
from extraction.pricing import call_cost_usd
from extraction.selectors import prompt_versions_used
from metrics.days import local_day
from metrics.models import (
    OperationalMetrics,
    OperationalMetricsDaily,
    PromptPerformanceDaily,
    PromptPerformanceMetrics,
    RollupDay,
)
from metrics.services import rollup_operational_metrics, rollup_prompt_metrics
from prompts.models import PromptActivation, PromptTemplate
from prompts.tests.factories import login

pytestmark = pytest.mark.django_db

FIXTURE = settings.BASE_DIR / "fixtures" / "demo.json"
CONTENT = [field for field in PromptTemplate.IMMUTABLE_FIELDS if field not in ("description",)] + ["variables"]
# Which attachments an e-mail needs before a prompt may have been used on it.
NEEDS_ATTACHMENT = {("extraction", "pdf_scanned"): "application/pdf", ("extraction", "image"): "image/"}


@pytest.fixture
def loaded(db):
    call_command("loaddata", "demo", verbosity=0)


@pytest.mark.slow  # migrates and builds in a throw-away database in child processes
def test_the_fixture_file_is_what_the_generator_writes(tmp_path):
    output = tmp_path / "demo.json"
    call_command("build_demo_fixture", output=str(output), stdout=StringIO())
    assert output.read_text(encoding="utf-8") == FIXTURE.read_text(encoding="utf-8")


def test_the_generator_refuses_a_database_that_is_not_freshly_migrated(tmp_path):
    IncomingEmail.objects.create(message_id="<real@example.de>", sender="glaeubiger@example.de")
    with pytest.raises(CommandError, match="freshly migrated"):
        call_command("build_demo_fixture", in_this_database=True, output=str(tmp_path / "demo.json"))
    assert not (tmp_path / "demo.json").exists()


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


def test_each_prompt_was_seeded_once_before_any_later_activation_and_before_its_first_call(loaded):
    first_call = min(PromptPerformanceDaily.objects.values_list("date", flat=True))
    for task_type, name in PromptTemplate.objects.values_list("task_type", "name").distinct():
        history = list(PromptActivation.objects.filter(task_type=task_type, name=name).order_by("activated_at"))
        assert [a.kind for a in history if a.kind == "seed"] == ["seed"]
        assert history[0].kind == "seed"
        assert local_day(history[0].activated_at) < first_call


def test_the_demo_has_german_emails_in_every_interesting_status_with_results(loaded):
    statuses = set(IncomingEmail.objects.values_list("status", flat=True))
    assert {"extracted", "manual_review", "failed", "classified", "queued"} <= statuses
    assert IncomingEmail.objects.filter(subject__contains="Vergleich").exists()
    result = ExtractionResult.objects.get(email__message_id=demo.message_id("forderung-inkasso-nord"))
    assert (str(result.total_claim), result.creditor_reference, result.accepts_plan) == (
        "2487.33", "IN-2024-55871", True
    )


def test_no_prompt_for_attachments_is_shown_as_used_on_an_email_without_such_attachments(loaded):
    for email in IncomingEmail.objects.all():
        content_types = list(email.attachments.values_list("content_type", flat=True))
        for version in prompt_versions_used(email=email):
            needed = NEEDS_ATTACHMENT.get((version.task_type, version.name))
            assert needed is None or any(t.startswith(needed) for t in content_types), (email.subject, version)


def test_every_processed_demo_email_has_its_calls_and_metric_rows_refer_only_to_demo_emails(loaded):
    processed = IncomingEmail.objects.exclude(status=IncomingEmail.Status.QUEUED)
    assert all(PromptPerformanceMetrics.objects.filter(email_id=email.pk).exists() for email in processed)
    emails = set(IncomingEmail.objects.values_list("pk", flat=True))
    for model in (PromptPerformanceMetrics, OperationalMetrics):
        assert set(model.objects.exclude(email_id=None).values_list("email_id", flat=True)) <= emails


def test_every_call_cost_what_the_seeded_price_table_says(loaded):
    for call in PromptPerformanceMetrics.objects.select_related("prompt_version"):
        assert call.cost_usd == call_cost_usd(
            model_id=call.prompt_version.model_name, input_tokens=call.input_tokens,
            output_tokens=call.output_tokens, on=local_day(call.recorded_at),
        )


def test_the_demo_has_eight_weeks_of_rolled_up_days_and_raw_rows_of_its_last_day_only(loaded):
    days = PromptPerformanceDaily.objects.values_list("date", flat=True)
    assert (min(days), max(days)) == (demo.END - timedelta(days=demo.DAYS - 1), demo.END)
    assert OperationalMetricsDaily.objects.filter(date=demo.END).exists()
    raw_days = {local_day(at) for at in PromptPerformanceMetrics.objects.values_list("recorded_at", flat=True)}
    assert raw_days == {demo.END}
    ledger = RollupDay.objects.all()
    assert ledger.count() == 2 * demo.DAYS
    assert {entry.day for entry in ledger if entry.cleaned_at is None} == {demo.END}


def daily_rows_of_the_last_day():
    # Floats to 12 digits: the fixture is built on SQLite, and PostgreSQL's averages may differ in the last bits.
    return [
        [
            {name: float(f"{value:.12g}") if isinstance(value, float) else value
             for name, value in row.items() if name != "rolled_up_at"}
            for row in model.objects.filter(date=demo.END).order_by("pk").values()
        ]
        for model in (PromptPerformanceDaily, OperationalMetricsDaily)
    ]


def test_rolling_up_the_demo_raw_day_again_gives_the_same_daily_rows(loaded):
    before = daily_rows_of_the_last_day()
    rollup_prompt_metrics(day=demo.END)
    rollup_operational_metrics(day=demo.END)
    assert daily_rows_of_the_last_day() == before


def test_the_performance_page_shows_the_demo(client, loaded):
    operator = login(client, "erika", "prompts.view_prompttemplate")
    response = operator.get(f"/admin/performance/classification/email_intent/?days=90&end={demo.END}")
    assert response.context["has_data"] is True
    assert [m["label"] for m in response.context["chart_data"]["markers"]] == ["v2 by erika"]
    assert all(row["figures"].call_count > 0 for row in response.context["comparison"])
