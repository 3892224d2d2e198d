"""A task whose run has no case left helps the other live runs instead of idling: "compare with active" starts
two runs at once, and the second one's tasks would otherwise wait for a worker with every thread idle meanwhile.
Helping keeps every guarantee of a run's own tasks: each case scored once, budgets, cancel."""

from decimal import Decimal

import pytest

from evaluation import experiment_worker
from evaluation.models import ExperimentRun
from evaluation.services import evaluation_set_create, experiment_cancel, experiment_execute, experiment_start
from evaluation.tests.cases import reviewed_statements
from prompts.selectors import get_active_prompt
from prompts.tests.factories import make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_queued_runs(fake_model, django_capture_on_commit_callbacks):
    """Two runs over one set, queued but their tasks not yet taken by a worker."""
    evaluation_set = evaluation_set_create(name="November", emails=reviewed_statements(4), created_by="rita")
    active = get_active_prompt("extraction", "email_body")
    candidate = make_version(active, description="candidate")
    with django_capture_on_commit_callbacks(execute=False):
        first = experiment_start(evaluation_set=evaluation_set, template=active, started_by="rita")
        second = experiment_start(evaluation_set=evaluation_set, template=candidate, started_by="rita",
                                  max_cost_usd=Decimal("10"))
    fake_model.requests.clear()  # the e-mails' own processing
    return first, second


def test_the_first_runs_task_answers_the_waiting_run_too_and_finishes_both(two_queued_runs, fake_model):
    first, second = two_queued_runs
    experiment_execute(run_id=first.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("finished", "finished")
    assert first.summary()["scored"] == second.summary()["scored"] == 4
    assert len(fake_model.requests) == 8  # every case once per run: none answered twice
    assert second.started_at is not None and second.finished_at >= second.started_at
    # The second run's own task, when a worker takes it at last, finds it finished and does nothing.
    assert experiment_execute(run_id=second.pk) is None


def test_a_cancelled_run_is_not_helped(two_queued_runs, fake_model):
    first, second = two_queued_runs
    experiment_cancel(run=second, cancelled_by="otto")
    experiment_execute(run_id=first.pk)
    second.refresh_from_db()
    assert second.status == "cancelled" and set(second.results.values_list("outcome", flat=True)) == {"skipped"}
    assert len(fake_model.requests) == 4


def test_the_helped_runs_budget_still_stops_it(two_queued_runs, fake_model):
    first, second = two_queued_runs
    # Spent after its first case: its remaining cases are skipped, as its own task would.
    ExperimentRun.objects.filter(pk=second.pk).update(max_cost_usd=Decimal("0.00000001"))
    experiment_execute(run_id=first.pk)
    second.refresh_from_db()
    assert second.status == "finished" and "budget" in second.stop_reason
    assert second.summary()["scored"] < 4 and second.summary()["skipped"] == 4 - second.summary()["scored"]


def test_a_run_is_finished_when_its_last_case_is_answered_not_when_its_task_stops_helping(
    two_queued_runs, fake_model, monkeypatch
):
    first, second = two_queued_runs
    statuses_while_helping = set()
    case_run = experiment_worker._case_run

    def noting_the_first_runs_status(result, *, run, **kwargs):
        if run.pk == second.pk:
            statuses_while_helping.add(ExperimentRun.objects.get(pk=first.pk).status)
        return case_run(result, run=run, **kwargs)

    monkeypatch.setattr(experiment_worker, "_case_run", noting_the_first_runs_status)
    experiment_execute(run_id=first.pk)
    assert statuses_while_helping == {"finished"}
