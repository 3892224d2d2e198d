"""Experiments on a real cluster: 200 reviewed cases × 2 versions against the fake model at 300 ms per call,
with Q_WORKERS 2 and 4 (each run is spread over EXPERIMENT_TASKS_PER_RUN = Q_WORKERS tasks, each answering
EXPERIMENT_CONCURRENCY cases at once).

Targets (issue 13): the wall time scales with the workers, and the overhead per case beyond the model's
latency is ≤ 20 ms: wall time × concurrent calls ÷ cases − 300 ms (queueing, claiming, HTTP, scoring and
writing included; the cluster's start-up is not).
"""

import time

DATABASES = ("postgresql",)
CASES = 200
LATENCY_MS = 300
THREADS = 4


def main():
    import logging

    from django.db import connection
    from django.test import override_settings
    from django_q.models import OrmQ

    from devtools import databases
    from devtools.clusters import Cluster, cluster_env, enqueueing_for
    from devtools.fake_api import FakeAnthropicServer, FakeModel
    from evaluation.models import ExperimentRun
    from evaluation.services import evaluation_set_create, experiment_start
    from evaluation.tests.cases import reviewed_statements
    from prompts.selectors import get_active_prompt
    from prompts.services import prompt_create_version

    for name in ("django-q", "httpx2"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with FakeAnthropicServer(FakeModel()) as server:
        with override_settings(ANTHROPIC_API_KEY="bench-key", ANTHROPIC_BASE_URL=server.url):
            emails = reviewed_statements(CASES)
        OrmQ.objects.all().delete()  # the ingestion's tasks: these e-mails are processed and reviewed already
        evaluation_set = evaluation_set_create(name="bench", emails=emails, created_by="bench")
        good = get_active_prompt("extraction", "email_body")
        worse = prompt_create_version(source=good, created_by="bench", description="degraded",
                                      system_prompt=good.system_prompt + "\n[fake-model: wrong-fields=0.05 seed=7]")
        server.answer = FakeModel(latency_ms=LATENCY_MS)
        url = databases.database_url(connection.settings_dict)
        walls = {}
        for workers in (2, 4):
            env = cluster_env(name=f"bench-experiments-{workers}", api_url=server.url, database_url=url,
                              Q_WORKERS=workers, EXPERIMENT_TASKS_PER_RUN=workers, EXPERIMENT_CONCURRENCY=THREADS,
                              LOG_LEVEL="WARNING")
            cluster = Cluster(env, f"/tmp/bench-experiments-{workers}.log").start()
            try:
                time.sleep(4)  # the cluster's start-up (processes, connections) is not part of the figure
                started = time.perf_counter()
                with enqueueing_for(env):
                    runs = [experiment_start(evaluation_set=evaluation_set, template=t, started_by="bench")
                            for t in (good, worse)]
                while ExperimentRun.objects.filter(pk__in=[r.pk for r in runs], status="finished").count() < 2:
                    if time.perf_counter() - started > 600:
                        raise SystemExit(f"runs not finished after 600 s; see {cluster.log_path}")
                    time.sleep(0.05)
                walls[workers] = time.perf_counter() - started
            finally:
                cluster.kill()
            calls = sum(run.summary()["scored"] for run in ExperimentRun.objects.filter(pk__in=[r.pk for r in runs]))
            slots = workers * THREADS
            overhead = walls[workers] * slots / calls - LATENCY_MS / 1000
            accuracy = [ExperimentRun.objects.get(pk=r.pk).summary()["accuracy"] for r in runs]
            print(f"   Q_WORKERS {workers}: {calls} cases in {walls[workers]:5.2f} s wall ({slots} calls at once; "
                  f"ideal {calls * LATENCY_MS / 1000 / slots:5.2f} s); overhead per case {overhead * 1000:5.1f} ms "
                  f"{'OK' if overhead <= 0.020 else 'MISSED'} (target ≤ 20 ms); accuracy good {accuracy[0]:.3f}, "
                  f"degraded {accuracy[1]:.3f}")
    speedup = walls[2] / walls[4]
    print(f"   scaling 2 → 4 workers: {speedup:.2f}× faster {'OK' if speedup >= 1.6 else 'MISSED'} (target: scales)")
