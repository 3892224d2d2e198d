"""The fake Messages API over HTTP: the product's real pipeline sees each e-mail's own facts,
count_tokens answers, and the command line serves it on the port asked for."""

import json
import socket
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal

import anthropic
import pytest
from django.conf import settings

from devtools.fake_api import FakeAnthropicServer, FakeModel, FlakyMessagesAPI
from extraction.models import ExtractionResult, IncomingEmail
from extraction.services import ingest_message
from extraction.tests.conftest import raw_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    with FakeAnthropicServer() as server:
        settings.ANTHROPIC_API_KEY = "sk-ant-test-key"
        settings.ANTHROPIC_BASE_URL = server.url
        yield server


def merged_facts(name, capture_on_commit):
    with capture_on_commit(execute=True):  # the task is queued on commit and runs inline in tests
        email = ingest_message(raw_email(name))
    email.refresh_from_db()
    merged = email.results.get(source=ExtractionResult.Source.MERGED)
    return email, (merged.creditor_reference, merged.debtor_name, merged.total_claim, merged.statement_date)


def test_the_pipeline_extracts_each_emails_own_facts_through_the_fake_api(server, django_capture_on_commit_callbacks):
    statement, statement_facts = merged_facts("statement_iso8859_qp.eml", django_capture_on_commit_callbacks)
    rejection, rejection_facts = merged_facts("rejection_windows1252.eml", django_capture_on_commit_callbacks)
    with_pdf, pdf_facts = merged_facts("statement_with_pdf.eml", django_capture_on_commit_callbacks)
    assert (statement.status, statement.intent) == (IncomingEmail.Status.EXTRACTED, "debt_statement")
    assert statement_facts[:3] == ("OTTO-5531902-Ö", "Gülay Öztürk", Decimal("1493.18"))
    assert (rejection.intent, rejection_facts[:3]) == ("rejection", ("77-3310/26", "Anna Schäfer", Decimal("4512.80")))
    # The claim of this one is only in its PDF statement: the fake read the attachment.
    assert (with_pdf.status, pdf_facts[2], str(pdf_facts[3])) == ("extracted", Decimal("2219.67"), "2026-11-05")
    assert len(server.requests) == 7  # three classifications, three body extractions, one PDF


def test_usage_counts_what_the_request_holds(server):
    client = anthropic.Anthropic(api_key="test", base_url=server.url)
    short, long = (
        client.messages.create(model="claude-haiku-4-5", max_tokens=100,
                               messages=[{"role": "user", "content": f"Betreff: Forderung\nText: {body}"}])
        for body in ("Offen: 10,00 €", "Offen: 10,00 €. " * 200)
    )
    assert short.usage.input_tokens < long.usage.input_tokens
    assert short.usage.output_tokens == len(short.content[0].text) // 4


def test_count_tokens_answers_what_the_messages_call_then_reports(server):
    client = anthropic.Anthropic(api_key="test", base_url=server.url)
    request = {"model": "claude-sonnet-4-6", "system": "Du extrahierst Forderungen.",
               "messages": [{"role": "user", "content": "Absender: x\nBetreff: y\nText:\nGesamtforderung 1.234,56 €"}]}
    counted = client.messages.count_tokens(**request)
    answered = client.messages.create(max_tokens=500, **request)
    assert counted.input_tokens == answered.usage.input_tokens > 0
    assert len(server.token_counts) == 1 and len(server.requests) == 1


def test_a_malformed_degrade_marker_is_answered_with_a_400_naming_it(server):
    client = anthropic.Anthropic(api_key="test", base_url=server.url, max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="wrong-fields=lots"):
        client.messages.create(model="claude-sonnet-4-6", max_tokens=10, system="[fake-model: wrong-fields=lots]",
                               messages=[{"role": "user", "content": "Text: Hallo"}])


def test_latency_delays_every_answer():
    with FakeAnthropicServer(FakeModel(latency_ms=200)) as server:
        client = anthropic.Anthropic(api_key="test", base_url=server.url)
        started = time.monotonic()
        client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "Text: Hallo"}])
        assert time.monotonic() - started >= 0.2


def test_the_flaky_api_serves_faults_at_about_its_rate_and_otherwise_the_fake_models_answers():
    api = FlakyMessagesAPI(fault_rate=0.3, seed=3)
    payload = {"model": "m", "messages": [{"role": "user", "content": "Betreff: x\nText: Gesamtforderung 99,00 €"}]}
    replies = [api(payload) for _ in range(1000)]
    assert 250 <= 1000 - api.served["ok"] <= 350
    good = [r for r in replies if r.status == 200 and isinstance(r.body, dict) and r.body["stop_reason"] == "end_turn"
            and r.delay == 0 and r.cut_at is None and r.body["content"][0]["text"].startswith("{")]
    assert {json.loads(r.body["content"][0]["text"])["total_claim"] for r in good} == {"99,00 €"}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_command_line_serves_on_the_port_asked_for_and_prints_its_url():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.fake_api", "--port", str(port), "--latency-ms", "5"],
        cwd=settings.BASE_DIR, stdout=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/messages/count_tokens", method="POST",
            data=json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 400}]}).encode(),
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response) == {"input_tokens": 100}  # 400 characters
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_remembering_fake_reads_a_request_it_has_seen_only_once(monkeypatch):
    from devtools import fake_model

    reads = []
    monkeypatch.setattr(fake_model, "extract", lambda text: reads.append(text) or {"confidence": 0.93})
    answer = FakeModel(remember=True)
    payload = {"model": "m", "messages": [{"role": "user", "content": "Betreff: x\nText: Offen 5,00 €"}]}
    assert answer(payload) is answer(payload) and len(reads) == 1
    answer({**payload, "model": "other"})
    assert len(reads) == 2
