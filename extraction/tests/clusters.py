"""Helpers for the multi-process tests (their fixtures are in conftest.py): feed and watch real
`manage.py qcluster` processes from a test. Every wait has a deadline.
"""

import os
import re
import time
from pathlib import Path

from extraction.models import IncomingEmail

Status = IncomingEmail.Status
FINAL_STATUSES = (Status.CLASSIFIED, Status.EXTRACTED, Status.MANUAL_REVIEW, Status.FAILED)
TEMPLATES = Path(__file__).parent / "data"
REDIS_TEST_URL = os.environ.get("Q_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")


def ingest_copies(count, *, template="acceptance_utf8_qp.eml", prefix="copy"):
    """Ingest `count` copies of a test e-mail, each with its own Message-ID; returns their ids."""
    from extraction.services import ingest_message

    raw = (TEMPLATES / template).read_bytes()
    return [
        ingest_message(re.sub(rb"Message-ID: <[^>]*>", b"Message-ID: <%s-%d@test>" % (prefix.encode(), n), raw)).pk
        for n in range(count)
    ]


def wait_until(predicate, *, timeout, interval=0.25, what="the condition", clusters=()):
    """Poll `predicate` until it returns a truthy value; fail with the clusters' log tails on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {c.log_path.name}\n{c.log()[-3000:]}" for c in clusters)
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tails}")
        time.sleep(interval)


def all_final(ids):
    """True when every e-mail of `ids` is in a final status."""
    return not IncomingEmail.objects.filter(pk__in=ids).exclude(status__in=FINAL_STATUSES).exists()


def unique_name(label):
    """A cluster name of this test process: its queue and stats keys are its own, even when parallel
    test processes (pytest -n) or other runs share the Redis database."""
    return f"{label}-{os.getpid()}"


def flush_redis(name, url=REDIS_TEST_URL):
    """Delete the Redis keys (queue, stats) of the clusters called `name`, and nothing else."""
    import redis

    client = redis.from_url(url)
    assert client.connection_pool.connection_kwargs.get("db", 0) != 0, "tests never touch Redis database 0"
    for key in client.scan_iter(match=f"django_q:{name}:*"):
        client.delete(key)
