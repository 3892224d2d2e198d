"""A bounded soak run: real `qcluster` processes work through a batch of e-mails against a flaky fake
Anthropic API on 127.0.0.1, then every e-mail is accounted for: processed, failed (with its reason), or
lost. Development tool behind `manage.py soak` / `bin/soak`; it never reaches the network.

Also home of `Cluster` (one qcluster process group) and `enqueueing_for` (this process feeding the
clusters' queue), which the multi-process tests use too.
"""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.test import override_settings
from django.test.utils import setup_databases, teardown_databases
from django.utils import timezone
from django_q.conf import Conf

from extraction.fake_api import FakeAnthropicServer, FlakyMessagesAPI
from extraction.models import ExtractionResult, IncomingEmail

Status = IncomingEmail.Status
FINAL_STATUSES = (Status.CLASSIFIED, Status.EXTRACTED, Status.MANUAL_REVIEW, Status.FAILED)


# Cluster processes ----------------------------------------------------------------------------

def current_database_url():
    """DATABASE_URL of the database this process uses now (e.g. a test or throw-away database)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{host}:{port}/{db['NAME']}"


def cluster_env(*, name, api_url, database_url=None, redis_url=None, **extra):
    """Environment of a cluster process on the current database against a fake API; `extra` overrides."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("Q_", "ANTHROPIC_")) and key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url or current_database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "Q_CLUSTER_NAME": name,
        "Q_WORKERS": "2",
        # A killed task is handed out again after Q_RETRY; it must stay above Q_TIMEOUT.
        "Q_TIMEOUT": "20",
        "Q_RETRY": "25",
        "ANTHROPIC_API_KEY": "test",
        "ANTHROPIC_BASE_URL": api_url,
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    })
    if redis_url:
        env["Q_REDIS_URL"] = redis_url
    env.update({key: str(value) for key, value in extra.items()})
    return env


class Cluster:
    """One `manage.py qcluster` process group, its output in a log file."""

    def __init__(self, env, log_path):
        self.env = env
        self.log_path = Path(log_path)
        self.process = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"], cwd=settings.BASE_DIR, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self

    def kill(self):
        """SIGKILL to the whole group (sentinel, workers, pusher, monitor): nothing gets to clean up."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout=15):
        """A graceful stop (SIGTERM, as systemd sends), then SIGKILL if it takes too long."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        self.kill()

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextlib.contextmanager
def running_clusters(envs, log_dir, *, graceful=False):
    """Start one cluster per environment; all are stopped (or killed) on exit, whatever happened."""
    clusters = [Cluster(env, Path(log_dir) / f"cluster-{n}.log") for n, env in enumerate(envs)]
    try:
        for cluster in clusters:
            cluster.start()
        yield clusters
    finally:
        for cluster in clusters:
            cluster.stop() if graceful else cluster.kill()


@contextlib.contextmanager
def enqueueing_for(env):
    """Make this process enqueue tasks into the queue of the clusters started with `env`.

    django-q2 reads its configuration once per process, so for the duration this process takes the
    clusters' name (also the signing salt), their broker, and sync=False.
    """
    patched = {
        "PREFIX": env["Q_CLUSTER_NAME"], "CLUSTER_NAME": env["Q_CLUSTER_NAME"], "SYNC": False,
        "REDIS": env.get("Q_REDIS_URL", {}), "ORM": None if env.get("Q_REDIS_URL") else "default",
    }
    saved = {key: getattr(Conf, key) for key in patched}
    for key, value in patched.items():
        setattr(Conf, key, value)
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(Conf, key, value)


# The soak run ---------------------------------------------------------------------------------

BODY = (
    "Sehr geehrte Damen und Herren,\n\nbezugnehmend auf Ihr Schreiben vom 03.11.2026 teilen wir mit, dass die "
    "Forderung gegen Herrn Jürgen Weiß (Aktenzeichen INK-2026-{n:07d}) derzeit 2.847,13 € beträgt "
    "(Hauptforderung 2.310,00 €, Zinsen 312,63 €, Kosten 224,50 €). Dem Vergleichsvorschlag stimmen wir zu.\n\n"
    "Mit freundlichen Grüßen\nCreditreform Inkasso Süd GmbH & Co. KG\n"
)


def soak_message(n, *, with_pdf):
    """A creditor's answer in German, every fourth with a (tiny) PDF statement attached."""
    message = EmailMessage()
    message["From"] = "Creditreform Inkasso Süd <forderungen@creditreform-sued.example>"
    message["To"] = "vergleich@schuldnerberatung.example"
    message["Subject"] = f"Ihr Vergleichsangebot – Az. INK-2026-{n:07d}"
    message["Date"] = format_datetime(timezone.now())
    message["Message-ID"] = f"<soak-{n}-{os.getpid()}@creditreform-sued.example>"
    message.set_content(BODY.format(n=n))
    if with_pdf:
        message.add_attachment(b"%PDF-1.4\n% Forderungsaufstellung\n%%EOF\n", maintype="application",
                               subtype="pdf", filename=f"Forderungsaufstellung-{n}.pdf")
    return message.as_bytes()


@dataclass
class SoakReport:
    emails: int
    clusters: int
    broker: str
    database: str
    seconds: float
    requests: int
    statuses: Counter
    failure_reasons: Counter
    lost: list
    processed_twice: list
    served: Counter = field(default_factory=Counter)

    @property
    def processed(self):
        return sum(count for status, count in self.statuses.items() if status != Status.FAILED)

    @property
    def failed(self):
        return self.statuses.get(Status.FAILED, 0)


@contextlib.contextmanager
def throwaway_database():
    """A fresh, migrated database beside the configured one (never the configured one), dropped afterwards."""
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        database = connection.settings_dict
        name = os.path.join(tmp, "soak.sqlite3") if "sqlite" in database["ENGINE"] else f"soak_{os.getpid()}"
        database["TEST"] = {**database.get("TEST", {}), "NAME": name}
        old_config = setup_databases(verbosity=0, interactive=False)
        try:
            with override_settings(MEDIA_ROOT=os.path.join(tmp, "media")):
                yield Path(tmp)
        finally:
            connection.close()
            teardown_databases(old_config, verbosity=0)


def run_soak(*, emails, clusters, fault_rate, max_seconds, redis_url=None, seed=1, progress=None):
    """Process `emails` e-mails with `clusters` qcluster processes against a flaky fake API; a SoakReport.

    Stops by itself: when every e-mail is in a final state, or after `max_seconds` (what is left then is lost).
    """
    api = FlakyMessagesAPI(fault_rate=fault_rate, seed=seed, timeout_delay=1.0)
    with throwaway_database() as tmp, FakeAnthropicServer(api) as server:
        env = cluster_env(
            name=f"soak-{os.getpid()}", api_url=server.url, redis_url=redis_url,
            ANTHROPIC_TIMEOUT_SECONDS=0.5, ANTHROPIC_MAX_RETRIES=2, LOG_LEVEL="WARNING",
        )
        if redis_url:
            _flush_queue(env)
        from extraction.services import ingest_message

        with enqueueing_for(env):
            ids = [ingest_message(soak_message(n, with_pdf=n % 4 == 0)).pk for n in range(emails)]
        started = time.monotonic()
        with running_clusters([env] * clusters, tmp, graceful=True):
            while time.monotonic() - started < max_seconds:
                waiting = IncomingEmail.objects.filter(pk__in=ids).exclude(status__in=FINAL_STATUSES).count()
                if progress:
                    progress(emails - waiting, emails)
                if not waiting:
                    break
                time.sleep(1)
        seconds = time.monotonic() - started
        if redis_url:
            _flush_queue(env)
        return _report(ids, env=env, clusters=clusters, seconds=seconds, server=server, api=api)


def _flush_queue(env):
    from django_q.brokers import get_broker

    with enqueueing_for(env):
        get_broker().delete_queue()


def _report(ids, *, env, clusters, seconds, server, api):
    rows = IncomingEmail.objects.filter(pk__in=ids)
    statuses = Counter(rows.values_list("status", flat=True))
    # "classify: Anthropic API error 529 (OverloadedError): ..." -> "classify: Anthropic API error 529"
    reasons = Counter(
        error.split(" (")[0].split(": the answer")[0][:90] for error in rows.filter(status=Status.FAILED)
        .values_list("error", flat=True)
    )
    # One result set per e-mail: body + merged (+ one per PDF); more than one run shows as attempts > 1.
    results = dict(ExtractionResult.objects.filter(email__in=ids).values_list("email").annotate(n=Count("pk")))
    processed_twice = [
        pk for pk, attempts in rows.values_list("pk", "attempts") if attempts > 1 or results.get(pk, 0) > 3
    ]
    database = connection.settings_dict["ENGINE"].rsplit(".", 1)[-1]
    return SoakReport(
        emails=len(ids), clusters=clusters, broker="redis" if env.get("Q_REDIS_URL") else "orm", database=database,
        seconds=seconds, requests=len(server.requests), statuses=statuses, failure_reasons=reasons,
        lost=list(rows.exclude(status__in=FINAL_STATUSES).values_list("pk", flat=True)),
        processed_twice=processed_twice, served=api.served,
    )
