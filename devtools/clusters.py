"""Real `manage.py qcluster` processes for the soak run and the multi-process tests.

A cluster runs config.settings (tasks are not run inline) on the database this process uses now
(a test or throw-away database) against a fake Anthropic API. `enqueueing_for` makes this process
feed that cluster's queue. Every cluster is a process group of its own, killed as a whole.
"""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection
from django_q.conf import Conf

from devtools import databases


def cluster_env(*, name, api_url, database_url=None, redis_url=None, **extra):
    """Environment of a cluster process on the current database against a fake API; `extra` overrides."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("Q_", "ANTHROPIC_")) and key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url or databases.database_url(connection.settings_dict),
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

    def is_up(self):
        """Whether the sentinel said the cluster runs. django-q2 logs in the product's language, German by
        default ("Q-Cluster … läuft."), English when LANGUAGE_CODE says so ("Q Cluster … running.")."""
        return any(said in self.log() for said in ("] running.", "] läuft."))


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


def flush_queue(env):
    """Empty the queue of the clusters started with `env` (their Redis queue, or the ORM broker's rows)."""
    from django_q.brokers import get_broker

    with enqueueing_for(env):
        get_broker().delete_queue()
