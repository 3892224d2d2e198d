"""process_email against a zero-latency fake Messages API on 127.0.0.1: the pipeline's own overhead.

Target (extraction issue): ≤ 20 ms median per e-mail for classification + body extraction,
metrics rows included, on a throw-away SQLite file. The real anthropic client makes real HTTP
requests (ANTHROPIC_BASE_URL), so SDK request building and response parsing are in the figure.
"""

import re
import statistics
import time

from bench.bench_extraction_ingest import TEMPLATES

DATABASES = ("sqlite",)
EMAILS = 300
WARMUP = 20


def main():
    import logging

    from django.test import override_settings

    from devtools.fake_api import FakeAnthropicServer, FakeModel
    from extraction import llm, tasks
    from extraction.models import ExtractionResult, IncomingEmail
    from extraction.services import ingest_message
    from metrics.models import OperationalMetrics, PromptPerformanceMetrics

    # One INFO line per queued task and per HTTP request would drown the figures.
    for name in ("django-q", "httpx2"):
        logging.getLogger(name).setLevel(logging.WARNING)
    template = (TEMPLATES / "acceptance_utf8_qp.eml").read_bytes()
    # The copies share one text: the fake reads it once, so its own work stays out of the figure.
    with FakeAnthropicServer(FakeModel(remember=True)) as server:
        with override_settings(ANTHROPIC_API_KEY="bench-key", ANTHROPIC_BASE_URL=server.url):
            ids = [
                ingest_message(re.sub(rb"Message-ID: <[^>]*>", b"Message-ID: <pipe-%d@bench>" % n, template)).pk
                for n in range(EMAILS + WARMUP)
            ]
            samples = []
            for number, email_id in enumerate(ids):
                started = time.perf_counter()
                status = tasks.process_email(email_id)
                if number >= WARMUP:
                    samples.append(time.perf_counter() - started)
                assert status == IncomingEmail.Status.EXTRACTED, status
            # The HTTP round trips alone (same client, same server), to show what the rest costs.
            client = llm.get_client()
            request = {"model": "claude-haiku-4-5", "max_tokens": 100,
                       "messages": [{"role": "user", "content": [{"type": "text", "text": "Klassifiziere"}]}]}
            http = []
            for _ in range(EMAILS):
                started = time.perf_counter()
                client.messages.create(**request)
                http.append(time.perf_counter() - started)
        calls = PromptPerformanceMetrics.objects.count()
        operational = OperationalMetrics.objects.count()
        results = ExtractionResult.objects.count()
    median = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20)[18]
    print(f"   e-mails processed:   {len(ids)} ({WARMUP} warm-up), {len(server.requests) - EMAILS} API calls, "
          f"{results} results, {calls} prompt-call and {operational} operational metric rows")
    print(f"   per e-mail:          median {median * 1000:6.2f} ms, p95 {p95 * 1000:6.2f} ms "
          f"(classification + body extraction, SQLite file)")
    print(f"   of which HTTP:       ~{2 * statistics.median(http) * 1000:6.2f} ms (2 × SDK round trip to 127.0.0.1)")
    print(f"   target: median ≤ 20 ms {'OK' if median <= 0.020 else 'MISSED'}")
