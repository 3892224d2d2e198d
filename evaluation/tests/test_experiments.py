"""Experiments: a version run over a set through the production code path (extraction.answering) against the
fake model, scored by extraction.scoring; the comparison of a good and a degraded version lists exactly the
cases the degrade switch made wrong. Experiments write only their own rows."""

import hashlib
import re
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from devtools.fake_api import Reply, error_body, good_answer
from devtools.fake_model import FACT_FIELDS, Degrade, email_text
from evaluation import claims, experiments
from evaluation.errors import EvaluationError
from evaluation.models import ExperimentCaseResult, ExperimentRun
from evaluation.selectors import experiment_compare
from evaluation.services import evaluation_set_create, experiment_cancel, experiment_execute, experiment_start
from evaluation.tests.cases import reviewed_email, reviewed_statements
from extraction.models import ExtractionResult, IncomingEmail
from extraction.tests.conftest import raw_email
from metrics.models import OperationalMetrics, PromptPerformanceMetrics
from prompts.selectors import get_active_prompt
from prompts.tests.factories import make_version

pytestmark = pytest.mark.django_db

Outcome = ExperimentCaseResult.Outcome
# Each fact wrong with probability 0.1: about 60 % of the cases get some fact wrong (1 - 0.9 ** 9).
DEGRADE_FACTS = "\n[fake-model: wrong-fields=0.1 seed=7]"
DEGRADE_INTENT = "\n[fake-model: wrong-fields=0.3 seed=7]"


@pytest.fixture
def start(django_capture_on_commit_callbacks):
    """experiment_start, with the task it queues run inline at once (Q_SYNC; the test's transaction never commits)."""

    def start_now(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            run = experiment_start(started_by="rita", **kwargs)
        run.refresh_from_db()
        return run

    return start_now


def degraded(version, payloads, fields):
    """Subject numbers of the e-mails for which the degrade switch of `version` makes some field wrong
    (computed from the fake model's own rule, independently of the product's scoring)."""
    switch = Degrade.from_system_prompt(version.system_prompt)
    numbers = set()
    for payload in payloads:
        text = email_text(payload)
        key = hashlib.sha256(text.encode()).hexdigest()
        if any(switch.is_wrong(field, key) for field in fields):
            numbers.add(int(re.search(r"Forderungsaufstellung Nr\. (\d+)", text).group(1)))
    return numbers


def case_numbers(run, case_ids):
    subjects = run.evaluation_set.cases.filter(pk__in=case_ids).values_list("email__subject", flat=True)
    return {int(subject.rsplit(" ", 1)[1]) for subject in subjects}


def test_a_good_and_a_degraded_extraction_version_compare_lists_exactly_the_degraded_cases(fake_model, start):
    evaluation_set = evaluation_set_create(name="November", emails=reviewed_statements(12), created_by="rita")
    good = get_active_prompt("extraction", "email_body")
    worse = make_version(good, system_prompt=good.system_prompt + DEGRADE_FACTS)
    baseline = start(evaluation_set=evaluation_set, template=good)
    fake_model.requests.clear()
    candidate = start(evaluation_set=evaluation_set, template=worse)

    assert (baseline.status, candidate.status) == ("finished", "finished")
    assert baseline.summary()["accuracy"] == 1.0 and baseline.summary()["exact_rate"] == 1.0
    expected_worse = degraded(worse, fake_model.requests, FACT_FIELDS)
    assert 0 < len(expected_worse) < 12
    comparison = experiment_compare(baseline=baseline, candidate=candidate)
    assert case_numbers(candidate, comparison["regressions"]) == expected_worse
    assert comparison["improvements"] == []
    summary = candidate.summary()
    assert summary["scored"] == summary["cases"] == 12
    assert summary["fields_checked"] == 12 * 9
    assert summary["exact_rate"] == (12 - len(expected_worse)) / 12
    assert comparison["deltas"]["accuracy"] == summary["accuracy"] - 1.0 < 0
    assert set(comparison["fields"]) == set(FACT_FIELDS)
    assert all(field["baseline"] == 1.0 for field in comparison["fields"].values())
    # Each regression shows the expected value and both answers of the fields that changed.
    changes = next(iter(comparison["changes"].values()))
    for change in changes.values():
        assert change["baseline"] == change["expected"] != change["candidate"]


def test_a_classification_version_is_scored_on_the_intent(fake_model, start):
    evaluation_set = evaluation_set_create(name="November", emails=reviewed_statements(12), created_by="rita")
    good = get_active_prompt("classification", "email_intent")
    worse = make_version(good, system_prompt=(good.system_prompt or "") + DEGRADE_INTENT)
    baseline = start(evaluation_set=evaluation_set, template=good)
    fake_model.requests.clear()
    candidate = start(evaluation_set=evaluation_set, template=worse)
    comparison = experiment_compare(baseline=baseline, candidate=candidate)
    assert case_numbers(candidate, comparison["regressions"]) == degraded(worse, fake_model.requests, ["intent"])
    assert baseline.summary()["intent_accuracy"] == 1.0
    assert candidate.summary()["intent_accuracy"] == candidate.summary()["accuracy"] < 1.0
    assert candidate.summary()["fields_checked"] == 12
    assert list(comparison["fields"]) == ["intent"]


def test_an_experiment_writes_no_production_results_metrics_or_email_status(fake_model, start):
    emails = reviewed_statements(3)
    evaluation_set = evaluation_set_create(name="November", emails=emails, created_by="rita")
    before = (ExtractionResult.objects.count(), PromptPerformanceMetrics.objects.count(),
              OperationalMetrics.objects.count(), sorted(IncomingEmail.objects.values_list("pk", "status", "intent")))
    run = start(evaluation_set=evaluation_set, template=get_active_prompt("extraction", "email_body"))
    assert run.status == "finished" and len(fake_model.requests) > 0
    after = (ExtractionResult.objects.count(), PromptPerformanceMetrics.objects.count(),
             OperationalMetrics.objects.count(), sorted(IncomingEmail.objects.values_list("pk", "status", "intent")))
    assert after == before


def test_each_case_costs_what_the_price_table_says(fake_model, start):
    evaluation_set = evaluation_set_create(name="November", emails=reviewed_statements(2), created_by="rita")
    version = get_active_prompt("extraction", "email_body")
    run = start(evaluation_set=evaluation_set, template=version)
    calls = PromptPerformanceMetrics.objects.filter(prompt_version=version).order_by("pk")
    # The production run of the same e-mails sent the same request, so it was priced the same.
    production = sorted(call.cost_usd for call in calls)
    experiment = sorted(row.cost_usd for row in run.results.all())
    assert experiment == production and all(cost > 0 for cost in experiment)
    assert run.summary()["cost_usd"] == sum(experiment, Decimal("0"))
    assert run.summary()["p95_latency_ms"] > 0


def test_the_budget_stops_the_run_and_skips_the_remaining_cases(fake_model, start):
    emails = reviewed_statements(5)
    evaluation_set = evaluation_set_create(name="November", emails=emails, created_by="rita")
    version = get_active_prompt("extraction", "email_body")
    # What the first two cases cost: the production calls of the same e-mails sent the same requests.
    two_cases = sum(
        PromptPerformanceMetrics.objects.get(prompt_version=version, email_id=email.pk).cost_usd for email in emails[:2]
    )
    run = start(evaluation_set=evaluation_set, template=version, max_cost_usd=two_cases)
    assert run.status == "finished"
    outcomes = list(run.results.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == ["scored", "scored", "skipped", "skipped", "skipped"]
    assert "budget" in run.stop_reason and run.summary()["cost_usd"] == two_cases
    assert run.summary()["skipped"] == 3
    reasons = run.results.filter(outcome="skipped").values_list("skip_reason", flat=True)
    assert all("budget" in reason for reason in reasons)


def test_a_cancelled_run_answers_no_more_cases(fake_model, django_capture_on_commit_callbacks):
    evaluation_set = evaluation_set_create(name="November", emails=reviewed_statements(3), created_by="rita")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        run = experiment_start(evaluation_set=evaluation_set, template=get_active_prompt("extraction", "email_body"),
                               started_by="rita")
    fake_model.requests.clear()
    run = experiment_cancel(run=run, cancelled_by="otto")
    for task in queued:
        task()  # the worker gets the task after the cancel
    assert experiment_execute(run_id=run.pk) is None
    run.refresh_from_db()
    assert run.status == "cancelled" and run.stop_reason == "cancelled by otto"
    assert set(run.results.values_list("outcome", flat=True)) == {"skipped"}
    assert fake_model.requests == []
    with pytest.raises(EvaluationError, match="already ended"):
        experiment_cancel(run=run, cancelled_by="otto")


def test_a_failed_call_is_an_error_of_its_case_scored_as_an_empty_answer(fake_model, start):
    evaluation_set = evaluation_set_create(name="November", emails=reviewed_statements(2), created_by="rita")
    calls = []

    def second_call_fails(payload):
        calls.append(payload)
        if len(calls) == 2:
            return Reply(400, error_body("invalid_request_error", "fake refusal"))
        return good_answer(payload)

    fake_model.answer = second_call_fails
    run = start(evaluation_set=evaluation_set, template=get_active_prompt("extraction", "email_body"))
    failed = run.results.exclude(error="").get()
    assert "fake refusal" in failed.error and failed.outcome == "scored"
    assert failed.fields_correct < failed.fields_checked == 9
    assert run.summary()["errors"] == 1 and run.status == "finished"


def test_a_document_key_is_not_applicable_to_cases_without_such_an_attachment(fake_model, start):
    with_pdf = reviewed_email(raw_email("statement_with_pdf.eml"))
    without = reviewed_statements(1)
    evaluation_set = evaluation_set_create(name="November", emails=[with_pdf, *without], created_by="rita")
    run = start(evaluation_set=evaluation_set, template=get_active_prompt("extraction", "pdf_scanned"))
    outcomes = dict(run.results.values_list("case__email", "outcome"))
    assert outcomes == {with_pdf.pk: "scored", without[0].pk: "not_applicable"}
    assert run.summary()["not_applicable"] == 1 and run.summary()["scored"] == 1


def test_a_case_taken_over_after_its_claim_ran_out_is_written_once(
    fake_model, settings, django_capture_on_commit_callbacks
):
    evaluation_set = evaluation_set_create(name="November", emails=reviewed_statements(2), created_by="rita")
    with django_capture_on_commit_callbacks(execute=False):
        run = experiment_start(evaluation_set=evaluation_set, template=get_active_prompt("extraction", "email_body"),
                               started_by="rita")
    ExperimentRun.objects.filter(pk=run.pk).update(status="running")
    # A first worker claims the cases, then dies; its claim runs out.
    settings.EXPERIMENT_CLAIM_SECONDS = 0
    dead_claim = claims.claim_cases(run, "deadworker", size=2)
    assert len(dead_claim) == 2
    run = experiment_execute(run_id=run.pk)
    assert run.status == "finished" and run.summary()["scored"] == 2
    # The dead worker's late answer (it was only frozen) is dropped: one answer per case.
    assert not claims.write_answer(dead_claim[0], outcome=Outcome.SCORED, fields_checked=9, fields_correct=0)
    assert list(run.results.values_list("fields_correct", flat=True)) == [9, 9]
    with pytest.raises(IntegrityError), transaction.atomic():
        ExperimentCaseResult.objects.create(run=run, case=dead_claim[0].case)


def test_a_run_left_running_by_a_killed_worker_is_queued_again(
    fake_model, settings, django_capture_on_commit_callbacks
):
    evaluation_set = evaluation_set_create(name="November", emails=reviewed_statements(1), created_by="rita")
    with django_capture_on_commit_callbacks(execute=False):
        run = experiment_start(evaluation_set=evaluation_set, template=get_active_prompt("extraction", "email_body"),
                               started_by="rita")
    ExperimentRun.objects.filter(pk=run.pk).update(status="running")
    settings.EXPERIMENT_CLAIM_SECONDS = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert experiments.experiments_resume_stale() == [run.pk]
    run.refresh_from_db()
    assert run.status == "finished" and run.summary()["scored"] == 1
    assert experiments.experiments_resume_stale() == []


def test_an_experiment_needs_a_pipeline_prompt_a_set_with_cases_and_a_positive_budget(fake_model):
    evaluation_set = evaluation_set_create(name="November", emails=reviewed_statements(1), created_by="rita")
    version = get_active_prompt("extraction", "email_body")
    with pytest.raises(EvaluationError, match="more than 0"):
        experiment_start(evaluation_set=evaluation_set, template=version, started_by="rita", max_cost_usd=0)
    other = make_version(version)
    type(other).objects.filter(pk=other.pk).update(name="other_prompt")
    other.refresh_from_db()
    with pytest.raises(EvaluationError, match="not one of the pipeline's prompts"):
        experiment_start(evaluation_set=evaluation_set, template=other, started_by="rita")
    assert not ExperimentRun.objects.exists()


def test_the_estimate_is_the_versions_recorded_cost_per_call_times_the_cases(fake_model):
    evaluation_set = evaluation_set_create(name="November", emails=reviewed_statements(3), created_by="rita")
    version = get_active_prompt("extraction", "email_body")
    costs = list(PromptPerformanceMetrics.objects.filter(prompt_version=version).values_list("cost_usd", flat=True))
    estimate = experiments.experiment_estimate(evaluation_set=evaluation_set, template=version)
    assert estimate == (sum(costs) / len(costs) * 3).quantize(Decimal("0.00000001"))
    # Without a recorded call (a new version) the estimate counts tokens (evaluation/tests/test_estimates.py).
    PromptPerformanceMetrics.objects.all().delete()
    assert experiments.experiment_estimate(evaluation_set=evaluation_set, template=version) > 0


def test_a_queued_run_whose_task_was_lost_is_queued_again(fake_model, settings, django_capture_on_commit_callbacks):
    evaluation_set = evaluation_set_create(name="November", emails=reviewed_statements(1), created_by="rita")
    with django_capture_on_commit_callbacks(execute=False):
        run = experiment_start(evaluation_set=evaluation_set, template=get_active_prompt("extraction", "email_body"),
                               started_by="rita")  # its tasks are never handed to a worker
    assert experiments.experiments_resume_stale() == []  # not stale yet (EXPERIMENT_CLAIM_SECONDS)
    settings.EXPERIMENT_CLAIM_SECONDS = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert experiments.experiments_resume_stale() == [run.pk]
    run.refresh_from_db()
    assert run.status == "finished"

