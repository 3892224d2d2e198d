"""A task on real threads: its own thread claims the cases and writes the answers, EXPERIMENT_CONCURRENCY
answerer threads only answer them (issue 13: the database round trips are off each case's way), with at most
one claimed case waiting for a free answerer. Real threads have their own connections, so the data is
committed here (transaction=True) instead of living in the test's transaction; every other experiment test
answers in the test's thread (EXPERIMENT_CONCURRENCY 1)."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import DatabaseError

from evaluation import claims, experiment_worker, experiments
from evaluation.models import ExperimentCaseResult, ExperimentRun
from evaluation.services import evaluation_set_create, experiment_cancel, experiment_execute, experiment_start
from evaluation.tests.cases import reviewed_statements
from prompts.selectors import get_active_prompt
from prompts.tests.factories import make_version

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

THREADS = 3


@pytest.fixture
def start_runs(fake_model, settings, monkeypatch):
    """start_runs(cases, versions=1): runs of the active body extraction (and candidates) over one set of
    `cases`, queued; the test runs the first one's task itself (the queue would run it at once here)."""

    def start(cases, versions=1, **options):
        evaluation_set = evaluation_set_create(name="November", emails=reviewed_statements(cases), created_by="rita")
        monkeypatch.setattr(experiments, "enqueue_task", lambda run_id: None)
        active = get_active_prompt("extraction", "email_body")
        templates = [active] + [make_version(active, description=f"candidate {n}") for n in range(1, versions)]
        runs = [experiment_start(evaluation_set=evaluation_set, template=t, started_by="rita", **options)
                for t in templates]
        settings.EXPERIMENT_CONCURRENCY = THREADS
        fake_model.requests.clear()  # the e-mails' own processing
        return runs

    return start


def outcomes(run):
    return sorted(ExperimentCaseResult.objects.filter(run=run).values_list("outcome", flat=True))


def test_the_tasks_thread_claims_and_writes_and_the_answerers_only_answer(start_runs, fake_model, monkeypatch):
    [queued] = start_runs(10)
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
    run = experiment_execute(run_id=queued.pk)

    assert run.status == "finished" and run.summary()["scored"] == 10
    assert len(fake_model.requests) == 10  # each case answered once
    assert seen["claimed"] == seen["written"] == {threading.get_ident()}
    assert seen["answered"] and threading.get_ident() not in seen["answered"]
    # Every answerer busy plus one case waiting for the first that is free: never more claimed at once.
    assert seen["most_held"] == THREADS + 1


def test_the_answers_that_came_back_with_a_database_error_are_written_before_the_task_fails(
    start_runs, fake_model, monkeypatch
):
    """Four cases claimed at once (three answerers and one waiting). The second case's answerer fails once the
    others have answered, while the task's thread is still writing the first answer: the failure arrives in
    one batch with the other answers, which are written; only the failed case stays pending."""
    [queued] = start_runs(4)
    first_case, failing_case = ExperimentCaseResult.objects.filter(run=queued).order_by("pk")[:2]
    answered_others = threading.Semaphore(0)
    case_run, write_answer = experiment_worker._case_run, claims.write_answer

    def failing_after_the_others(result, **kwargs):
        if result.pk != failing_case.pk:
            outcome = case_run(result, **kwargs)
            answered_others.release()
            return outcome
        for _ in range(3):
            assert answered_others.acquire(timeout=10)
        time.sleep(0.05)  # their answers are in the queue
        raise DatabaseError("server closed the connection unexpectedly")

    def slow_first_write(result, **values):
        if result.pk == first_case.pk:
            time.sleep(0.5)  # the other answers and the failure come back meanwhile
        return write_answer(result, **values)

    monkeypatch.setattr(experiment_worker, "_case_run", failing_after_the_others)
    monkeypatch.setattr(claims, "write_answer", slow_first_write)
    with pytest.raises(DatabaseError, match="closed the connection"):
        experiment_execute(run_id=queued.pk)

    assert outcomes(queued) == ["pending", "scored", "scored", "scored"]
    assert ExperimentCaseResult.objects.get(pk=failing_case.pk).outcome == "pending"
    assert len(fake_model.requests) == 3  # the failed case made no call; no case was answered twice
    assert ExperimentRun.objects.get(pk=queued.pk).status == "running"  # resumed by the schedule


class WorkerStopped(BaseException):
    """Not an Exception, like django-q's TimeoutException (a SystemExit)."""


def test_an_answerer_hit_by_something_other_than_an_exception_fails_the_task_instead_of_hanging_it(
    start_runs, monkeypatch
):
    [queued] = start_runs(6)

    def stopped(result, **kwargs):
        raise WorkerStopped()

    monkeypatch.setattr(experiment_worker, "_case_run", stopped)
    with pytest.raises(WorkerStopped):
        experiment_execute(run_id=queued.pk)
    assert set(outcomes(queued)) == {"pending"}


def test_on_threads_a_task_helps_the_waiting_run_and_finishes_both_scoring_each_case_once(start_runs, fake_model):
    first, second = start_runs(7, versions=2)
    experiment_execute(run_id=first.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("finished", "finished")
    assert outcomes(first) == outcomes(second) == ["scored"] * 7
    assert len(fake_model.requests) == 14


def test_on_threads_the_budget_stops_the_run_and_skips_the_rest(start_runs, fake_model):
    [queued] = start_runs(12, max_cost_usd=Decimal("0.00000001"))
    run = experiment_execute(run_id=queued.pk)
    assert run.status == "finished" and "budget" in run.stop_reason
    summary = run.summary()
    # The cases in flight when the budget was reached finish (at most every answerer's and the waiting one).
    assert 1 <= summary["scored"] <= THREADS + 1 and summary["skipped"] == 12 - summary["scored"]
    assert len(fake_model.requests) == summary["scored"]


def test_on_threads_a_cancel_skips_the_rest_and_drops_the_answers_in_flight(start_runs, fake_model, monkeypatch):
    [queued] = start_runs(12)
    case_run, answers, cancelled = experiment_worker._case_run, [], {}

    def cancelling_after_the_third(result, **kwargs):
        outcome = case_run(result, **kwargs)
        answers.append(result.pk)
        if len(answers) == 3:
            experiment_cancel(run=queued, cancelled_by="otto")
            cancelled.update(case=result.pk, answers_by_then=len(answers))
        return outcome

    monkeypatch.setattr(experiment_worker, "_case_run", cancelling_after_the_third)
    experiment_execute(run_id=queued.pk)
    run = ExperimentRun.objects.get(pk=queued.pk)
    assert run.status == "cancelled" and "pending" not in outcomes(run)
    # The answer in flight when the cancel came is dropped; only answers given before it can have been written,
    # and no case was claimed after it.
    assert ExperimentCaseResult.objects.get(pk=cancelled["case"]).outcome == "skipped"
    assert run.summary()["scored"] <= cancelled["answers_by_then"] - 1
    assert len(fake_model.requests) <= cancelled["answers_by_then"] + THREADS + 1
