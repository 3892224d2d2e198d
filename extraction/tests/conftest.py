"""Fixtures for the extraction tests: a temporary MEDIA_ROOT, the test e-mails, a fake Anthropic API,
and for the multi-process tests real qcluster processes against the fake API server.

`api` is the real `anthropic` client on an httpx2.MockTransport: the SDK's own request building,
response parsing and retries run; only the network is replaced. `fake_api_server` is the fake API
on 127.0.0.1 (devtools.fake_api) for processes that reach it over HTTP.
"""

import base64
import json
import uuid
from pathlib import Path

import anthropic
import httpx2
import pytest

from devtools import fake_api
from devtools.clusters import Cluster, cluster_env
from extraction import queueing
from extraction.tests.clusters import REDIS_TEST_URL, flush_redis, unique_name

DATA = Path(__file__).parent / "data"

BODY_ANSWER = {
    "creditor_name": "Creditreform Inkasso Süd GmbH & Co. KG",
    "creditor_reference": "INK-2026-0048815",
    "debtor_name": "Jürgen Weiß",
    "total_claim": "2.847,13 €",
    "principal": "2.310,00 €",
    "interest": "312,63 €",
    "costs": "224,50 €",
    "statement_date": None,
    "accepts_plan": True,
    "confidence": 0.93,
}
PDF_ANSWER = {
    "creditor_name": "Brandt & Kollegen Rechtsanwälte",
    "creditor_reference": "2026/118-BK",
    "debtor_name": "Thomas Becker",
    "total_claim": "2.219,67 EUR",
    "principal": "1.980,00 EUR",
    "interest": "143,27 EUR",
    "costs": "96,40 EUR",
    "statement_date": "05.11.2026",
    "accepts_plan": None,
    "confidence": 0.97,
}
IMAGE_ANSWER = {
    "creditor_name": "EOS Deutscher Inkasso-Dienst GmbH",
    "creditor_reference": "EOS-88123456",
    "debtor_name": "Klaus Meier",
    "total_claim": "1.312,40 €",
    "principal": None,
    "interest": None,
    "costs": None,
    "statement_date": "02.11.2026",
    "accepts_plan": None,
    "confidence": 0.81,
}


PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def raw_email(name):
    return (DATA / name).read_bytes()


def multipart_email(
    *attachments, subject="Forderungsaufstellung", sender="Inkasso Süd <forderung@inkasso.example>", html=None
):
    """A raw multipart message; each attachment is (Content-Disposition parameters, content type, bytes)."""
    parts = ["Content-Type: text/plain; charset=utf-8\r\n\r\nSehr geehrte Damen und Herren, siehe Anhang.\r\n"]
    if html is not None:
        parts.append(f"Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n")
    for params, content_type, data in attachments:
        encoded = base64.encodebytes(data).decode("ascii")
        parts.append(
            f"Content-Type: {content_type}\r\nContent-Disposition: attachment; {params}\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}"
        )
    body = "".join(f"--BOUNDARY\r\n{part}" for part in parts) + "--BOUNDARY--\r\n"
    headers = (
        f"From: {sender}\r\nTo: beratung@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <{uuid.uuid4()}@inkasso.example>\r\nDate: Mon, 16 Nov 2026 09:30:00 +0100\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="BOUNDARY"\r\n\r\n'
    )
    return (headers + body).encode("utf-8")


def message_body(text, *, output_tokens=85, **fields):
    """A Messages API 200 body with one text block (85 output tokens: the figure the cost tests expect)."""
    return fake_api.message_body(text, output_tokens=output_tokens, **fields)


def error_response(status, error_type, message):
    # retry-after-ms makes the SDK's retries instant instead of backing off for seconds.
    return httpx2.Response(status, headers={"retry-after-ms": "1"}, json=fake_api.error_body(error_type, message))


class FakeAnthropicAPI:
    """Answers like the Messages API: per kind of request (classify/body/pdf/image) a canned answer.

    An answer is a dict (sent as JSON text), a string (sent as is) or a callable returning an
    httpx2.Response (e.g. an error). `script` holds responses (or exceptions to raise) served
    first, in order, to any request.
    """

    def __init__(self):
        self.requests = []
        self.script = []
        self.answers = {
            "classify": {"intent": "debt_statement", "confidence": 0.95},
            "body": BODY_ANSWER,
            "pdf": PDF_ANSWER,
            "image": IMAGE_ANSWER,
        }

    def handler(self, request):
        payload = json.loads(request.content)
        self.requests.append(payload)
        if self.script:
            item = self.script.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        answer = self.answers[self.kind(payload)]
        if callable(answer):
            return answer()
        text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        return httpx2.Response(200, json=message_body(text, model=payload["model"]))

    @staticmethod
    def kind(payload):
        content = payload["messages"][0]["content"]
        if content[0]["type"] in ("document", "image"):
            return "pdf" if content[0]["type"] == "document" else "image"
        return "classify" if "Klassifiziere" in content[-1]["text"] else "body"

    def kinds(self):
        return [self.kind(p) for p in self.requests]

    def client(self, *, max_retries=2):
        return anthropic.Anthropic(
            api_key="sk-ant-test-key",
            max_retries=max_retries,
            http_client=httpx2.Client(transport=httpx2.MockTransport(self.handler)),
        )


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def api():
    return FakeAnthropicAPI()


@pytest.fixture
def queued(monkeypatch):
    """The ids of the e-mails handed to django-q2 for processing, in order (the tasks are not run)."""
    email_ids = []

    def enqueue(func, email_id):
        assert func == "extraction.tasks.process_email"
        email_ids.append(email_id)

    monkeypatch.setattr(queueing, "async_task", enqueue)
    return email_ids


@pytest.fixture
def fake_api_server():
    """The fake Messages API on 127.0.0.1, answering from each e-mail's text; set `.answer` to change that."""
    with fake_api.FakeAnthropicServer() as server:
        yield server


@pytest.fixture
def worker_env(fake_api_server):
    """Factory: the environment of clusters on the test database against `fake_api_server`.

    `worker_env(label, broker="orm"|"redis", **overrides)`; the name is unique to this test process,
    and with Redis (Q_TEST_REDIS_URL) the clusters' keys are removed before and after the test.
    """
    redis_names = []

    def make(label, *, broker="orm", **overrides):
        name = unique_name(label)
        if broker == "redis":
            flush_redis(name)
            redis_names.append(name)
        redis_url = REDIS_TEST_URL if broker == "redis" else None
        return cluster_env(name=name, api_url=fake_api_server.url, redis_url=redis_url, **overrides)

    yield make
    for name in redis_names:
        flush_redis(name)


@pytest.fixture
def start_cluster(tmp_path):
    """Factory: `start_cluster(env, label)` starts a qcluster process (log in tmp_path/<label>.log).

    Every cluster started is killed (its whole process group) when the test ends, whatever happened.
    """
    started = []

    def start(env, label):
        cluster = Cluster(env, tmp_path / f"{label}.log")
        started.append(cluster)
        return cluster.start()

    yield start
    for cluster in started:
        cluster.kill()
