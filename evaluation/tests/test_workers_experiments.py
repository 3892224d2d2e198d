"""Experiments on real `qcluster` processes: a cluster killed with SIGKILL in the middle of a run loses
nothing, and the run finishes (after the resume schedule queues it again) without scoring any case twice."""

import threading

import pytest

from devtools.clusters import enqueueing_for
from devtools.fake_api import good_answer
from evaluation.models import ExperimentRun
from evaluation.services import evaluation_set_create, experiment_start, experiments_resume_stale
from evaluation.tests.cases import reviewed_statements
from extraction.tests.clusters import wait_until
from prompts.selectors import get_active_prompt


class HangOnCall:
    """Answers like the fake model, except call number `hang_at`, which hangs until released."""

    def __init__(self, hang_at):
        self.hang_at = hang_at
        self.calls = 0
        self.lock = threading.Lock()
        self.hanging = threading.Event()
        self.release = threading.Event()

    def __call__(self, payload):
        with self.lock:
            self.calls += 1
            hang = self.calls == self.hang_at
        if hang:
            self.hanging.set()
            self.release.wait(timeout=120)
        return good_answer(payload)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_cluster_killed_mid_run_and_restarted_finishes_the_run_scoring_each_case_once(
    fake_model, worker_env, start_cluster
):
    evaluation_set = evaluation_set_create(name="Killed", emails=reviewed_statements(16), created_by="rita")
    answer = fake_model.answer = HangOnCall(hang_at=7)
    # Two cases at a time, claimed two by two; a claim (and a run's heartbeat) is stale after 3 s.
    env = worker_env("experiment-kill", Q_WORKERS=1, Q_TIMEOUT=20, Q_RETRY=25, EXPERIMENT_CONCURRENCY=2,
                     EXPERIMENT_CLAIM_SECONDS=3)
    with enqueueing_for(env):
        run = experiment_start(evaluation_set=evaluation_set, template=get_active_prompt("extraction", "email_body"),
                               started_by="rita")
    first = start_cluster(env, "first")
    wait_until(answer.hanging.is_set, timeout=60, what="the hanging call", clusters=[first])
    first.kill()
    answer.release.set()
    run.refresh_from_db()
    assert run.status == "running"
    scored_before = run.results.filter(outcome="scored").count()
    assert 4 <= scored_before < 16

    second = start_cluster(env, "second")

    def finished():
        # The schedule's job, as the scheduler would run it every minute.
        with enqueueing_for(env):
            experiments_resume_stale()
        return ExperimentRun.objects.get(pk=run.pk).status == "finished"

    wait_until(finished, timeout=90, interval=1, what="the run finished", clusters=[first, second])
    second.kill()
    run.refresh_from_db()
    summary = run.summary()
    assert (summary["cases"], summary["scored"], summary["errors"]) == (16, 16, 0)
    assert summary["accuracy"] == 1.0
    # One row per case (a database constraint), each answered once: at most the cases in flight were asked again.
    assert run.results.count() == 16
    assert 16 <= answer.calls <= 16 + 2
