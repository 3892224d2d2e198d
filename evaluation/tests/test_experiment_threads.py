"""A task on real threads: its own thread claims the cases and writes the answers, EXPERIMENT_CONCURRENCY
answerer threads only answer them (issue 13: the database round trips are off each case's way), with at most
one claimed case waiting for a free answerer. Real threads have their own connections, so the data is
committed here (transaction=True) instead of living in the test's transaction."""

import threading

import pytest
from django.db import DatabaseError

from evaluation import claims, experiment_worker, experiments
from evaluation.models import ExperimentCaseResult, ExperimentRun
from evaluation.services import evaluation_set_create, experiment_execute, experiment_start
from evaluation.tests.cases import reviewed_statements
from prompts.selectors import get_active_prompt

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

THREADS = 3


@pytest.fixture
def queued_run(fake_model, settings, monkeypatch):
    """A run whose task the test runs itself (committed data: the queue would run it at once)."""
    evaluation_set = evaluation_set_create(name="November", emails=reviewed_statements(10), created_by="rita")
    monkeypatch.setattr(experiments, "enqueue_task", lambda run_id: None)
    run = experiment_start(evaluation_set=evaluation_set, template=get_active_prompt("extraction", "email_body"),
                           started_by="rita")
    settings.EXPERIMENT_CONCURRENCY = THREADS
    fake_model.requests.clear()  # the e-mails' own processing
    return run


def test_the_tasks_thread_claims_and_writes_and_the_answerers_only_answer(queued_run, fake_model, monkeypatch):
    seen = {"claimed": set(), "written": set(), "answered": set(), "most_held": 0}
    held = set()
    claim_cases, write_answer, case_run = claims.claim_cases, claims.write_answer, experiment_worker._case_run

    def claiming(run, token, *, size):
        seen["claimed"].add(threading.get_ident())
        cases = claim_cases(run, token, size=size)
        held.update(result.pk for result in cases)
        seen["most_held"] = max(seen["most_held"], len(held))
        return cases

    def writing(result, **values):
        seen["written"].add(threading.get_ident())
        held.discard(result.pk)
        return write_answer(result, **values)

    def answering(result, **kwargs):
        seen["answered"].add(threading.get_ident())
        return case_run(result, **kwargs)

    monkeypatch.setattr(claims, "claim_cases", claiming)
    monkeypatch.setattr(claims, "write_answer", writing)
    monkeypatch.setattr(experiment_worker, "_case_run", answering)
    run = experiment_execute(run_id=queued_run.pk)

    assert run.status == "finished" and run.summary()["scored"] == 10
    assert len(fake_model.requests) == 10  # each case answered once
    assert seen["claimed"] == seen["written"] == {threading.get_ident()}
    assert len(seen["answered"]) == THREADS and threading.get_ident() not in seen["answered"]
    # Every answerer busy plus one case waiting for the first that is free: never more claimed at once.
    assert seen["most_held"] == THREADS + 1


def test_an_answerers_database_error_fails_the_task_and_leaves_the_unwritten_cases_pending(
    queued_run, fake_model, monkeypatch
):
    case_run, calls = experiment_worker._case_run, []

    def failing_on_the_fifth(result, **kwargs):
        calls.append(result.pk)
        if len(calls) == 5:
            raise DatabaseError("server closed the connection unexpectedly")
        return case_run(result, **kwargs)

    monkeypatch.setattr(experiment_worker, "_case_run", failing_on_the_fifth)
    with pytest.raises(DatabaseError, match="closed the connection"):
        experiment_execute(run_id=queued_run.pk)

    # Not the case's fault: nothing is scored wrongly or skipped; the rest waits for the next task (the case
    # still claimed is free again once its claim runs out).
    results = ExperimentCaseResult.objects.filter(run=queued_run)
    assert set(results.values_list("outcome", flat=True)) <= {"scored", "pending"}
    assert results.filter(outcome="pending").count() >= 1
    assert ExperimentRun.objects.get(pk=queued_run.pk).status == "running"
