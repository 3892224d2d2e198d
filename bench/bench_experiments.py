"""Experiments on a real cluster: 200 reviewed cases × 2 versions against the fake model at 300 ms per call,
with Q_WORKERS 2 and 4 (each run is spread over EXPERIMENT_TASKS_PER_RUN = Q_WORKERS tasks, each answering
EXPERIMENT_CONCURRENCY cases at once).

Targets (issue 13): the wall time scales with the workers, and the overhead per case beyond the model's
latency is ≤ 20 ms: wall time × concurrent calls ÷ cases − 300 ms (queueing, claiming, HTTP, scoring and
writing included; the cluster's start-up is not: the clock starts once every worker has run a task). The fake
model reads each request once, in an untimed warm-up run, and answers the timed runs from memory after the
latency: its own reading (tens of ms of CPU per request, in this process) would otherwise be the bottleneck
being measured.
"""

import dataclasses
import time

DATABASES = ("postgresql",)
CASES = 200
LATENCY_MS = 300
THREADS = 4


class Delayed:
    """The remembering fake model's answers, each after `latency_ms`."""

    def __init__(self, answer, latency_ms):
        self.answer, self.delay = answer, latency_ms / 1000

    def __call__(self, payload):
        return dataclasses.replace(self.answer(payload), delay=self.delay)


def run_on_cluster(env, evaluation_set, templates):
    """Start a cluster, queue a run of each template, wait until they finished; (wall seconds, runs)."""
    from devtools.clusters import Cluster, enqueueing_for
    from evaluation.models import ExperimentRun
    from evaluation.services import experiment_start

    cluster = Cluster(env, f"/tmp/{env['Q_CLUSTER_NAME']}.log").start()
    try:
        _wait_until_every_worker_answers(env)  # the cluster's start-up is not part of the figure
        started = time.perf_counter()
        with enqueueing_for(env):
            runs = [experiment_start(evaluation_set=evaluation_set, template=t, started_by="bench") for t in templates]
        while ExperimentRun.objects.filter(pk__in=[r.pk for r in runs], status="finished").count() < len(runs):
            if time.perf_counter() - started > 600:
                raise SystemExit(f"runs not finished after 600 s; see {cluster.log_path}")
            time.sleep(0.05)
        return time.perf_counter() - started, [ExperimentRun.objects.get(pk=r.pk) for r in runs]
    finally:
        cluster.kill()


def _wait_until_every_worker_answers(env):
    """Until each worker process has run a task: a fixed sleep counted the start-up when the machine was
    loaded (processes, imports, connections took longer than the sleep)."""
    from django_q.models import Task
    from django_q.tasks import async_task

    from devtools.clusters import enqueueing_for

    workers = int(env["Q_WORKERS"])
    with enqueueing_for(env):
        # Each task holds its worker a moment, so the others go to the other workers.
        ids = [async_task("time.sleep", 0.5) for _ in range(workers)]
    started = time.perf_counter()
    while Task.objects.filter(id__in=ids).count() < workers:
        if time.perf_counter() - started > 120:
            raise SystemExit("the cluster did not start within 120 s")
        time.sleep(0.05)


def main():
    import logging

    from django.db import connection
    from django.db.models import Avg
    from django.test import override_settings
    from django_q.models import OrmQ

    from devtools import databases
    from devtools.clusters import cluster_env
    from devtools.fake_api import FakeAnthropicServer, FakeModel
    from evaluation.models import ExperimentCaseResult
    from evaluation.services import evaluation_set_create
    from evaluation.tests.cases import reviewed_statements
    from prompts.selectors import get_active_prompt
    from prompts.services import prompt_create_version

    for name in ("django-q", "httpx2"):
        logging.getLogger(name).setLevel(logging.WARNING)
    remembering = FakeModel(remember=True)
    with FakeAnthropicServer(remembering) as server:
        with override_settings(ANTHROPIC_API_KEY="bench-key", ANTHROPIC_BASE_URL=server.url):
            emails = reviewed_statements(CASES)
        OrmQ.objects.all().delete()  # the ingestion's tasks: these e-mails are processed and reviewed already
        evaluation_set = evaluation_set_create(name="bench", emails=emails, created_by="bench")
        good = get_active_prompt("extraction", "email_body")
        worse = prompt_create_version(source=good, created_by="bench", description="degraded",
                                      system_prompt=good.system_prompt + "\n[fake-model: wrong-fields=0.05 seed=7]")
        url = databases.database_url(connection.settings_dict)

        def env(workers, label):
            return cluster_env(name=f"bench-experiments-{label}", api_url=server.url, database_url=url,
                               Q_WORKERS=workers, EXPERIMENT_CONCURRENCY=THREADS, LOG_LEVEL="WARNING")

        with override_settings(EXPERIMENT_TASKS_PER_RUN=4):
            run_on_cluster(env(4, "warm-up"), evaluation_set, (good, worse))  # the fake reads every request once
        server.answer = Delayed(remembering, LATENCY_MS)
        walls = {}
        for workers in (2, 4):
            with override_settings(EXPERIMENT_TASKS_PER_RUN=workers):
                walls[workers], runs = run_on_cluster(env(workers, workers), evaluation_set, (good, worse))
            calls = sum(run.summary()["scored"] for run in runs)
            slots = workers * THREADS
            overhead = walls[workers] * slots / calls - LATENCY_MS / 1000
            # The same from the first task's start to the last case (without the broker's pick-up delay).
            span = (max(r.finished_at for r in runs) - min(r.started_at for r in runs)).total_seconds()
            working = span * slots / calls - LATENCY_MS / 1000
            # Of that, the calls themselves beyond the latency (the client, HTTP, the fake server's answer, and
            # waiting for a CPU), as the client timed them; the rest is claiming, scoring, writing and idling.
            in_calls = ExperimentCaseResult.objects.filter(run__in=runs, outcome="scored").aggregate(
                mean=Avg("latency_ms"))["mean"] - LATENCY_MS
            accuracy = [run.summary()["accuracy"] for run in runs]
            print(f"   Q_WORKERS {workers}: {calls} cases in {walls[workers]:5.2f} s wall ({slots} calls at once; "
                  f"ideal {calls * LATENCY_MS / 1000 / slots:5.2f} s); overhead per case {overhead * 1000:5.1f} ms "
                  f"{'OK' if overhead <= 0.020 else 'MISSED'} (target ≤ 20 ms), {working * 1000:5.1f} ms from the "
                  f"first task's start, {in_calls:5.1f} ms of it in the calls; accuracy good {accuracy[0]:.3f}, "
                  f"degraded {accuracy[1]:.3f}")
    speedup = walls[2] / walls[4]
    print(f"   scaling 2 → 4 workers: {speedup:.2f}× faster {'OK' if speedup >= 1.6 else 'MISSED'} (target: scales)")
