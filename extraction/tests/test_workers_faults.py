"""Injected faults against real `qcluster` processes: a cluster killed with SIGKILL in the middle of an
LLM call, a flaky LLM API answering errors, timeouts and garbage at random, PostgreSQL restarted while
e-mails are processed. After each, every e-mail ends in a final state, processed once, with its reason.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx2
import psycopg2
import pytest
from django.db import OperationalError
from django.db.models import Count
from django.utils import timezone
from django_q.exceptions import TimeoutException
from django_q.models import OrmQ, Schedule, Task
from django_q.scheduler import scheduler

from devtools import databases
from devtools.clusters import enqueueing_for
from devtools.fake_api import FakeModel, FlakyMessagesAPI, good_answer
from devtools.fake_model import is_classification
from extraction import llm, processing, services, tasks
from extraction.models import ExtractionResult, IncomingEmail
from extraction.tests.clusters import FINAL_STATUSES, TEMPLATES, all_final, ingest_copies, wait_until
from extraction.tests.conftest import raw_email
from metrics.models import PromptPerformanceMetrics

Status = IncomingEmail.Status
RECOVERY_SCHEDULE = "extraction: re-queue e-mails stranded by a killed worker"


def prompt_calls_per_email(ids):
    rows = PromptPerformanceMetrics.objects.filter(email_id__in=ids).values("email_id").annotate(n=Count("pk"))
    return {row["email_id"]: row["n"] for row in rows}


def results_per_email(ids):
    rows = ExtractionResult.objects.filter(email__in=ids).values("email").annotate(n=Count("pk"))
    return {row["email"]: row["n"] for row in rows}


# kill -9 during an LLM call ------------------------------------------------------------------

class HangOnThirdExtraction:
    """Answers normally, except the third body extraction, which hangs until released."""

    def __init__(self):
        self.extractions = 0
        self.lock = threading.Lock()
        self.hanging = threading.Event()
        self.release = threading.Event()

    def __call__(self, payload):
        if not is_classification(payload):
            with self.lock:
                self.extractions += 1
                hang = self.extractions == 3
            if hang:
                self.hanging.set()
                self.release.wait(timeout=120)
        return good_answer(payload)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("broker", ["orm", "redis"])
def test_a_cluster_killed_during_an_llm_call_and_restarted_processes_every_email_exactly_once(
    broker, fake_api_server, worker_env, start_cluster
):
    answer = fake_api_server.answer = HangOnThirdExtraction()
    # One worker, so exactly one e-mail is in flight when the cluster dies; short timeout and retry
    # so the killed task is due again within seconds.
    env = worker_env(f"kill-{broker}", broker=broker, Q_WORKERS=1, Q_TIMEOUT=3, Q_RETRY=5)
    with enqueueing_for(env):
        ids = ingest_copies(12, prefix=f"kill-{broker}")
    first = start_cluster(env, "first")
    wait_until(answer.hanging.is_set, timeout=60, what="the hanging LLM call", clusters=[first])
    first.kill()
    answer.release.set()
    killed = IncomingEmail.objects.get(status=Status.PROCESSING)
    assert killed.attempts == 1 and killed.intent  # classified, extraction cut off
    second = start_cluster(env, "second")

    def settled():
        if broker == "redis":
            # The Redis broker forgot the killed task: the recovery schedule finds the e-mail.
            Schedule.objects.filter(name=RECOVERY_SCHEDULE).update(next_run=timezone.now())
            with enqueueing_for(env):
                scheduler()
        return all_final(ids)

    wait_until(settled, timeout=90, interval=1, what="every e-mail processed", clusters=[first, second])
    if broker == "orm":
        # The monitor acknowledges a task (deletes its queue row) after the task has returned, a moment after its
        # e-mail became final: the cluster keeps running until it has (a full CI run once killed it in between).
        # A task left to run again would be handed out again after Q_RETRY and show as a second attempt below.
        wait_until(lambda: not OrmQ.objects.exists(), timeout=30, what="every task acknowledged", clusters=[second])
    second.kill()

    emails = IncomingEmail.objects.filter(pk__in=ids)
    assert set(emails.values_list("status", flat=True)) == {Status.EXTRACTED}
    assert set(results_per_email(ids).values()) == {2}  # body + merged: one result set each
    attempts = dict(emails.values_list("pk", "attempts"))
    assert attempts.pop(killed.pk) == 2 and set(attempts.values()) == {1}
    # The killed run's classification was a real, paid call: it stays counted, the rerun adds its own.
    calls = prompt_calls_per_email(ids)
    assert calls.pop(killed.pk) == 3 and set(calls.values()) == {2}
    if broker == "orm":
        assert not OrmQ.objects.exists()  # every task acknowledged, none left to run again


# A flaky LLM API -------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_flaky_llm_api_leaves_every_email_in_a_final_state_with_its_reason_and_retries_bounded(
    fake_api_server, worker_env, start_cluster
):
    emails, max_retries = 500, 2
    api = fake_api_server.answer = FlakyMessagesAPI(fault_rate=0.45, seed=20261125, timeout_delay=0.6)
    env = worker_env("flaky", Q_WORKERS=3, ANTHROPIC_TIMEOUT_SECONDS=0.3, ANTHROPIC_MAX_RETRIES=max_retries)
    with enqueueing_for(env):
        ids = ingest_copies(400, prefix="flaky-plain")
        ids += ingest_copies(emails - 400, template="statement_with_pdf.eml", prefix="flaky-pdf")
    started = time.monotonic()
    cluster = start_cluster(env, "cluster")
    # 33-55 s on a quiet 2-core machine; the bound leaves room for a machine shared with other test runs.
    wait_until(lambda: all_final(ids), timeout=600, interval=1, what="every e-mail final", clusters=[cluster])
    elapsed = time.monotonic() - started
    cluster.kill()

    rows = IncomingEmail.objects.filter(pk__in=ids)
    by_status = Counter(rows.values_list("status", flat=True))
    assert set(by_status) <= set(FINAL_STATUSES) and sum(by_status.values()) == emails
    # Every e-mail that is not plainly done says why.
    assert not rows.filter(status=Status.FAILED, error="").exists()
    assert not rows.filter(status=Status.MANUAL_REVIEW, review_reason="").exists()
    assert by_status[Status.FAILED] and by_status[Status.MANUAL_REVIEW] and by_status[Status.EXTRACTED]
    # No crash: no task failed, none ran twice, and each e-mail has at most one result set.
    assert not Task.objects.filter(func="extraction.tasks.process_email", success=False).exists()
    assert set(rows.values_list("attempts", flat=True)) == {1}
    assert max(results_per_email(ids).values()) <= 3
    # Bounded retries: at most 1 + ANTHROPIC_MAX_RETRIES requests per LLM call, 2 or 3 calls per e-mail.
    assert len(fake_api_server.requests) <= (400 * 2 + (emails - 400) * 3) * (1 + max_retries)
    reasons = Counter(error.split(":")[1].strip().split(" (")[0] for error in rows.filter(status=Status.FAILED)
                      .values_list("error", flat=True))
    print(f"\nflaky API: {emails} e-mails in {elapsed:.1f} s, {len(fake_api_server.requests)} requests, "
          f"served {dict(api.served)}, final {dict(by_status)}, failures {dict(reasons)}")


# PostgreSQL restarted during processing ----------------------------------------------------------

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrowAwayPostgres:
    """A PostgreSQL instance of our own in a temporary directory (the shared server is never touched)."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="pg-restart-test-"))
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/restart_test"

    def _pg(self, *args, check=True):
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=60)

    def _ctl(self, action, *args):
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        return self._pg("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-o", options,
                        "-w", action, *args)

    def start(self):
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._pg("initdb", "-D", str(self.dir / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self._ctl("start")
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        conn.autocommit = True
        try:
            conn.cursor().execute("CREATE DATABASE restart_test")
        finally:
            conn.close()

    def restart(self, down_seconds):
        """A fast shutdown (every connection is cut), some time down, then up again."""
        self._ctl("stop", "-m", "fast")
        time.sleep(down_seconds)
        self._ctl("start")

    def remove(self):
        if (self.dir / "data" / "postmaster.pid").exists():
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql):
        return self.execute(sql, fetch=True)

    def execute(self, sql, *, fetch=False):
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="restart_test")
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall() if fetch else None
        finally:
            conn.close()


@pytest.fixture
def postgres_server():
    """A started PostgreSQL instance of our own (database restart_test), removed after the test."""
    postgres = ThrowAwayPostgres()
    try:
        postgres.start()
        yield postgres
    finally:
        postgres.remove()


@pytest.mark.slow
@pytest.mark.postgres_only
@pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason=f"no PostgreSQL server binaries in {PG_BIN} (PG_BIN)")
def test_workers_recover_by_themselves_when_postgresql_restarts_during_processing(
    postgres_server, fake_api_server, worker_env, start_cluster, tmp_path, settings
):
    emails = 80
    fake_api_server.answer = FakeModel(latency_ms=50)  # so processing spans the restart
    postgres = postgres_server
    env = worker_env("pg-restart", database_url=postgres.url, Q_TIMEOUT=5, Q_RETRY=8)
    databases.migrate(postgres.url)
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    template = (TEMPLATES / "acceptance_utf8_qp.eml").read_bytes()
    for n in range(emails):
        (mail_dir / f"{n}.eml").write_bytes(template.replace(b"Message-ID: <", b"Message-ID: <restart-%d-" % n))
    subprocess.run([sys.executable, "manage.py", "ingest_emails", str(mail_dir)], env=env, cwd=settings.BASE_DIR,
                   check=True, timeout=120, capture_output=True)
    done = "SELECT count(*) FROM extraction_incomingemail WHERE status IN ('extracted', 'manual_review', " \
           "'classified', 'failed')"
    cluster = start_cluster(env, "cluster")
    wait_until(lambda: postgres.query(done)[0][0] >= 10, timeout=60, what="first e-mails", clusters=[cluster])
    postgres.restart(down_seconds=3)

    def all_done():
        # A run cut off by the restart is handed out again by the broker, or (if its failed task
        # was acknowledged) re-queued by the recovery schedule, here made due at every poll.
        postgres.execute(f"UPDATE django_q_schedule SET next_run = now() WHERE name = '{RECOVERY_SCHEDULE}'")
        return postgres.query(done)[0][0] == emails

    wait_until(all_done, timeout=150, interval=1, what="every e-mail processed after the restart", clusters=[cluster])
    assert cluster.process.poll() is None, "the cluster died with the database"
    statuses = dict(postgres.query("SELECT status, count(*) FROM extraction_incomingemail GROUP BY status"))
    results = postgres.query(
        "SELECT count(*), count(DISTINCT email_id) FROM extraction_extractionresult WHERE source = 'merged'"
    )[0]
    attempts_rows = postgres.query("SELECT attempts FROM extraction_incomingemail")
    log = cluster.log()
    cluster.kill()
    assert statuses == {"extracted": emails}, statuses
    assert results == (emails, emails)
    assert max(attempts for (attempts,) in attempts_rows) <= 2
    print(f"\nPostgreSQL restart: {statuses}; cluster log mentions {log.count('OperationalError')} OperationalError(s)")


# The product fixes these tests led to, one by one, in-process ------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("content_type", ["application/json", "text/html"])
def test_a_200_answer_that_is_not_a_message_fails_the_email_with_its_reason_instead_of_crashing(api, content_type):
    page = b"<html><body>502 Bad Gateway</body></html>"
    api.script.append(httpx2.Response(200, content=page, headers={"content-type": content_type}))
    email = services.ingest_message(raw_email("acceptance_utf8_qp.eml"))
    assert tasks.process_email(email.pk, client=api.client()) == Status.FAILED
    email.refresh_from_db()
    assert email.error.startswith("classify: the Anthropic API answered with a body that is not a Messages API")


@pytest.mark.django_db
def test_a_task_stopped_at_the_worker_time_limit_fails_the_email_instead_of_leaving_it_processing(api, monkeypatch):
    def too_slow(*args, **kwargs):
        raise TimeoutException("Task exceeded maximum timeout value (300 seconds)")

    monkeypatch.setattr(llm, "call_prompt", too_slow)
    email = services.ingest_message(raw_email("acceptance_utf8_qp.eml"))
    with pytest.raises(TimeoutException):
        tasks.process_email(email.pk, client=api.client())
    email.refresh_from_db()
    assert email.status == Status.FAILED and "longer than the worker's limit (Q_TIMEOUT" in email.error


@pytest.mark.django_db
def test_a_lost_database_connection_leaves_the_email_processing_to_be_picked_up_again(api, monkeypatch):
    def database_gone(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(processing, "email_record_classification", database_gone)
    email = services.ingest_message(raw_email("acceptance_utf8_qp.eml"))
    with pytest.raises(OperationalError):
        tasks.process_email(email.pk, client=api.client())
    email.refresh_from_db()
    assert (email.status, email.error) == (Status.PROCESSING, "")
